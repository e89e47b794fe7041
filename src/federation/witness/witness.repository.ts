/** SQL for witnessing. Every function takes the Queryable to run on (a transaction or the pool). */
import type { Queryable } from '../../platform/db/database.js';

const bytes = (value: unknown): Buffer => Buffer.from(value as Uint8Array);

/**
 * Takes (or renews) the lease on job `name` for `holder` until `until`, unless another
 * holder's lease is still running at `now`. Returns whether `holder` has it.
 */
export async function claimLease(
  db: Queryable,
  name: string,
  holder: string,
  now: Date,
  until: Date,
): Promise<boolean> {
  const { rows } = await db.query<{ holder: string }>(
    `INSERT INTO federation_witness_lease (name, holder, lease_until) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
       WHERE federation_witness_lease.lease_until <= $4 OR federation_witness_lease.holder = $2
     RETURNING holder`,
    [name, holder, until, now],
  );
  return rows[0]?.holder === holder;
}

export async function releaseLease(db: Queryable, name: string, holder: string): Promise<void> {
  await db.query('DELETE FROM federation_witness_lease WHERE name = $1 AND holder = $2', [
    name,
    holder,
  ]);
}

export interface SeenCheckpoint {
  origin: string;
  peerNodeId: string;
  size: number;
  root: Buffer;
  note: string;
  cosignature: string | null;
  seenAt: Date;
  cosignedAt: Date | null;
}

interface SeenRow {
  origin: string;
  peer_node_id: string;
  size: number;
  root: Uint8Array;
  note: string;
  cosignature: string | null;
  seen_at: Date;
  cosigned_at: Date | null;
}

const seen = (row: SeenRow): SeenCheckpoint => ({
  origin: row.origin,
  peerNodeId: row.peer_node_id,
  size: Number(row.size),
  root: bytes(row.root),
  note: row.note,
  cosignature: row.cosignature,
  seenAt: row.seen_at,
  cosignedAt: row.cosigned_at,
});

/** The checkpoint last seen of `origin`, locked for the caller's transaction. */
export async function lockSeen(tx: Queryable, origin: string): Promise<SeenCheckpoint | null> {
  const { rows } = await tx.query<SeenRow>(
    'SELECT * FROM federation_witness_checkpoints WHERE origin = $1 FOR UPDATE',
    [origin],
  );
  return rows[0] ? seen(rows[0]) : null;
}

export async function readSeen(db: Queryable, origin: string): Promise<SeenCheckpoint | null> {
  const { rows } = await db.query<SeenRow>(
    'SELECT * FROM federation_witness_checkpoints WHERE origin = $1',
    [origin],
  );
  return rows[0] ? seen(rows[0]) : null;
}

export async function listSeen(db: Queryable): Promise<SeenCheckpoint[]> {
  const { rows } = await db.query<SeenRow>(
    'SELECT * FROM federation_witness_checkpoints ORDER BY origin',
  );
  return rows.map(seen);
}

/** Records `checkpoint` as the newest seen of its origin, with this node's cosignature. */
export async function saveSeen(tx: Queryable, checkpoint: SeenCheckpoint): Promise<void> {
  await tx.query(
    `INSERT INTO federation_witness_checkpoints
       (origin, peer_node_id, size, root, note, cosignature, seen_at, cosigned_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (origin) DO UPDATE SET
       peer_node_id = EXCLUDED.peer_node_id, size = EXCLUDED.size, root = EXCLUDED.root,
       note = EXCLUDED.note, cosignature = EXCLUDED.cosignature, seen_at = EXCLUDED.seen_at,
       cosigned_at = EXCLUDED.cosigned_at`,
    [
      checkpoint.origin,
      checkpoint.peerNodeId,
      checkpoint.size,
      checkpoint.root,
      checkpoint.note,
      checkpoint.cosignature,
      checkpoint.seenAt,
      checkpoint.cosignedAt,
    ],
  );
}

export interface ForkRecord {
  id: string;
  origin: string;
  peerNodeId: string;
  kind: 'same_size' | 'inconsistent';
  knownSize: number;
  knownRoot: Buffer;
  knownNote: string;
  newSize: number;
  newRoot: Buffer;
  newNote: string;
  detail: string;
  detectedAt: Date;
}

/** Stores fork evidence; false when the same pair of checkpoints was recorded before. */
export async function insertFork(tx: Queryable, fork: ForkRecord): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO federation_witness_forks
       (id, origin, peer_node_id, kind, known_size, known_root, known_note,
        new_size, new_root, new_note, detail, detected_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (origin, known_size, known_root, new_size, new_root) DO NOTHING`,
    [
      fork.id,
      fork.origin,
      fork.peerNodeId,
      fork.kind,
      fork.knownSize,
      fork.knownRoot,
      fork.knownNote,
      fork.newSize,
      fork.newRoot,
      fork.newNote,
      fork.detail,
      fork.detectedAt,
    ],
  );
  return rowCount === 1;
}

export async function listForks(db: Queryable, limit: number): Promise<ForkRecord[]> {
  const { rows } = await db.query<{
    id: string;
    origin: string;
    peer_node_id: string;
    kind: ForkRecord['kind'];
    known_size: number;
    known_root: Uint8Array;
    known_note: string;
    new_size: number;
    new_root: Uint8Array;
    new_note: string;
    detail: string;
    detected_at: Date;
  }>('SELECT * FROM federation_witness_forks ORDER BY detected_at DESC, id LIMIT $1', [limit]);
  return rows.map((row) => ({
    id: row.id,
    origin: row.origin,
    peerNodeId: row.peer_node_id,
    kind: row.kind,
    knownSize: Number(row.known_size),
    knownRoot: bytes(row.known_root),
    knownNote: row.known_note,
    newSize: Number(row.new_size),
    newRoot: bytes(row.new_root),
    newNote: row.new_note,
    detail: row.detail,
    detectedAt: row.detected_at,
  }));
}

/** Origins with at least one recorded fork: the witness no longer cosigns them. */
export async function isFlagged(db: Queryable, origin: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM federation_witness_forks WHERE origin = $1', [
    origin,
  ]);
  return rows.length > 0;
}

export async function countFlaggedOrigins(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(DISTINCT origin)::int8 AS n FROM federation_witness_forks',
  );
  return Number(rows[0]!.n);
}

export interface ReceivedCosignature {
  keyName: string;
  keyId: string;
  peerNodeId: string;
  checkpointSize: number;
  checkpointText: string;
  line: string;
  signedAt: Date;
  receivedAt: Date;
}

/**
 * Keeps a witness's cosignature unless the one stored for it covers a larger tree
 * (a cosignature/v1 speaks for the largest tree the witness has seen).
 */
export async function saveReceivedCosignature(
  db: Queryable,
  cosignature: ReceivedCosignature,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO federation_witness_cosignatures
       (key_name, key_id, peer_node_id, checkpoint_size, checkpoint_text, line, signed_at, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (key_name, key_id) DO UPDATE SET
       peer_node_id = EXCLUDED.peer_node_id, checkpoint_size = EXCLUDED.checkpoint_size,
       checkpoint_text = EXCLUDED.checkpoint_text, line = EXCLUDED.line,
       signed_at = EXCLUDED.signed_at, received_at = EXCLUDED.received_at
     WHERE federation_witness_cosignatures.checkpoint_size < EXCLUDED.checkpoint_size
        OR (federation_witness_cosignatures.checkpoint_size = EXCLUDED.checkpoint_size
            AND federation_witness_cosignatures.signed_at <= EXCLUDED.signed_at)`,
    [
      cosignature.keyName,
      cosignature.keyId,
      cosignature.peerNodeId,
      cosignature.checkpointSize,
      cosignature.checkpointText,
      cosignature.line,
      cosignature.signedAt,
      cosignature.receivedAt,
    ],
  );
  return rowCount === 1;
}

/** Cosignature lines of peers' witnesses over exactly this checkpoint text. */
export async function cosignatureLines(db: Queryable, checkpointText: string): Promise<string[]> {
  const { rows } = await db.query<{ line: string }>(
    `SELECT line FROM federation_witness_cosignatures
     WHERE checkpoint_text = $1 ORDER BY key_name, key_id`,
    [checkpointText],
  );
  return rows.map((row) => row.line);
}

/** Whether this node ever signed a checkpoint whose note starts with `checkpointText`. */
export async function signedCheckpointText(
  db: Queryable,
  checkpointText: string,
  size: number,
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM ledger_checkpoints WHERE size = $1 AND left(note, $2) = $3 LIMIT 1`,
    [size, checkpointText.length + 1, `${checkpointText}\n`],
  );
  return rows.length > 0;
}
