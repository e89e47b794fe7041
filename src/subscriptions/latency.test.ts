/**
 * Commit-to-receipt latency of notifications for a burst of changes to a few dozen
 * subscriptions, through a real HTTP receiver. Prints p50/p99 (see docs/subscriptions.md);
 * asserts that every (subscription, entity) pair is notified.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { contextFeature } from '../context/context.feature.js';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { eventually, startReceiver, type Receiver } from './receiver.testing.js';
import { subscriptionsFeature } from './subscriptions.feature.js';

const WRITERS = 10;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

for (const backend of testBackends()) {
  // PGlite runs on the node's own thread: a smaller burst keeps the file quick.
  const SUBSCRIPTIONS = backend === 'postgres' ? 40 : 20;
  const CHANGES = backend === 'postgres' ? 200 : 100;
  describe(`notification latency (${backend})`, () => {
    let node: TestNode;
    let receiver: Receiver;
    before(async () => {
      node = await startTestNode({
        backend,
        features: [contextFeature, subscriptionsFeature],
        mqtt: 'off',
        env: { OCP_ANONYMOUS_ROLE: 'admin', OCP_FETCH_ALLOW_PRIVATE: 'true' },
      });
      receiver = await startReceiver();
    });
    after(async () => {
      await node.close();
      await receiver.close();
    });

    it(`${CHANGES} changes to ${SUBSCRIPTIONS} subscriptions`, async () => {
      for (let s = 0; s < SUBSCRIPTIONS; s++) {
        const res = await node.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/subscriptions',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({
            type: 'Subscription',
            entities: [{ type: 'Sensor' }],
            notification: { format: 'keyValues', endpoint: { uri: `${receiver.url}/${s}` } },
          }),
        });
        assert.equal(res.statusCode, 201);
      }
      const committedAt = new Map<string, number>();
      let next = 0;
      const started = Date.now();
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (next < CHANGES) {
            const id = `urn:ngsi-ld:Sensor:${next++}`;
            const res = await node.app.inject({
              method: 'POST',
              url: '/ngsi-ld/v1/entityOperations/upsert',
              headers: { 'content-type': 'application/json' },
              payload: JSON.stringify([{ id, type: 'Sensor', value: 1 }]),
            });
            assert.equal(res.statusCode, 201);
            committedAt.set(id, Date.now());
          }
        }),
      );
      const writeSeconds = (Date.now() - started) / 1000;
      const expected = CHANGES * SUBSCRIPTIONS;
      // At least once: a delivery that timed out may arrive twice; count distinct pairs.
      const firstReceipt = new Map<string, number>();
      let entityNotifications = 0;
      const collect = () => {
        for (const r of receiver.received.slice(entityNotifications)) {
          for (const e of r.body.data) {
            const key = `${r.body.subscriptionId as string} ${e.id as string}`;
            if (!firstReceipt.has(key))
              firstReceipt.set(key, r.at - committedAt.get(e.id as string)!);
          }
        }
        entityNotifications = receiver.received.length;
        return firstReceipt.size >= expected ? true : undefined;
      };
      await eventually(collect, 50_000, 'every subscription notified of every change');
      const deliveredSeconds = (Date.now() - started) / 1000;
      const latencies = [...firstReceipt.values()];
      const duplicates =
        receiver.received.reduce((n, r) => n + r.body.data.length, 0) - firstReceipt.size;
      latencies.sort((a, b) => a - b);
      const line =
        `${backend}: ${CHANGES} changes (${(CHANGES / writeSeconds).toFixed(0)}/s) × ` +
        `${SUBSCRIPTIONS} subscriptions: ${receiver.received.length} notifications ` +
        `(${duplicates} repeated entity notifications), ` +
        `all ${expected} entity notifications in ${deliveredSeconds.toFixed(1)} s; ` +
        `commit-to-receipt p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, ` +
        `max ${latencies[latencies.length - 1]} ms`;
      process.stdout.write(`# ${line}\n`);
    });
  });
}
