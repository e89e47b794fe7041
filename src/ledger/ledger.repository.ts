/** SQL for the ledger. Every function takes the Queryable to run on (a transaction or the pool). */
import type { Queryable } from '../platform/db/database.js';

/** Arbitrary but fixed: the advisory lock that makes one sequencer run at a time. */
export const SEQUENCER_LOCK_KEY = 0x0c9_0010;

const bytes = (value: unknown): Buffer => Buffer.from(value as Uint8Array);

export async function tryLockSequencer(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_xact_lock($1) AS locked',
    [SEQUENCER_LOCK_KEY],
  );
  return rows[0]!.locked;
}

/** Waits for the sequencer lock (key rotation must not race a signature). */
export async function lockSequencer(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [SEQUENCER_LOCK_KEY]);
}

export interface QueuedEvent {
  id: number;
  event: unknown;
  recordedAt: Date;
}

export async function readQueue(tx: Queryable, limit: number): Promise<QueuedEvent[]> {
  const { rows } = await tx.query<{ id: number; event: unknown; recorded_at: Date }>(
    'SELECT id, event, recorded_at FROM ledger_queue ORDER BY id LIMIT $1',
    [limit],
  );
  return rows.map((row) => ({ id: row.id, event: row.event, recordedAt: row.recorded_at }));
}

export async function deleteQueued(tx: Queryable, ids: readonly number[]): Promise<void> {
  await tx.query('DELETE FROM ledger_queue WHERE id = ANY($1::bigint[])', [ids]);
}

export async function queueLength(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM ledger_queue');
  return rows[0]!.n;
}

export interface EntryRow {
  index: number;
  entry: Buffer;
  type: string;
  recordedAt: Date;
  organisationId: string | null;
  subjectKind: string;
  subjectId: string;
  datasetId: string | null;
  grantId: string | null;
}

/** Inserts a batch of entries with one statement. */
export async function insertEntries(tx: Queryable, rows: readonly EntryRow[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof EntryRow>(key: K) => rows.map((row) => row[key]);
  await tx.query(
    `INSERT INTO ledger_entries
       (idx, entry, type, recorded_at, organisation_id, subject_kind, subject_id, dataset_id, grant_id)
     SELECT * FROM unnest($1::int8[], $2::bytea[], $3::text[], $4::timestamptz[], $5::text[],
                          $6::text[], $7::text[], $8::text[], $9::text[])`,
    [
      column('index'),
      column('entry'),
      column('type'),
      column('recordedAt'),
      column('organisationId'),
      column('subjectKind'),
      column('subjectId'),
      column('datasetId'),
      column('grantId'),
    ],
  );
}

/** Number of entries in the log (entries are dense from 0). */
export async function entryCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT coalesce(max(idx) + 1, 0)::int8 AS n FROM ledger_entries',
  );
  return rows[0]!.n;
}

/** Raw entry bytes for indexes [from, to), in order. */
export async function entriesBetween(db: Queryable, from: number, to: number): Promise<Buffer[]> {
  const { rows } = await db.query<{ idx: number; entry: Uint8Array }>(
    'SELECT idx, entry FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx',
    [from, to],
  );
  return rows.map((row) => bytes(row.entry));
}

export async function getTile(db: Queryable, level: number, index: number): Promise<Buffer | null> {
  const { rows } = await db.query<{ hashes: Uint8Array }>(
    'SELECT hashes FROM ledger_tiles WHERE level = $1 AND idx = $2',
    [level, index],
  );
  return rows[0] ? bytes(rows[0].hashes) : null;
}

export async function putTile(
  tx: Queryable,
  level: number,
  index: number,
  hashes: Buffer,
): Promise<void> {
  await tx.query(
    `INSERT INTO ledger_tiles (level, idx, hashes) VALUES ($1, $2, $3)
     ON CONFLICT (level, idx) DO UPDATE SET hashes = EXCLUDED.hashes`,
    [level, index, hashes],
  );
}

export interface CheckpointRow {
  id: number;
  size: number;
  root: Buffer;
  note: string;
  keyId: string;
  signedAt: Date;
}

export async function latestCheckpoint(db: Queryable): Promise<CheckpointRow | null> {
  const { rows } = await db.query<{
    id: number;
    size: number;
    root: Uint8Array;
    note: string;
    key_id: string;
    signed_at: Date;
  }>(
    'SELECT id, size, root, note, key_id, signed_at FROM ledger_checkpoints ORDER BY id DESC LIMIT 1',
  );
  const row = rows[0];
  return row
    ? {
        id: row.id,
        size: row.size,
        root: bytes(row.root),
        note: row.note,
        keyId: row.key_id,
        signedAt: row.signed_at,
      }
    : null;
}

export async function insertCheckpoint(
  tx: Queryable,
  checkpoint: Omit<CheckpointRow, 'id'>,
): Promise<void> {
  await tx.query(
    'INSERT INTO ledger_checkpoints (size, root, note, key_id, signed_at) VALUES ($1, $2, $3, $4, $5)',
    [checkpoint.size, checkpoint.root, checkpoint.note, checkpoint.keyId, checkpoint.signedAt],
  );
}

export interface KeyRow {
  id: string;
  publicKey: Buffer;
  privateKey: Buffer;
  status: 'active' | 'retired';
  createdAt: Date;
  retiredAt: Date | null;
}

function keyRow(row: {
  id: string;
  public_key: Uint8Array;
  private_key: Uint8Array;
  status: 'active' | 'retired';
  created_at: Date;
  retired_at: Date | null;
}): KeyRow {
  return {
    id: row.id,
    publicKey: bytes(row.public_key),
    privateKey: bytes(row.private_key),
    status: row.status,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}

/** Every key, active first, then retired ones newest first. */
export async function listKeys(db: Queryable): Promise<KeyRow[]> {
  const { rows } = await db.query<Parameters<typeof keyRow>[0]>(
    `SELECT id, public_key, private_key, status, created_at, retired_at FROM ledger_keys
     ORDER BY status = 'active' DESC, retired_at DESC NULLS FIRST, created_at DESC`,
  );
  return rows.map(keyRow);
}

/** Inserts an active key unless one exists already; returns whether it was inserted. */
export async function insertActiveKey(
  tx: Queryable,
  key: Omit<KeyRow, 'status' | 'retiredAt'>,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO ledger_keys (id, public_key, private_key, status, created_at)
     VALUES ($1, $2, $3, 'active', $4) ON CONFLICT DO NOTHING`,
    [key.id, key.publicKey, key.privateKey, key.createdAt],
  );
  return rowCount === 1;
}

export async function retireKey(tx: Queryable, id: string, at: Date): Promise<void> {
  await tx.query(
    `UPDATE ledger_keys SET status = 'retired', retired_at = $2 WHERE id = $1 AND status = 'active'`,
    [id, at],
  );
}

export interface SearchFilter {
  dataset?: string;
  organisation?: string;
  grant?: string;
  type?: string;
  from?: Date;
  to?: Date;
  /** Only entries with an index above this (keyset pagination). */
  after?: number;
  /** Only entries below this tree size (the published checkpoint). */
  below: number;
  limit: number;
}

/** Entries matching every given filter, in log order. */
export async function searchEntries(db: Queryable, filter: SearchFilter): Promise<Buffer[]> {
  const where: string[] = ['idx < $1'];
  const params: unknown[] = [filter.below];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.dataset !== undefined) add((p) => `dataset_id = ${p}`, filter.dataset);
  if (filter.grant !== undefined) add((p) => `grant_id = ${p}`, filter.grant);
  if (filter.organisation !== undefined) {
    add(
      (p) => `(organisation_id = ${p} OR (subject_kind = 'organisation' AND subject_id = ${p}))`,
      filter.organisation,
    );
  }
  if (filter.type !== undefined) add((p) => `type = ${p}`, filter.type);
  if (filter.from !== undefined) add((p) => `recorded_at >= ${p}`, filter.from);
  if (filter.to !== undefined) add((p) => `recorded_at < ${p}`, filter.to);
  if (filter.after !== undefined) add((p) => `idx > ${p}`, filter.after);
  params.push(filter.limit);
  const { rows } = await db.query<{ entry: Uint8Array }>(
    `SELECT entry FROM ledger_entries WHERE ${where.join(' AND ')} ORDER BY idx LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => bytes(row.entry));
}
