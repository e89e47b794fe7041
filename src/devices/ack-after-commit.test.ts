/**
 * A message the node has received but not committed is not acknowledged to the broker,
 * so it survives the node being killed: the node runs as a child process with a
 * persistent MQTT session on a private Mosquitto, its writes are held up by a table lock,
 * devices publish, the node is killed with SIGKILL, and a new node with the same session
 * gets every message again from the broker and writes it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import pg from 'pg';
import { ADMIN_SECRET } from '../identity/identity.testing.js';
import { createPostgresDatabase, testDatabaseUrl } from '../platform/testing/database.js';
import { freePort } from '../platform/testing/ports.js';
import { hasMosquitto, startMosquitto, waitFor } from './devices.testing.js';
import { deviceTopic } from './topics.js';

const script = new URL('./ingest-node.testing.ts', import.meta.url).pathname;

async function startChild(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      if (process.env.OCP_TEST_VERBOSE) process.stderr.write(chunk);
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(buffered);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code}: ${buffered}`)));
  });
  return { child, url };
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

const skip = !testDatabaseUrl
  ? 'needs OCP_TEST_DATABASE_URL (the killed node must keep its data)'
  : !hasMosquitto && 'mosquitto is not installed';

describe('acknowledgement after commit', { skip }, () => {
  it('loses no message the node received but had not committed when it was killed', async () => {
    const broker = await startMosquitto(await freePort());
    const database = await createPostgresDatabase();
    const session = `ocp-ack-test-${randomBytes(4).toString('hex')}`;
    const env = {
      OCP_DATABASE_URL: database.url,
      OCP_MQTT_URL: `mqtt://127.0.0.1:${broker.port}`,
      OCP_PORT: '0',
      OCP_LOG_LEVEL: 'info',
      OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
      OCP_RATE_LIMIT: 'off',
      OCP_DEVICES_MQTT_SESSION: session,
    };
    const locker = new pg.Client({ connectionString: database.url });
    const children: ChildProcess[] = [];
    const device = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 5 });
    try {
      const first = await startChild(env);
      children.push(first.child);
      const call = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(`${first.url}${path}`, init);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const token = (
        await call('/auth/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `grant_type=client_credentials&client_id=admin&client_secret=${ADMIN_SECRET}`,
        })
      ).body.access_token as string;
      const json = (body: unknown) => ({
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const org = await call('/api/v1/organisations', json({ name: 'Sensors', kind: 'company' }));
      const client = await call(
        '/api/v1/clients',
        json({ organisationId: org.body.id, name: 'sensor', roles: ['publisher'] }),
      );
      const clientId = (client.body.client as { id: string }).id;

      // Hold every entity write until the node is gone.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE ngsi_entities IN ACCESS EXCLUSIVE MODE');

      await waitFor('the device', async () => device.connected);
      const id = 'urn:ngsi-ld:Meter:ack';
      const topic = deviceTopic({ kind: 'measurements', tenant: '', clientId, entityId: id });
      for (let i = 0; i < 20; i++) {
        await device.publishAsync(topic, JSON.stringify({ type: 'Meter', n: i }), { qos: 1 });
      }
      await waitFor('the node to hold all 20', async () => {
        const metrics = await (await fetch(`${first.url}/metrics`)).text();
        const m = /^ocp_mqtt_ingest_messages_received_total (\d+)/m.exec(metrics);
        return m !== null && Number(m[1]) >= 20;
      });
      await kill(first.child, 'SIGKILL');
      await locker.query('ROLLBACK');

      const history = async () =>
        (
          await locker.query<{ n: string }>(
            'SELECT count(*) AS n FROM ngsi_attribute_history WHERE entity_id = $1',
            [id],
          )
        ).rows[0]!.n;
      assert.equal(await history(), '0', 'nothing was committed before the kill');

      const second = await startChild(env);
      children.push(second.child);
      await waitFor(
        'the broker to redeliver all 20',
        async () => (await history()) === '20',
        20_000,
      );
      const { rows } = await locker.query<{ owner_org: string }>(
        'SELECT owner_org FROM ngsi_entities WHERE id = $1',
        [id],
      );
      assert.equal(rows[0]!.owner_org, org.body.id);
    } finally {
      device.end(true);
      for (const child of children) await kill(child, 'SIGKILL');
      await locker.end().catch(() => undefined);
      await broker.stop();
      await database.drop();
    }
  });
});
