import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadMigrations, migrate } from '../platform/db/migrate.js';
import { createTestDatabase, testBackends } from '../platform/testing/database.js';
import { ensurePartitions } from './history.partitions.js';

for (const backend of testBackends()) {
  describe(`History table upgrade (${backend})`, () => {
    it('keeps the rows of the pre-partitioning history table and their sequence', async () => {
      const test = await createTestDatabase(backend, { migrated: false });
      try {
        const all = loadMigrations();
        await migrate(
          test.db,
          all.filter((m) => m.version < 50),
        );
        await test.db.query(
          `INSERT INTO ngsi_attribute_history
             (tenant, entity_id, attr, instance_id, op, instance, entity_types, observed_at, created_at, modified_at)
           VALUES ('', 'urn:ngsi-ld:T:1', 'urn:a', 'urn:i:1', 'create', '{"type":"Property","value":7}', ARRAY['T'],
                   '2019-05-01T00:00:00Z', '2019-05-01T00:00:00Z', '2019-05-01T00:00:00Z'),
                  ('', 'urn:ngsi-ld:T:1', 'urn:a', 'urn:i:2', 'delete', NULL, ARRAY['T'],
                   NULL, '2019-05-01T00:00:00Z', '2019-05-02T00:00:00Z')`,
        );
        const report = await migrate(test.db, all);
        assert.ok(report.applied.some((m) => m.version === 50));
        const { rows } = await test.db.query<{
          seq: number;
          instance_id: string;
          num_value: number | null;
        }>('SELECT seq, instance_id, num_value FROM ngsi_attribute_history ORDER BY seq');
        assert.deepEqual(
          rows.map((r) => [r.instance_id, r.num_value]),
          [
            ['urn:i:1', 7],
            ['urn:i:2', null],
          ],
        );
        // New rows continue the old sequence.
        await test.db.query(
          `INSERT INTO ngsi_attribute_history
             (tenant, entity_id, attr, instance_id, op, instance, entity_types, created_at, modified_at)
           VALUES ('', 'urn:ngsi-ld:T:1', 'urn:a', 'urn:i:3', 'create', '{"type":"Property","value":8}', ARRAY['T'], now(), now())`,
        );
        const { rows: next } = await test.db.query<{ seq: number }>(
          `SELECT seq FROM ngsi_attribute_history WHERE instance_id = 'urn:i:3'`,
        );
        assert.ok(next[0]!.seq > rows[1]!.seq);
        // The first maintenance run gives the old month a partition of its own.
        const created = await ensurePartitions(test.db, new Date());
        assert.ok(created.includes('ngsi_attribute_history_201905'));
        const { rows: where } = await test.db.query<{ p: string }>(
          `SELECT DISTINCT tableoid::regclass::text AS p FROM ngsi_attribute_history WHERE entity_id = 'urn:ngsi-ld:T:1' AND modified_at < '2020-01-01'`,
        );
        assert.deepEqual(where, [{ p: 'ngsi_attribute_history_201905' }]);
      } finally {
        await test.close();
      }
    });
  });
}
