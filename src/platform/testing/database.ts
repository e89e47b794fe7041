/**
 * Test databases: a fresh, migrated database per call. PGlite by default (started from a
 * migrated snapshot, because a cold PGlite start costs seconds); PostgreSQL as well when
 * OCP_TEST_DATABASE_URL names a server, each test in its own database, dropped after.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Database } from '../db/database.js';
import { loadMigrations, migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { openPostgres } from '../db/postgres.js';

export type Backend = 'pglite' | 'postgres';

export const testDatabaseUrl = process.env.OCP_TEST_DATABASE_URL || undefined;
export const testMqttUrl = process.env.OCP_TEST_MQTT_URL || undefined;

/** The storage backends the suite runs against in this environment. */
export function testBackends(): Backend[] {
  return testDatabaseUrl ? ['pglite', 'postgres'] : ['pglite'];
}

export interface TestDatabase {
  backend: Backend;
  db: Database;
  /** Connection URL of the PostgreSQL database, or null for PGlite. */
  url: string | null;
  close(): Promise<void>;
}

let template: Promise<Blob> | null = null;

/**
 * A migrated PGlite snapshot, shared by every test process through a file in the temp
 * directory keyed by the migrations' checksums (a cold PGlite start plus migrations
 * costs seconds; loading the snapshot a fraction of that).
 */
async function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const migrations = loadMigrations();
    const key = createHash('sha256')
      .update(migrations.map((m) => `${m.version}:${m.checksum}`).join(','))
      .digest('hex')
      .slice(0, 16);
    const file = path.join(tmpdir(), `ocp-pglite-template-${key}.tar`);
    if (existsSync(file)) return new Blob([readFileSync(file)]);
    const db = await openPglite(null);
    await migrate(db, migrations);
    const dump = await db.dump();
    await db.close();
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
    return dump;
  })();
  return template;
}

/** A new empty PostgreSQL database on the test server; returns its URL and a dropper. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!testDatabaseUrl) throw new Error('OCP_TEST_DATABASE_URL is not set');
  const name = `ocp_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: testDatabaseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function createTestDatabase(
  backend: Backend,
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  if (backend === 'pglite') {
    const db = migrated
      ? await openPglite(null, { loadDataDir: await pgliteTemplate() })
      : await openPglite(null);
    return { backend, db, url: null, close: () => db.close() };
  }
  const created = await createPostgresDatabase();
  const db = await openPostgres({ url: created.url, poolSize: 5 });
  if (migrated) await migrate(db);
  return {
    backend,
    db,
    url: created.url,
    async close() {
      await db.close();
      await created.drop();
    },
  };
}
