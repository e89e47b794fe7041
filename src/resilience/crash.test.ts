/**
 * Crash: `ocp start` under sustained batch upserts and ledger-recorded registrations is
 * killed with SIGKILL (no shutdown code runs) and started again on the same storage.
 * Every write acknowledged with 2xx before the kill must be there, its subscription
 * notification must be delivered (at least once, after the restart if need be), every
 * acknowledged registration must reach the ledger, and the ledger must verify and extend
 * the last checkpoint a verifier saw before the crash (RFC 9162 consistency proof).
 * Runs on an embedded PGlite data directory and, when OCP_TEST_DATABASE_URL is set, on
 * a fresh PostgreSQL database. OCP_CRASH_ROUNDS (default 1) repeats kill and restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { verifyLog } from '../ledger/verify.js';
import { createPostgresDatabase, testBackends } from '../platform/testing/database.js';
import { startReceiver } from '../subscriptions/receiver.testing.js';
import { missingViaApi, startWriteLoad } from './load.js';
import { freePort } from '../platform/testing/ports.js';
import { startChildNode, until, type ChildNode } from './servers.js';

const rounds = Number(process.env.OCP_CRASH_ROUNDS ?? 1);

/** Registers organisations one after another, remembering the acknowledged ones. */
function startRegistrations(url: string, prefix: string) {
  const acknowledged: string[] = [];
  let stopped = false;
  let n = 0;
  const running = (async () => {
    while (!stopped) {
      try {
        const response = await fetch(`${url}/api/v1/organisations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: `${prefix} department ${n++}`, kind: 'city_department' }),
          signal: AbortSignal.timeout(10_000),
        });
        if (response.status === 201)
          acknowledged.push(((await response.json()) as { id: string }).id);
        else await response.arrayBuffer();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  })();
  return {
    acknowledged,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

async function ready(url: string): Promise<boolean> {
  const response = await fetch(`${url}/ready`).catch(() => null);
  return response?.status === 200;
}

/** Every `organisation.created` entry's serialized form, for looking ids up. */
async function ledgerRegistrations(url: string): Promise<string> {
  let text = '';
  let after: number | null = null;
  for (;;) {
    const query = new URLSearchParams({ type: 'organisation.created', limit: '200' });
    if (after !== null) query.set('after', String(after));
    const response = await fetch(`${url}/ledger/entries?${query}`);
    assert.equal(response.status, 200);
    const page = (await response.json()) as { entries: unknown[]; next: number | null };
    text += JSON.stringify(page.entries);
    if (page.next === null) return text;
    after = page.next;
  }
}

for (const backend of testBackends()) {
  describe(`crash under load (${backend})`, () => {
    it('keeps every acknowledged write and a ledger consistent with the last checkpoint seen', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'ocp-crash-'));
      const database = backend === 'postgres' ? await createPostgresDatabase() : null;
      const port = await freePort();
      const vars = {
        OCP_PORT: String(port),
        OCP_MQTT_URL: 'none',
        OCP_PUBLIC_URL: 'http://ocp.crash.test',
        // Notifications go to a receiver on this machine; a short fetch timeout keeps the
        // delivery lease (2 × timeout + 30 s) a killed node leaves behind short.
        OCP_FETCH_ALLOW_PRIVATE: 'true',
        OCP_FETCH_TIMEOUT_MS: '1000',
        ...(database ? { OCP_DATABASE_URL: database.url } : { OCP_DATA_DIR: dir }),
      };
      const statePath = path.join(dir, 'verifier.json');
      const receiver = await startReceiver();
      let node: ChildNode | null = null;
      try {
        node = await startChildNode(vars);
        const url = node.url;
        // Waiting out the lease costs ~30 s, so one backend per run checks notifications:
        // PostgreSQL when it is configured (the production set-up), PGlite otherwise.
        const notifications = backend === testBackends().at(-1);
        const subscribed = await fetch(`${url}/ngsi-ld/v1/subscriptions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            type: 'Subscription',
            entities: [{ type: 'AirQualityObserved' }],
            notification: {
              attributes: ['NO2'],
              endpoint: { uri: receiver.url, accept: 'application/json' },
            },
          }),
        });
        assert.equal(subscribed.status, 201, await subscribed.text());
        if (!notifications) {
          const removed = await fetch(`${url}${subscribed.headers.get('location')}`, {
            method: 'DELETE',
          });
          assert.equal(removed.status, 204);
        }
        const notified = new Set<string>();
        const delivered = () => {
          for (const n of receiver.received)
            for (const e of n.body.data) notified.add(e.id as string);
          return [...entities].every((id) => notified.has(id));
        };
        const entities = new Set<string>();
        const organisations: string[] = [];
        let lastSeen = { size: 0, root: '' };

        for (let round = 1; round <= rounds; round++) {
          const load = startWriteLoad(url, { prefix: `crash${round}`, workers: 3, batchSize: 20 });
          const registrations = startRegistrations(url, `round ${round}`);
          // A verifier keeps checking the log while it grows; the last checkpoint it
          // verified before the crash is what the restarted node must extend.
          let verifying = true;
          let verified = 0;
          const verifier = (async () => {
            while (verifying) {
              try {
                const report = await verifyLog({ url, statePath, trustOnFirstUse: true });
                lastSeen = { size: report.size, root: report.root };
                verified++;
              } catch (error) {
                // Only a dead node may stop the verifier; anything else is a finding.
                if (verifying) throw error;
              }
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
          })();
          await load.acknowledgedMore(15);
          await until(
            'registrations and verified checkpoints',
            () => registrations.acknowledged.length >= 10 && verified >= 2 && lastSeen.size > 0,
          );
          await load.acknowledgedMore(5);

          verifying = false;
          const killed: { signal: NodeJS.Signals | null } = await node.kill('SIGKILL');
          assert.equal(killed.signal, 'SIGKILL');
          await Promise.all([load.stop(), registrations.stop(), verifier.catch(() => undefined)]);
          for (const id of load.acknowledged) entities.add(id);
          organisations.push(...registrations.acknowledged);

          node = await startChildNode(vars);
          assert.equal(node.url, url);
          await until('restarted node ready', () => ready(url));

          const missing = await missingViaApi(url, entities);
          assert.deepEqual(
            missing.slice(0, 5),
            [],
            `${missing.length} of ${entities.size} acknowledged entities lost`,
          );
          for (const id of organisations) {
            const response = await fetch(`${url}/api/v1/organisations/${id}`);
            assert.equal(response.status, 200, `organisation ${id} acknowledged before the crash`);
          }
          // Changes committed before the crash are notified, some by the restarted node
          // once the lease the killed one held runs out.
          const waited = notifications
            ? await until('a notification for every acknowledged entity', delivered, 50_000, 100)
            : null;
          // Registrations queued for the ledger in their own transaction are sequenced
          // after the restart.
          await until('every acknowledged registration in the ledger', async () => {
            const logged = await ledgerRegistrations(url);
            return organisations.every((id) => logged.includes(`"${id}"`));
          });
          const before = lastSeen;
          const report = await verifyLog({ url, statePath });
          assert.equal(report.mode, 'incremental');
          assert.deepEqual(report.previous, before, 'checked against the last checkpoint seen');
          assert.ok(report.size >= before.size);
          const full = await verifyLog({ url, statePath, full: true });
          assert.equal(full.size, report.size);
          process.stdout.write(
            `# crash (${backend}) round ${round}: ${entities.size} acknowledged entities, ` +
              `${organisations.length} registrations, ledger ${before.size} → ${report.size} verified, ` +
              (waited === null
                ? 'notifications not checked on this backend\n'
                : `all notified ${waited} ms after the restart (${receiver.received.length} notifications)\n`),
          );
          lastSeen = { size: report.size, root: report.root };
        }
      } finally {
        await receiver.close();
        await node?.kill('SIGKILL');
        await database?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
