/**
 * Portal sessions after single sign-on: a random id in an HttpOnly cookie, only its hash
 * in the database, a per-session CSRF token that every state-changing request made with
 * the cookie must echo in the `X-CSRF-Token` header.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import type { Actor, Authenticator } from '../../platform/http/access.js';
import { forbidden } from '../../platform/http/errors.js';
import { newSecret } from '../ids.js';
import { registryRepository } from '../registry.repository.js';
import { sha256 } from '../secrets.js';
import { readCookie } from './cookies.js';

export const SESSION_COOKIE = 'ocp_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface SessionInfo {
  actor: Actor;
  csrfToken: string;
  displayName: string | null;
  expiresAt: Date;
}

export class SessionStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
  ) {}

  async create(personId: string): Promise<{ id: string; csrfToken: string }> {
    const id = newSecret();
    const csrfToken = newSecret(24);
    const now = this.clock.now();
    await this.db.query(
      `INSERT INTO identity_sessions (id_hash, person_id, csrf_token, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [sha256(id), personId, csrfToken, now, new Date(now.getTime() + this.ttlSeconds * 1000)],
    );
    return { id, csrfToken };
  }

  /** The signed-in person behind a session id, with roles as they are now. */
  async find(id: string): Promise<SessionInfo | null> {
    const { rows } = await this.db.query<{
      person_id: string;
      csrf_token: string;
      expires_at: Date;
    }>(
      'SELECT person_id, csrf_token, expires_at FROM identity_sessions WHERE id_hash = $1 AND expires_at > $2',
      [sha256(id), this.clock.now()],
    );
    const row = rows[0];
    if (!row) return null;
    const person = await registryRepository.getPerson(this.db, row.person_id);
    if (!person || person.status !== 'active') return null;
    return {
      actor: {
        kind: 'person',
        id: person.id,
        organisationId: person.organisationId,
        roles: person.roles,
      },
      csrfToken: row.csrf_token,
      displayName: person.displayName,
      expiresAt: row.expires_at,
    };
  }

  async destroy(id: string): Promise<void> {
    await this.db.query('DELETE FROM identity_sessions WHERE id_hash = $1', [sha256(id)]);
  }

  /** Housekeeping at start: ended sessions, abandoned sign-ins, expired provider records. */
  async purgeExpired(): Promise<void> {
    const now = this.clock.now();
    await this.db.query('DELETE FROM identity_sessions WHERE expires_at <= $1', [now]);
    await this.db.query('DELETE FROM identity_login_attempts WHERE expires_at <= $1', [now]);
    // The provider's records expire on its own (system) clock; see oidc-adapter.ts.
    await this.db.query('DELETE FROM identity_oidc_records WHERE expires_at <= $1', [new Date()]);
  }
}

const sameToken = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Recognises the session cookie. An unknown or expired cookie leaves the caller anonymous
 * (public pages keep working with a stale cookie); a state-changing request made with a
 * valid cookie but without the session's CSRF token is refused.
 */
export function sessionAuthenticator(sessions: SessionStore): Authenticator {
  return async (request) => {
    const id = readCookie(request, SESSION_COOKIE);
    if (!id) return null;
    const session = await sessions.find(id);
    if (!session) return null;
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameToken(sent, session.csrfToken)) {
        throw forbidden('A valid X-CSRF-Token header is required with a session cookie');
      }
    }
    return session.actor;
  };
}
