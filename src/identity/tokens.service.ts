/**
 * OAuth 2.0 access tokens: JWTs (RFC 9068 `at+jwt`) signed by the node, issued to API
 * clients through the client-credentials grant, and turned back into an Actor on every
 * request. The client is looked up on every request, so disabling it, revoking a role or
 * rotating its secret takes effect immediately rather than when the token expires.
 */
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import { registryRepository } from './registry.repository.js';
import type { Client } from './registry.repository.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';

export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
}

export type TokenCheck =
  { ok: true; actor: Actor } | { ok: false; reason: 'malformed' | 'invalid' | 'client_inactive' };

export class TokenService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly keys: SigningKeys,
    /** The node's public URL: `iss` of every token and the audience they are meant for. */
    readonly issuer: string,
    private readonly ttlSeconds: number,
  ) {}

  async issue(client: Client): Promise<IssuedToken> {
    const { kid, key } = await this.keys.activeKey();
    const now = Math.floor(this.clock.now().getTime() / 1000);
    const accessToken = await new SignJWT({
      client_id: client.id,
      org: client.organisationId,
      ver: client.credentialVersion,
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setAudience(this.issuer)
      .setSubject(client.id)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(key);
    return { accessToken, expiresIn: this.ttlSeconds };
  }

  /** Checks a bearer token: signature by a node key, issuer, audience, expiry, live client. */
  async verify(token: string): Promise<TokenCheck> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      // Only our own algorithm: this rules out `alg: none` and algorithm confusion.
      if (header.alg !== SIGNING_ALG || typeof header.kid !== 'string') {
        return { ok: false, reason: 'invalid' };
      }
      kid = header.kid;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const key = await this.keys.verifier(kid);
    if (!key) return { ok: false, reason: 'invalid' };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [SIGNING_ALG],
        issuer: this.issuer,
        audience: this.issuer,
        typ: ACCESS_TOKEN_TYPE,
        currentDate: this.clock.now(),
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    if (typeof payload.sub !== 'string') return { ok: false, reason: 'invalid' };
    const client = await registryRepository.getClient(this.db, payload.sub);
    if (!client || client.status !== 'active' || client.credentialVersion !== payload.ver) {
      return { ok: false, reason: 'client_inactive' };
    }
    return {
      ok: true,
      actor: {
        kind: 'client',
        id: client.id,
        organisationId: client.organisationId,
        roles: client.roles,
      },
    };
  }
}
