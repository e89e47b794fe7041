/**
 * The node's checkpoint signing keys. A key is generated on first start and kept in the
 * database (PKCS#8, not encrypted at rest: whoever can read the database can sign as the
 * node; docs/ledger.md says how to protect it). Rotation retires the active key, creates
 * a new one and records `ledger.key_rotated` in the log itself. For a week after a
 * rotation checkpoints carry both signatures, so verifiers pinned to the old key can
 * follow the logged rotation to the new one.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import { recordLedgerEvent } from './ledger.events.js';
import {
  insertActiveKey,
  listKeys,
  lockSequencer,
  retireKey,
  type KeyRow,
} from './ledger.repository.js';
import { ed25519Signer, formatVkey, type Signer } from './note.js';

/** How long a retired key keeps co-signing checkpoints after a rotation. */
export const ROTATION_OVERLAP_MS = 7 * 24 * 3600 * 1000;

function newKey(at: Date): Omit<KeyRow, 'status' | 'retiredAt'> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return {
    id: `lk_${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`,
    publicKey: raw,
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }),
    createdAt: at,
  };
}

/** The active key, created if the node has none yet (safe when processes race). */
export async function ensureActiveKey(tx: Queryable, clock: Clock): Promise<KeyRow> {
  let active = (await listKeys(tx)).find((key) => key.status === 'active');
  if (active) return active;
  await insertActiveKey(tx, newKey(clock.now()));
  active = (await listKeys(tx)).find((key) => key.status === 'active');
  if (!active) throw new Error('no active ledger key after creating one');
  return active;
}

/** Signers for a new checkpoint: the active key, plus a key retired within the overlap. */
export async function checkpointSigners(
  tx: Queryable,
  origin: string,
  clock: Clock,
): Promise<{ signers: Signer[]; activeKeyId: string }> {
  const active = await ensureActiveKey(tx, clock);
  const now = clock.now().getTime();
  const recent = (await listKeys(tx)).filter(
    (key) =>
      key.status === 'retired' &&
      key.retiredAt &&
      now - key.retiredAt.getTime() < ROTATION_OVERLAP_MS,
  );
  return {
    signers: [active, ...recent.slice(0, 1)].map((key) => ed25519Signer(origin, key.privateKey)),
    activeKeyId: active.id,
  };
}

export interface PublishedKey {
  id: string;
  status: 'active' | 'retired';
  vkey: string;
  createdAt: string;
  retiredAt: string | null;
}

export async function publishedKeys(db: Queryable, origin: string): Promise<PublishedKey[]> {
  return (await listKeys(db)).map((key) => ({
    id: key.id,
    status: key.status,
    vkey: formatVkey(origin, key.publicKey),
    createdAt: key.createdAt.toISOString(),
    retiredAt: key.retiredAt?.toISOString() ?? null,
  }));
}

/**
 * Retires the active key and makes a new one, logging the rotation in the same
 * transaction. Holds the sequencer lock so no checkpoint is signed halfway through.
 */
export async function rotateKey(
  db: Database,
  clock: Clock,
  by: { organisationId: string | null; clientId: string | null },
): Promise<{ previousKeyId: string; keyId: string }> {
  return db.transaction(async (tx) => {
    await lockSequencer(tx);
    const previous = await ensureActiveKey(tx, clock);
    const at = clock.now();
    await retireKey(tx, previous.id, at);
    const next = newKey(at);
    if (!(await insertActiveKey(tx, next))) throw new Error('another key became active meanwhile');
    await recordLedgerEvent(
      tx,
      {
        type: 'ledger.key_rotated',
        actor: by,
        subject: { kind: 'ledger_key', id: next.id },
        details: {
          previousKeyId: previous.id,
          publicKey: next.publicKey.toString('base64url'),
          algorithm: 'ed25519',
        },
      },
      at,
    );
    return { previousKeyId: previous.id, keyId: next.id };
  });
}
