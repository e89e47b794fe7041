/**
 * Storage for the built-in OpenID Provider (authorization codes, sessions, grants,
 * interactions, …) in PostgreSQL, so every process of a node shares it and nothing is
 * lost on restart. Expiry follows the provider's own time (it computes `expiresIn` from
 * the system clock), hence `Date.now()` here rather than the platform clock.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Database } from '../../platform/db/database.js';

export function postgresAdapter(db: Database) {
  return class PostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      await db.query(
        `INSERT INTO identity_oidc_records (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE
           SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
               user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
        [
          this.model,
          id,
          payload,
          payload.grantId ?? null,
          payload.userCode ?? null,
          payload.uid ?? null,
          expiresAt,
        ],
      );
    }

    private async findWhere(column: 'id' | 'user_code' | 'uid', value: string) {
      const { rows } = await db.query<{ payload: AdapterPayload; consumed_at: Date | null }>(
        `SELECT payload, consumed_at FROM identity_oidc_records
         WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > $3)`,
        [this.model, value, new Date()],
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        ...row.payload,
        ...(row.consumed_at ? { consumed: Math.floor(row.consumed_at.getTime() / 1000) } : {}),
      };
    }

    find(id: string) {
      return this.findWhere('id', id);
    }

    findByUserCode(userCode: string) {
      return this.findWhere('user_code', userCode);
    }

    findByUid(uid: string) {
      return this.findWhere('uid', uid);
    }

    async consume(id: string): Promise<void> {
      await db.query(
        'UPDATE identity_oidc_records SET consumed_at = $3 WHERE model = $1 AND id = $2',
        [this.model, id, new Date()],
      );
    }

    async destroy(id: string): Promise<void> {
      await db.query('DELETE FROM identity_oidc_records WHERE model = $1 AND id = $2', [
        this.model,
        id,
      ]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.query('DELETE FROM identity_oidc_records WHERE grant_id = $1', [grantId]);
    }
  };
}
