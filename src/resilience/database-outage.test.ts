/**
 * Database outage: a node (child process) on its own PostgreSQL, under write load, sees
 * the server crash and come back. During the outage it must answer quickly with 503
 * problem details and report itself not ready; afterwards it must recover by itself, and
 * every write it acknowledged must be stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openPostgres } from '../platform/db/postgres.js';
import { missingEntities, startWriteLoad, type WriteLoad } from './load.js';
import {
  privatePostgresUnavailable,
  startChildNode,
  startPrivatePostgres,
  until,
  type ChildNode,
  type PrivatePostgres,
} from './servers.js';

const skip = privatePostgresUnavailable();
const ok = (status: unknown) => status === 200 || status === 201 || status === 204;
const REQUEST_BOUND_MS = 10_000;

describe('database outage', { skip: skip ?? false }, () => {
  let cluster: PrivatePostgres;
  let node: ChildNode;
  let load: WriteLoad | null = null;

  before(async () => {
    cluster = await startPrivatePostgres();
    node = await startChildNode({
      OCP_DATABASE_URL: cluster.url,
      OCP_MQTT_URL: 'none',
      OCP_DATABASE_POOL_SIZE: '5',
    });
  });
  after(async () => {
    await load?.stop().catch(() => undefined);
    await node?.kill('SIGKILL').catch(() => undefined);
    cluster?.destroy();
  });

  it('answers 503 while PostgreSQL is down, recovers by itself and keeps every acknowledged write', async () => {
    load = startWriteLoad(node.url, {
      prefix: 'outage',
      workers: 4,
      batchSize: 20,
      timeoutMs: REQUEST_BOUND_MS,
    });
    await load.acknowledgedMore(10);

    // A listener of the node's own kind, to check LISTEN survives the restart too.
    const probe = await openPostgres({ url: cluster.url, poolSize: 1, onIdleError: () => {} });
    const received: string[] = [];
    await probe.listen('resilience_probe', (payload) => received.push(payload));

    const down = Date.now();
    cluster.stop('immediate');

    // Writes keep coming in and are refused with 503, not hung and not 500.
    await until(
      'five 503 answers to writes',
      () => load!.outcomes.filter((o) => o.at >= down && o.status === 503).length >= 5,
    );
    const ready = await fetch(`${node.url}/ready`, {
      signal: AbortSignal.timeout(REQUEST_BOUND_MS),
    });
    assert.equal(ready.status, 503);
    const readiness = (await ready.json()) as {
      status: string;
      checks: { database: { status: string } };
    };
    assert.equal(readiness.status, 'not ready');
    assert.equal(readiness.checks.database.status, 'down');
    const health = await fetch(`${node.url}/health`);
    assert.equal(health.status, 200, 'the process still serves liveness');
    const read = await fetch(`${node.url}/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:x`, {
      signal: AbortSignal.timeout(REQUEST_BOUND_MS),
    });
    assert.equal(read.status, 503);
    assert.equal(read.headers.get('retry-after'), '1');
    const problem = (await read.json()) as { status: number; title: string; requestId: string };
    assert.equal(problem.status, 503);
    assert.equal(problem.title, 'Service unavailable');
    assert.match(problem.requestId, /^req_/);
    // Hold the outage for a while: reconnect attempts fail, writes keep being refused.
    await until('three seconds of outage', () => Date.now() - down >= 3_000, 10_000, 100);
    const outage = Date.now() - down;

    cluster.start();
    const up = Date.now();
    const recoveredIn = await until('/ready says ready again', async () => {
      const r = await fetch(`${node.url}/ready`, { signal: AbortSignal.timeout(REQUEST_BOUND_MS) });
      return r.status === 200;
    });
    await load.acknowledgedMore(10);
    const writesBackIn = Date.now() - up;
    // LISTEN is re-established by itself (notifications sent while down are lost).
    await until('a NOTIFY after the restart reaches the listener', async () => {
      await probe.query(`SELECT pg_notify('resilience_probe', 'after')`).catch(() => undefined);
      return received.includes('after');
    });
    await probe.close();
    await load.stop();

    assert.equal(node.process.exitCode, null, 'the node never exited');
    assert.equal(node.process.signalCode, null);
    const during = load.outcomes.filter((o) => o.at >= down && o.at < up);
    const statuses = new Map<string, number>();
    for (const o of load.outcomes)
      statuses.set(String(o.status), (statuses.get(String(o.status)) ?? 0) + 1);
    const unexpected = load.outcomes.filter((o) => !ok(o.status) && o.status !== 503);
    assert.deepEqual(
      unexpected.slice(0, 3),
      [],
      `only 2xx and 503: ${JSON.stringify([...statuses])}`,
    );
    for (const o of during.filter((x) => x.status === 503)) {
      assert.match(o.contentType ?? '', /^application\/json/);
      assert.equal((o.body as { status: number }).status, 503);
    }
    const slowest = Math.max(...load.outcomes.map((o) => o.ms));
    assert.ok(slowest < REQUEST_BOUND_MS, `every request answered within ${REQUEST_BOUND_MS} ms`);

    const missing = await missingEntities(cluster.url, load.acknowledged);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged entities missing`);
    process.stdout.write(
      `# database outage: ${outage} ms down, ready again ${recoveredIn} ms after restart, ` +
        `writes back in ${writesBackIn} ms; ${load.acknowledged.size} entities acknowledged, ` +
        `slowest answer ${slowest} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`,
    );
  });
});
