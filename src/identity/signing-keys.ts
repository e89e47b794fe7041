/**
 * The keys the node signs access tokens with (Ed25519, JWS alg EdDSA), kept in the
 * database so every process of a node signs and verifies with the same keys. One key is
 * active; a rotated-out key stays in the JWKS until every token it signed has expired.
 */
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { recordLedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import { newId } from './ids.js';
import type { ChangeActor } from './registry.service.js';

export const SIGNING_ALG = 'EdDSA';

/** Serialises key creation and rotation across processes. */
const KEY_LOCK = 0x0c9_0020;

type KeyLike = Awaited<ReturnType<typeof importJWK>>;

export interface PublicKeyInfo {
  kid: string;
  createdAt: Date;
  retiredAt: Date | null;
  jwk: JWK;
}

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_jwk: JWK;
  created_at: Date;
  retired_at: Date | null;
}

export class SigningKeys {
  /** Imported public keys by kid; keys never change once written, so this is safe to keep. */
  private readonly verifiers = new Map<string, KeyLike>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    /** How long tokens live, hence how long a retired key must stay published. */
    private readonly tokenTtlSeconds: number,
  ) {}

  private async insertKey(tx: Queryable, at: Date): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, {
      crv: 'Ed25519',
      extractable: true,
    });
    const kid = newId('key');
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG };
    await tx.query(
      `INSERT INTO identity_signing_keys (kid, alg, public_jwk, private_jwk, created_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [kid, SIGNING_ALG, publicJwk, privateJwk, at],
    );
    return kid;
  }

  /** Makes sure an active key exists (first start of a node). */
  async ensureActiveKey(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      const { rows } = await tx.query(
        'SELECT 1 FROM identity_signing_keys WHERE retired_at IS NULL',
      );
      if (rows.length === 0) await this.insertKey(tx, this.clock.now());
    });
  }

  /** Retires the active key and starts signing with a new one. */
  async rotate(by: ChangeActor): Promise<{ kid: string; retiredKid: string | null }> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      const at = this.clock.now();
      const { rows } = await tx.query<{ kid: string }>(
        'UPDATE identity_signing_keys SET retired_at = $1 WHERE retired_at IS NULL RETURNING kid',
        [at],
      );
      const retiredKid = rows[0]?.kid ?? null;
      const kid = await this.insertKey(tx, at);
      await recordLedgerEvent(
        tx,
        {
          type: 'signing_key.rotated',
          actor: {
            organisationId: by.organisationId,
            clientId: by.kind === 'client' ? by.id : null,
          },
          subject: { kind: 'signing_key', id: kid },
          details: { retiredKid },
        },
        at,
      );
      return { kid, retiredKid };
    });
  }

  /** The key to sign with now. */
  async activeKey(): Promise<{ kid: string; key: KeyLike }> {
    const { rows } = await this.db.query<KeyRow>(
      'SELECT * FROM identity_signing_keys WHERE retired_at IS NULL',
    );
    const row = rows[0];
    if (!row) throw new Error('no active signing key');
    return { kid: row.kid, key: await importJWK(row.private_jwk, row.alg) };
  }

  /** Public keys to publish: the active one and those retired less than a token lifetime ago. */
  async published(): Promise<PublicKeyInfo[]> {
    const cutoff = new Date(this.clock.now().getTime() - this.tokenTtlSeconds * 1000);
    const { rows } = await this.db.query<KeyRow>(
      `SELECT * FROM identity_signing_keys
       WHERE retired_at IS NULL OR retired_at > $1
       ORDER BY created_at DESC, kid`,
      [cutoff],
    );
    return rows.map((row) => ({
      kid: row.kid,
      createdAt: row.created_at,
      retiredAt: row.retired_at,
      jwk: row.public_jwk,
    }));
  }

  /**
   * The public key for a kid, or null when the node never issued it. A retired key needs
   * no extra check here: every token it signed expires within a token lifetime of its
   * retirement, and expiry is checked on every token.
   */
  async verifier(kid: string): Promise<KeyLike | null> {
    const cached = this.verifiers.get(kid);
    if (cached) return cached;
    const { rows } = await this.db.query<KeyRow>(
      'SELECT * FROM identity_signing_keys WHERE kid = $1',
      [kid],
    );
    const row = rows[0];
    if (!row) return null;
    const key = await importJWK(row.public_jwk, row.alg);
    this.verifiers.set(kid, key);
    return key;
  }
}
