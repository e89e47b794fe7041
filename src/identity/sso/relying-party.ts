/**
 * Single sign-on for the portal: the node as an OpenID Connect relying party
 * (authorization code + PKCE S256, state and nonce), against the configured external
 * issuers or, when none is configured, the built-in provider. A completed sign-in becomes
 * a portal session cookie.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { Type } from 'typebox';
import type { OidcIssuerConfig } from '../../platform/config.js';
import { roles as knownRoles, type Role } from '../../platform/http/access.js';
import { AppError, badRequest } from '../../platform/http/errors.js';
import type { App } from '../../platform/http/server.js';
import type { Platform } from '../../platform/platform.js';
import { newSecret } from '../ids.js';
import type { Person, RegistryService } from '../registry.service.js';
import { sha256 } from '../secrets.js';
import { clearCookie, readCookie, secureCookies, setCookie } from './cookies.js';
import type { BuiltInProvider } from './provider.js';
import { SESSION_COOKIE, type SessionStore } from './sessions.js';

const LOGIN_COOKIE = 'ocp_login';
const LOGIN_TTL_SECONDS = 600;
const CLOCK_TOLERANCE_SECONDS = 60;

/** What the node needs to know about an issuer to sign someone in through it. */
export interface IssuerClient {
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  builtIn: boolean;
  /** Authorization endpoint, token endpoint and keys, resolved on first use. */
  endpoints(): Promise<{
    authorization: string;
    token: string;
    keys: (header: never, token: never) => Promise<never>;
  }>;
  /** POST a form to the token endpoint with client_secret_basic. */
  postToken(form: Record<string, string>): Promise<{ status: number; body: unknown }>;
  /** Organisation and roles from the ID token, for external issuers. */
  mapping?: OidcIssuerConfig;
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** The built-in provider is reached in-process: no network hop, same result. */
export function builtInIssuer(
  app: App,
  provider: BuiltInProvider,
  publicUrl: string,
): IssuerClient {
  const host = new URL(publicUrl);
  const headers = {
    host: host.host,
    'x-forwarded-proto': host.protocol.replace(':', ''),
  };
  const path = new URL(provider.issuer).pathname;
  let keys: ReturnType<typeof createLocalJWKSet> | null = null;
  return {
    name: 'local',
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    scope: 'openid profile email',
    builtIn: true,
    async endpoints() {
      if (!keys) {
        const res = await app.inject({ method: 'GET', url: `${path}/jwks`, headers });
        keys = createLocalJWKSet(res.json() as JSONWebKeySet);
      }
      return {
        authorization: `${provider.issuer}/auth`,
        token: `${provider.issuer}/token`,
        keys: keys as never,
      };
    },
    async postToken(form) {
      const res = await app.inject({
        method: 'POST',
        url: `${path}/token`,
        headers: {
          ...headers,
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(provider.clientId, provider.clientSecret),
        },
        payload: new URLSearchParams(form).toString(),
      });
      return { status: res.statusCode, body: res.json() };
    },
  };
}

/** An external issuer, discovered through its /.well-known/openid-configuration. */
export function externalIssuer(config: OidcIssuerConfig): IssuerClient {
  let discovered: Promise<{
    authorization: string;
    token: string;
    keys: ReturnType<typeof createRemoteJWKSet>;
  }> | null = null;
  const discover = async () => {
    const res = await fetch(`${config.issuer}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`discovery failed with HTTP ${res.status}`);
    const meta = (await res.json()) as Record<string, unknown>;
    if (meta.issuer !== config.issuer) throw new Error('discovery document names another issuer');
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
      if (typeof meta[key] !== 'string') throw new Error(`discovery document lacks ${key}`);
    }
    return {
      authorization: meta.authorization_endpoint as string,
      token: meta.token_endpoint as string,
      keys: createRemoteJWKSet(new URL(meta.jwks_uri as string)),
    };
  };
  const client: IssuerClient = {
    name: config.name,
    issuer: config.issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    scope: config.scope ?? 'openid profile email',
    builtIn: false,
    mapping: config,
    async endpoints() {
      discovered ??= discover().catch((error: unknown) => {
        discovered = null; // try again next time
        throw error;
      });
      const found = await discovered;
      return { ...found, keys: found.keys as never };
    },
    async postToken(form) {
      const { token } = await client.endpoints();
      const res = await fetch(token, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: basic(config.clientId, config.clientSecret),
        },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
  };
  return client;
}

/** Organisation and roles for a person signing in through an external issuer. */
export function mapClaims(
  mapping: OidcIssuerConfig,
  claims: JWTPayload,
): { organisationId: string | null; roles: Role[] | null } {
  let organisationId: string | null = null;
  if (mapping.organisationClaim) {
    const value = claims[mapping.organisationClaim];
    if (typeof value === 'string') {
      organisationId = mapping.organisations
        ? (mapping.organisations[value] ?? null)
        : /^org_[A-Za-z0-9]+$/.test(value)
          ? value
          : null;
    }
  }
  let roles: Role[] | null = null;
  if (mapping.rolesClaim) {
    const raw = claims[mapping.rolesClaim];
    const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : [];
    const mapped = values
      .filter((v): v is string => typeof v === 'string')
      .map((v) => (mapping.roles ? mapping.roles[v] : v))
      .filter(
        (r): r is Role => typeof r === 'string' && (knownRoles as readonly string[]).includes(r),
      );
    roles = [...new Set(mapped)];
  }
  return { organisationId, roles };
}

const signInFailed = (detail: string) => new AppError('unauthorized', detail);

function safeReturnTo(value: string | undefined): string {
  // Only paths on this node: never an open redirect. Printable ASCII only, because
  // browsers drop tabs and newlines ("/\t/evil.example" would become "//evil.example").
  const printable = /^[\x21-\x7e]+$/;
  if (!value || !printable.test(value) || !value.startsWith('/')) return '/';
  if (value.startsWith('//') || value.includes('\\')) return '/';
  return value;
}

export function registerRelyingPartyRoutes(
  app: App,
  platform: Platform,
  registry: RegistryService,
  sessions: SessionStore,
  issuers: IssuerClient[],
): void {
  const { config, db, clock, logger } = platform;
  const secure = secureCookies(config.publicUrl);
  const redirectUri = `${config.publicUrl}/auth/callback`;
  const byName = new Map(issuers.map((i) => [i.name, i]));
  const tags = ['identity'];
  const loginCookie = {
    path: '/auth',
    maxAgeSeconds: LOGIN_TTL_SECONDS,
    sameSite: 'Lax' as const,
    secure,
  };
  const sessionCookie = {
    path: '/',
    maxAgeSeconds: config.sessionTtlSeconds,
    sameSite: 'Lax' as const,
    secure,
  };

  app.get(
    '/auth/login',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Start single sign-on: redirects to the identity provider.',
        querystring: Type.Object({
          issuer: Type.Optional(Type.String({ maxLength: 40 })),
          returnTo: Type.Optional(Type.String({ maxLength: 2000 })),
        }),
      },
    },
    async (request, reply) => {
      const name = request.query.issuer ?? (issuers.length === 1 ? issuers[0]!.name : undefined);
      const issuer = name ? byName.get(name) : undefined;
      if (!issuer) {
        throw badRequest(
          `Choose a configured issuer with ?issuer=: ${issuers.map((i) => i.name).join(', ')}`,
        );
      }
      let endpoints;
      try {
        endpoints = await issuer.endpoints();
      } catch (error) {
        logger.warn({ err: error, issuer: issuer.issuer }, 'OpenID issuer unreachable');
        throw new AppError('unavailable', 'The identity provider cannot be reached');
      }
      const state = newSecret();
      const nonce = newSecret();
      const verifier = newSecret(48);
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      await db.query(
        `INSERT INTO identity_login_attempts (state_hash, issuer, nonce, code_verifier, return_to, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          sha256(state),
          issuer.name,
          nonce,
          verifier,
          safeReturnTo(request.query.returnTo),
          new Date(clock.now().getTime() + LOGIN_TTL_SECONDS * 1000),
        ],
      );
      // Binds the sign-in to this browser: a callback carrying someone else's state fails.
      setCookie(reply, LOGIN_COOKIE, state, loginCookie);
      const target = new URL(endpoints.authorization);
      target.search = new URLSearchParams({
        response_type: 'code',
        client_id: issuer.clientId,
        redirect_uri: redirectUri,
        scope: issuer.scope,
        state,
        nonce,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }).toString();
      return reply.header('cache-control', 'no-store').redirect(target.toString(), 302);
    },
  );

  app.get(
    '/auth/callback',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Where the identity provider returns after sign-in; starts a portal session.',
        querystring: Type.Object({
          code: Type.Optional(Type.String({ maxLength: 4000 })),
          state: Type.Optional(Type.String({ maxLength: 200 })),
          iss: Type.Optional(Type.String({ maxLength: 2000 })),
          error: Type.Optional(Type.String({ maxLength: 200 })),
        }),
      },
    },
    async (request, reply) => {
      const { code, state, error, iss } = request.query;
      if (!state) throw badRequest('state is missing');
      const cookieState = readCookie(request, LOGIN_COOKIE);
      clearCookie(reply, LOGIN_COOKIE, loginCookie);
      // One use only: the attempt is deleted whatever happens next.
      const { rows } = await db.query<{
        issuer: string;
        nonce: string;
        code_verifier: string;
        return_to: string;
        expires_at: Date;
      }>('DELETE FROM identity_login_attempts WHERE state_hash = $1 RETURNING *', [sha256(state)]);
      const attempt = rows[0];
      if (!attempt || cookieState !== state || attempt.expires_at <= clock.now()) {
        throw signInFailed('This sign-in is unknown, expired or was started in another browser');
      }
      if (error) throw signInFailed(`The identity provider refused the sign-in (${error})`);
      if (!code) throw badRequest('code is missing');
      const issuer = byName.get(attempt.issuer);
      if (!issuer) throw signInFailed('This identity provider is no longer configured');
      // RFC 9207: when the provider names itself, it must be the one we sent the person to.
      if (iss !== undefined && iss !== issuer.issuer) throw signInFailed('Issuer mismatch');

      const exchanged = await issuer.postToken({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: attempt.code_verifier,
      });
      const idToken = (exchanged.body as { id_token?: unknown } | null)?.id_token;
      if (exchanged.status !== 200 || typeof idToken !== 'string') {
        logger.warn({ status: exchanged.status, issuer: issuer.issuer }, 'code exchange failed');
        throw signInFailed('The identity provider did not confirm the sign-in');
      }
      let claims: JWTPayload;
      try {
        const { keys } = await issuer.endpoints();
        ({ payload: claims } = await jwtVerify(idToken, keys as never, {
          issuer: issuer.issuer,
          audience: issuer.clientId,
          currentDate: clock.now(),
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['sub', 'iat', 'exp'],
        }));
      } catch {
        throw signInFailed('The ID token is not valid');
      }
      if (claims.nonce !== attempt.nonce)
        throw signInFailed('The ID token does not match this sign-in');

      let person: Person | null;
      if (issuer.builtIn) {
        person = await registry.getPerson(claims.sub!);
      } else {
        const mapped = mapClaims(issuer.mapping!, claims);
        person = await registry.signedInPerson({
          issuer: issuer.issuer,
          subject: claims.sub!,
          displayName: typeof claims.name === 'string' ? claims.name : null,
          email: typeof claims.email === 'string' ? claims.email : null,
          organisationId: mapped.organisationId,
          roles: mapped.roles,
        });
      }
      if (!person || person.status !== 'active') throw signInFailed('This account is not active');
      const session = await sessions.create(person.id);
      setCookie(reply, SESSION_COOKIE, session.id, sessionCookie);
      return reply.header('cache-control', 'no-store').redirect(attempt.return_to, 303);
    },
  );

  app.get(
    '/auth/session',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'The portal session of this browser, with the CSRF token its forms must send.',
        response: {
          200: Type.Object({
            signedIn: Type.Boolean(),
            personId: Type.Optional(Type.String()),
            organisationId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
            roles: Type.Optional(Type.Array(Type.String())),
            displayName: Type.Optional(Type.Union([Type.String(), Type.Null()])),
            csrfToken: Type.Optional(Type.String()),
            expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
          }),
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const id = readCookie(request, SESSION_COOKIE);
      const session = id ? await sessions.find(id) : null;
      if (!session) return { signedIn: false };
      return {
        signedIn: true,
        personId: session.actor.id!,
        organisationId: session.actor.organisationId,
        roles: [...session.actor.roles],
        displayName: session.displayName,
        csrfToken: session.csrfToken,
        expiresAt: session.expiresAt.toISOString(),
      };
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { access: 'authenticated' },
      schema: {
        tags,
        summary: 'End the portal session (send the X-CSRF-Token header).',
      },
    },
    async (request, reply: FastifyReply) => {
      const id = readCookie(request, SESSION_COOKIE);
      if (id) await sessions.destroy(id);
      clearCookie(reply, SESSION_COOKIE, sessionCookie);
      return reply.code(204).send();
    },
  );
}
