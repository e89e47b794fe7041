import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startNode } from '../../node.js';
import { openPostgres } from '../db/postgres.js';
import {
  createPostgresDatabase,
  createTestDatabase,
  testBackends,
  testDatabaseUrl,
} from '../testing/database.js';
import { testConfig } from '../testing/node.js';
import { loadMigrations, migrate } from './migrate.js';

function migrationsIn(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ocp-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(dir, name), sql);
  return dir;
}

describe('migration files', () => {
  it('are numbered, unique and ordered', () => {
    const migrations = loadMigrations();
    assert.ok(migrations.length > 0);
    const versions = migrations.map((m) => m.version);
    assert.deepEqual(
      versions,
      [...versions].sort((a, b) => a - b),
    );
    assert.equal(new Set(versions).size, versions.length);
  });

  it('rejects badly named or duplicate files', () => {
    assert.throws(
      () => loadMigrations(migrationsIn({ 'init.sql': 'SELECT 1;' })),
      /0001_name\.sql/,
    );
    assert.throws(
      () => loadMigrations(migrationsIn({ '0001_a.sql': 'SELECT 1;', '0001_b.sql': 'SELECT 1;' })),
      /share version 1/,
    );
  });
});

for (const backend of testBackends()) {
  describe(`migrate (${backend})`, () => {
    it('applies pending migrations once and records them', async () => {
      const t = await createTestDatabase(backend, { migrated: false });
      try {
        const first = await migrate(t.db);
        assert.deepEqual(
          first.applied.map((m) => m.version),
          loadMigrations().map((m) => m.version),
        );
        const second = await migrate(t.db);
        assert.deepEqual(second.applied, []);
        const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ocp_node');
        assert.equal(rows[0]?.n, 1);
      } finally {
        await t.close();
      }
    });

    it('rolls back a failing migration completely', async () => {
      const t = await createTestDatabase(backend, { migrated: false });
      try {
        const dir = migrationsIn({
          '0001_ok.sql': 'CREATE TABLE first_table (id int);',
          '0002_broken.sql': 'CREATE TABLE second_table (id int); SELECT * FROM no_such_table;',
        });
        await assert.rejects(migrate(t.db, loadMigrations(dir)), /no_such_table/);
        const { rows } = await t.db.query(
          "SELECT table_name FROM information_schema.tables WHERE table_name IN ('first_table', 'second_table', 'ocp_schema_migrations')",
        );
        assert.deepEqual(rows, []);
      } finally {
        await t.close();
      }
    });

    it('refuses to run when a shipped migration was edited, or the database is newer', async () => {
      const t = await createTestDatabase(backend, { migrated: false });
      try {
        await migrate(
          t.db,
          loadMigrations(migrationsIn({ '0001_a.sql': 'CREATE TABLE a (id int);' })),
        );
        await assert.rejects(
          migrate(
            t.db,
            loadMigrations(migrationsIn({ '0001_a.sql': 'CREATE TABLE a (id bigint);' })),
          ),
          /changed after it was applied/,
        );
        await migrate(
          t.db,
          loadMigrations(
            migrationsIn({
              '0001_a.sql': 'CREATE TABLE a (id int);',
              '0002_b.sql': 'CREATE TABLE b (id int);',
            }),
          ),
        );
        await assert.rejects(
          migrate(t.db, loadMigrations(migrationsIn({ '0001_a.sql': 'CREATE TABLE a (id int);' }))),
          /does not know \(2\)/,
        );
      } finally {
        await t.close();
      }
    });
  });
}

describe('two nodes starting at once against one PostgreSQL', { skip: !testDatabaseUrl }, () => {
  it('apply each migration once and both become ready', async () => {
    const created = await createPostgresDatabase();
    const config = testConfig({ OCP_DATABASE_URL: created.url, OCP_MQTT_URL: 'none' });
    try {
      const nodes = await Promise.all([startNode(config), startNode(config)]);
      try {
        const applied = nodes.map((n) => n.migrations.applied.length).sort();
        assert.deepEqual(
          applied,
          [0, loadMigrations().length],
          'exactly one node applied the migrations',
        );
        for (const node of nodes) {
          const response = await fetch(`${node.url}/ready`);
          assert.equal(response.status, 200);
        }
        const check = await openPostgres({ url: created.url, poolSize: 1 });
        const { rows } = await check.query<{ version: number; n: number }>(
          'SELECT version, count(*)::int AS n FROM ocp_schema_migrations GROUP BY version',
        );
        await check.close();
        assert.equal(rows.length, loadMigrations().length);
        assert.ok(rows.every((row) => row.n === 1));
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    } finally {
      await created.drop();
    }
  });
});
