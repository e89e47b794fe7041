/**
 * Applies the numbered migrations in `migrations/` (`0001_name.sql`, …) in one
 * transaction under a transaction-scoped advisory lock, so several processes starting
 * against one PostgreSQL at the same moment apply each migration exactly once: the
 * others wait for the lock, then find nothing left to do. A shipped migration is never
 * edited; a changed checksum stops the node rather than leaving schemas to drift.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.js';

export const migrationsDir = fileURLToPath(new URL('../../../migrations/', import.meta.url));

/** Arbitrary but fixed: the advisory lock key that serialises migration runs. */
const MIGRATION_LOCK_KEY = 0x0c9_0001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir = migrationsDir): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!match) throw new Error(`migration file name must look like 0001_name.sql: ${file}`);
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return {
        version: Number(match[1]),
        name: match[2]!,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((migration, index) => {
    if (index > 0 && migrations[index - 1]!.version === migration.version) {
      throw new Error(`two migrations share version ${migration.version}`);
    }
  });
  return migrations;
}

export interface MigrationReport {
  applied: { version: number; name: string }[];
  current: number;
}

export async function migrate(
  db: Database,
  migrations = loadMigrations(),
): Promise<MigrationReport> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`
      CREATE TABLE IF NOT EXISTS ocp_schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await tx.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM ocp_schema_migrations ORDER BY version',
    );
    const known = new Map(rows.map((row) => [row.version, row]));
    for (const migration of migrations) {
      const row = known.get(migration.version);
      if (row && row.checksum !== migration.checksum) {
        throw new Error(
          `migration ${migration.version}_${migration.name} changed after it was applied; ` +
            'add a new migration instead of editing a shipped one',
        );
      }
    }
    const knownVersions = new Set(known.keys());
    const newest = migrations.at(-1)?.version ?? 0;
    const unknown = [...knownVersions].filter((version) => version > newest);
    if (unknown.length > 0) {
      throw new Error(
        `the database has migrations this version does not know (${unknown.join(', ')}); ` +
          'run a newer release of ocp',
      );
    }

    const applied: MigrationReport['applied'] = [];
    for (const migration of migrations) {
      if (knownVersions.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query(
        'INSERT INTO ocp_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [migration.version, migration.name, migration.checksum],
      );
      applied.push({ version: migration.version, name: migration.name });
    }
    return { applied, current: Math.max(newest, ...knownVersions, 0) };
  });
}
