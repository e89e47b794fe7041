/**
 * The governance timers come from config (OCP_GOV_METER_FLUSH_MS,
 * OCP_GOV_RETENTION_INTERVAL_MS): with short values, counters reach the database and the
 * retention job runs on their own, without a test calling them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClock } from '../identity/identity.testing.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { eventually } from '../subscriptions/receiver.testing.js';
import {
  call,
  callers,
  createDataset,
  grantAccess,
  policy,
  startGovernanceNode,
  type Caller,
} from './governance.testing.js';

for (const backend of testBackends()) {
  describe(`governance timers from config (${backend})`, () => {
    const clock = new TestClock(Date.now());
    let node: TestNode;
    let c: Record<'pub' | 'consumer', Caller> & { admin: Caller };
    before(async () => {
      node = await startGovernanceNode(backend, {
        clock,
        env: { OCP_GOV_METER_FLUSH_MS: '100', OCP_GOV_RETENTION_INTERVAL_MS: '200' },
      });
      c = await callers(node, { pub: ['steward', 'publisher'], consumer: ['consumer'] });
    });
    after(() => node.close());

    it('declares the values', () => {
      assert.deepEqual(
        { ...node.platform.config.governance },
        { meterFlushMs: 100, retentionIntervalMs: 200 },
      );
    });

    it('metering counters are written every flush interval', async () => {
      const res = await call(node, c.pub, 'POST', '/ngsi-ld/v1/entityOperations/create', [
        { id: 'urn:ngsi-ld:Meter:1', type: 'Meter', reading: { type: 'Property', value: 1 } },
      ]);
      assert.equal(res.statusCode, 201, res.body);
      const ds = await createDataset(node, c.pub, {
        types: ['Meter'],
        classification: 'restricted',
        policy: policy(['research']),
      });
      const grant = await grantAccess(node, c.consumer, c.pub, ds, 'research');
      const read = await call(
        node,
        c.consumer,
        'GET',
        '/ngsi-ld/v1/entities?type=Meter',
        undefined,
        {
          'ocp-purpose': 'research',
        },
      );
      assert.equal(read.json().length, 1);
      const usage = await eventually(
        async () => {
          const { rows } = await node.platform.db.query<{ requests: string; entities: string }>(
            'SELECT requests, entities FROM gov_usage WHERE grant_id = $1',
            [grant],
          );
          return rows[0];
        },
        15_000,
        'usage row',
      );
      assert.deepEqual([Number(usage.requests), Number(usage.entities)], [1, 1]);
    });

    it('the retention job runs every retention interval', async () => {
      const res = await call(node, c.pub, 'POST', '/ngsi-ld/v1/entityOperations/upsert', [
        { id: 'urn:ngsi-ld:Bin:1', type: 'Bin', level: { type: 'Property', value: 1 } },
      ]);
      assert.equal(res.statusCode, 201, res.body);
      await createDataset(node, c.pub, {
        types: ['Bin'],
        classification: 'open',
        retentionDays: 1,
      });
      clock.advance(3 * 86_400);
      await eventually(
        async () => {
          const { rows } = await node.platform.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM ngsi_attribute_history WHERE entity_id = 'urn:ngsi-ld:Bin:1'`,
          );
          return Number(rows[0]!.n) === 0 ? true : undefined;
        },
        15_000,
        'history deleted by the retention job',
      );
    });
  });
}
