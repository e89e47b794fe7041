/**
 * The node's Ed25519 identity key: it signs the node descriptor, the node's outgoing
 * requests to peers (RFC 9421) and the peer tokens it mints for its organisations. Like
 * the ledger and token keys it is generated on first start and kept in the database
 * (PKCS#8, not encrypted at rest), so every process of a node signs with the same key.
 * Peers pin its fingerprint: "sha256:" + hex SHA-256 of the raw 32-byte public key.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';

/** Serialises key creation across processes. */
const KEY_LOCK = 0x0c9_0100;

export interface NodeKey {
  fingerprint: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  privateKey: KeyObject;
  createdAt: Date;
}

export function fingerprintOf(rawPublicKey: Buffer): string {
  return `sha256:${createHash('sha256').update(rawPublicKey).digest('hex')}`;
}

/** The node id: stable, derived from the node's first key (`node_` + 24 hex digits). */
export function nodeIdOf(fingerprint: string): string {
  return `node_${fingerprint.slice('sha256:'.length, 'sha256:'.length + 24)}`;
}

/** An Ed25519 public key from its raw bytes. */
export function rawPublicKey(raw: Buffer): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

export function signEd25519(key: KeyObject, data: Buffer): Buffer {
  return sign(null, data, key);
}

interface KeyRow {
  fingerprint: string;
  public_key: Uint8Array;
  private_key: Uint8Array;
  created_at: Date;
}

export class NodeKeys {
  private cached: NodeKey | null = null;
  private firstFingerprint: string | null = null;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Makes sure the node has an active key (first start). */
  async ensure(): Promise<NodeKey> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      const { rows } = await tx.query(
        'SELECT 1 FROM federation_node_keys WHERE retired_at IS NULL',
      );
      if (rows.length > 0) return;
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
      await tx.query(
        `INSERT INTO federation_node_keys (fingerprint, public_key, private_key, created_at)
         VALUES ($1, $2, $3, $4)`,
        [
          fingerprintOf(raw),
          raw,
          privateKey.export({ format: 'der', type: 'pkcs8' }),
          this.clock.now(),
        ],
      );
    });
    return this.active();
  }

  /** The active key. Keys are never changed once written, so it is kept once read. */
  async active(): Promise<NodeKey> {
    if (this.cached) return this.cached;
    const { rows } = await this.db.query<KeyRow>(
      'SELECT * FROM federation_node_keys WHERE retired_at IS NULL',
    );
    const row = rows[0];
    if (!row) throw new Error('the node has no identity key');
    this.cached = {
      fingerprint: row.fingerprint,
      publicKey: Buffer.from(row.public_key),
      privateKey: createPrivateKey({
        key: Buffer.from(row.private_key),
        format: 'der',
        type: 'pkcs8',
      }),
      createdAt: row.created_at,
    };
    return this.cached;
  }

  /** The node id, from the first key the node ever had (so it survives a rotation). */
  async nodeId(): Promise<string> {
    if (!this.firstFingerprint) {
      const { rows } = await this.db.query<{ fingerprint: string }>(
        'SELECT fingerprint FROM federation_node_keys ORDER BY created_at, fingerprint LIMIT 1',
      );
      if (!rows[0]) throw new Error('the node has no identity key');
      this.firstFingerprint = rows[0].fingerprint;
    }
    return nodeIdOf(this.firstFingerprint);
  }
}
