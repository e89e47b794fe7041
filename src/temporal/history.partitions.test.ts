import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { deleteHistoryBefore, ensurePartitions, listPartitions } from './history.partitions.js';

for (const backend of testBackends()) {
  describe(`History partitions and retention (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({ backend, mqtt: 'off', env: { OCP_ANONYMOUS_ROLE: 'admin' } });
    });
    after(() => node.close());

    const insert = (tenant: string, entity: string, attr: string, at: string, n: number) =>
      node.platform.db.query(
        `INSERT INTO ngsi_attribute_history
           (tenant, entity_id, attr, instance_id, op, instance, entity_types, observed_at, created_at, modified_at)
         SELECT $1, $2, $3, 'urn:ngsi-ld:attribute:instance:' || $2 || ':' || $4 || ':' || g, 'create',
                jsonb_build_object('type', 'Property', 'value', g), ARRAY['T'], $4::timestamptz,
                $4::timestamptz, $4::timestamptz + g * interval '1 second'
           FROM generate_series(1, $5::int) AS g`,
        [tenant, entity, attr, at, n],
      );
    const where = async (sql: string, params: unknown[] = []) =>
      (
        await node.platform.db.query<{ p: string; n: number }>(
          `SELECT tableoid::regclass::text AS p, count(*)::int8 AS n FROM ngsi_attribute_history ${sql}
          GROUP BY 1 ORDER BY 1`,
          params,
        )
      ).rows;

    it('prepares the months around now at boot and catches the rest in the default partition', async () => {
      const names = (await listPartitions(node.platform.db)).map((p) => p.name);
      const now = new Date();
      const month = (offset: number) => {
        const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
        return `ngsi_attribute_history_${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
      };
      for (const offset of [-1, 0, 1, 2]) assert.ok(names.includes(month(offset)), month(offset));
      assert.equal(names.at(-1), 'ngsi_attribute_history_default');
      await insert('', 'urn:ngsi-ld:T:old', 'urn:a', '2020-01-15T00:00:00Z', 30);
      await insert('', 'urn:ngsi-ld:T:old', 'urn:b', '2020-02-15T00:00:00Z', 20);
      await insert('city', 'urn:ngsi-ld:T:x', 'urn:a', '2020-02-20T00:00:00Z', 10);
      assert.deepEqual(await where("WHERE entity_id LIKE 'urn:ngsi-ld:T:%'"), [
        { p: 'ngsi_attribute_history_default', n: 60 },
      ]);
    });

    it('moves rows out of the default partition into new monthly partitions', async () => {
      const created = await ensurePartitions(node.platform.db, new Date());
      assert.deepEqual(created, ['ngsi_attribute_history_202001', 'ngsi_attribute_history_202002']);
      assert.deepEqual(await where("WHERE entity_id LIKE 'urn:ngsi-ld:T:%'"), [
        { p: 'ngsi_attribute_history_202001', n: 30 },
        { p: 'ngsi_attribute_history_202002', n: 30 },
      ]);
      // The moved rows keep their generated numeric value (aggregations read it).
      const { rows } = await node.platform.db.query<{ s: number }>(
        `SELECT sum(num_value) AS s FROM ngsi_attribute_history WHERE entity_id = 'urn:ngsi-ld:T:old' AND attr = 'urn:a'`,
      );
      assert.equal(rows[0]!.s, (30 * 31) / 2);
      assert.deepEqual(await ensurePartitions(node.platform.db, new Date()), [], 'idempotent');
    });

    it('lets one of several concurrent maintenance runs do the work, without errors', async () => {
      await insert('', 'urn:ngsi-ld:T:race', 'urn:a', '2018-06-10T00:00:00Z', 5);
      const runs = await Promise.all([
        ensurePartitions(node.platform.db, new Date()),
        ensurePartitions(node.platform.db, new Date()),
        ensurePartitions(node.platform.db, new Date()),
      ]);
      assert.deepEqual(runs.flat(), ['ngsi_attribute_history_201806']);
      assert.deepEqual(await where("WHERE entity_id = 'urn:ngsi-ld:T:race'"), [
        { p: 'ngsi_attribute_history_201806', n: 5 },
      ]);
    });

    it('deletes by selector, then drops whole partitions older than a cutoff', async () => {
      const bySelector = await deleteHistoryBefore(
        node.platform.db,
        new Date('2020-03-01T00:00:00Z'),
        {
          tenant: 'city',
          attrs: ['urn:a'],
        },
      );
      assert.deepEqual(bySelector, { droppedPartitions: [], deletedRows: 10 });
      const whole = await deleteHistoryBefore(node.platform.db, new Date('2020-02-01T00:00:00Z'));
      assert.deepEqual(whole, {
        droppedPartitions: ['ngsi_attribute_history_201806', 'ngsi_attribute_history_202001'],
        deletedRows: 35,
      });
      assert.deepEqual(await where("WHERE entity_id LIKE 'urn:ngsi-ld:T:%'"), [
        { p: 'ngsi_attribute_history_202002', n: 20 },
      ]);
      // Cutoff inside a month: rows before it go row by row, the partition stays.
      const partial = await deleteHistoryBefore(
        node.platform.db,
        new Date('2020-02-15T00:00:10.5Z'),
      );
      assert.deepEqual(partial, { droppedPartitions: [], deletedRows: 10 });
      const names = (await listPartitions(node.platform.db)).map((p) => p.name);
      assert.ok(names.includes('ngsi_attribute_history_202002'));
      assert.ok(!names.includes('ngsi_attribute_history_202001'));
    });

    it('keeps writing through the entity service into the current month', async () => {
      const res = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          id: 'urn:ngsi-ld:T:new',
          type: 'T',
          v: { type: 'Property', value: 1 },
        }),
      });
      assert.equal(res.statusCode, 201, res.body);
      const now = new Date();
      const current = `ngsi_attribute_history_${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
      assert.deepEqual(await where("WHERE entity_id = 'urn:ngsi-ld:T:new'"), [
        { p: current, n: 1 },
      ]);
    });
  });
}
