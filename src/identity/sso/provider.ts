/**
 * The node's built-in OpenID Provider (`oidc-provider`), mounted at /oidc: people sign in
 * with local accounts (created by an admin) when the city has no identity provider of its
 * own, and the portal signs in through it like through any external one. Authorization
 * code with PKCE (S256) only; consent is implied for the node's own portal client.
 */
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/platform.js';
import type { App } from '../../platform/http/server.js';
import { acceptFormBodies } from '../form-body.js';
import { newSecret } from '../ids.js';
import { registryRepository } from '../registry.repository.js';
import type { RegistryService } from '../registry.service.js';
import { readCookie, setCookie, secureCookies } from './cookies.js';
import { postgresAdapter } from './oidc-adapter.js';
import { PROVIDER_PATH } from './paths.js';

export const PORTAL_CLIENT_ID = 'ocp-portal';
const LOGIN_CSRF_COOKIE = 'ocp_login_csrf';
const PORTAL_SCOPES = 'openid profile email';

export interface BuiltInProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

const escapeHtml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function loginPage(uid: string, csrf: string, options: { error?: string; username?: string }) {
  const action = `${PROVIDER_PATH}/interaction/${encodeURIComponent(uid)}/login`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;margin:.3rem 0}input{padding:.4rem}
.error{color:#a00}</style></head>
<body><h1>Sign in</h1>
${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required value="${escapeHtml(options.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>`;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

async function settingJwk(platform: Platform): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const fresh = JSON.stringify({
    ...(await exportJWK(privateKey)),
    alg: 'EdDSA',
    use: 'sig',
    kid: `oidc-${newSecret(8)}`,
  });
  return JSON.parse(await registryRepository.setting(platform.db, 'oidc_signing_jwk', fresh));
}

export async function registerBuiltInProvider(
  app: App,
  platform: Platform,
  registry: RegistryService,
): Promise<BuiltInProvider> {
  const { config, db, logger } = platform;
  const issuer = `${config.publicUrl}${PROVIDER_PATH}`;
  const clientSecret = await registryRepository.setting(db, 'oidc_portal_secret', newSecret());
  const cookieKey = await registryRepository.setting(db, 'oidc_cookie_key', newSecret());
  const jwk = await settingJwk(platform);
  const secure = secureCookies(config.publicUrl);

  const configuration: Configuration = {
    adapter: postgresAdapter(db),
    clients: [
      {
        client_id: PORTAL_CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: [`${config.publicUrl}/auth/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'EdDSA',
      },
      // Other applications of the city that use this node as their sign-in.
      ...config.oidcProviderClients.map((client) => ({
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: [...client.redirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code' as const],
        token_endpoint_auth_method: 'client_secret_basic' as const,
        id_token_signed_response_alg: 'EdDSA' as const,
      })),
    ],
    jwks: { keys: [jwk as never] },
    cookies: {
      keys: [cookieKey],
      long: { httpOnly: true, sameSite: 'lax', secure },
      short: { httpOnly: true, sameSite: 'lax', secure },
    },
    pkce: { required: () => true },
    ttl: {
      AuthorizationCode: 60,
      Interaction: 600,
      IdToken: 600,
      AccessToken: 600,
      Session: config.sessionTtlSeconds,
      Grant: config.sessionTtlSeconds,
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
    },
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email'],
      // Organisation and node roles, for applications that map them (see docs/identity.md).
      ocp: ['organisation_id', 'roles'],
    },
    scopes: ['openid', 'profile', 'email', 'ocp'],
    // Claims of the granted scopes go into the ID token, so relying parties need no
    // userinfo call.
    conformIdTokenClaims: false,
    interactions: {
      url: (_ctx: KoaContextWithOIDC, interaction) =>
        `${PROVIDER_PATH}/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx, id) {
      const person = await registry.getPerson(id);
      if (!person || person.status !== 'active') return undefined;
      return {
        accountId: person.id,
        claims: async () => ({
          sub: person.id,
          ...(person.displayName ? { name: person.displayName } : {}),
          ...(person.email ? { email: person.email } : {}),
          organisation_id: person.organisationId,
          roles: person.roles,
        }),
      };
    },
    // Every client of this provider is configured by the city (the portal, and the
    // applications in OCP_OIDC_PROVIDER_CLIENTS): signing in implies consent.
    async loadExistingGrant(ctx) {
      const client = ctx.oidc.client;
      const accountId = ctx.oidc.session?.accountId;
      if (!client || !accountId) return undefined;
      const grantId =
        ctx.oidc.result?.consent?.grantId || ctx.oidc.session?.grantIdFor(client.clientId);
      if (grantId) {
        const existing = await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId });
      grant.addOIDCScope(
        client.clientId === PORTAL_CLIENT_ID
          ? PORTAL_SCOPES
          : [...ctx.oidc.requestParamScopes].join(' ') || 'openid',
      );
      await grant.save();
      return grant;
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><p>${escapeHtml(
        String(out.error_description ?? out.error),
      )}</p>`;
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.proxy = true;
  provider.on('server_error', (_ctx, error) =>
    logger.error({ err: error }, 'OpenID Provider error'),
  );
  const handle = provider.callback();

  // The provider reads request bodies itself: its routes get no body parser at all.
  await app.register(async (plain) => {
    plain.removeAllContentTypeParsers();
    plain.addContentTypeParser('*', (_request, _payload, done) => done(null));
    plain.route({
      method: ['GET', 'POST', 'OPTIONS'],
      url: `${PROVIDER_PATH}/*`,
      config: { access: 'public' },
      schema: {
        tags: ['identity'],
        summary: 'The built-in OpenID Provider (discovery, authorization, token, JWKS, userinfo).',
      },
      handler: async (request, reply) => {
        reply.hijack();
        const raw = request.raw as typeof request.raw & { originalUrl?: string };
        raw.originalUrl = raw.url;
        raw.url = raw.url!.slice(PROVIDER_PATH.length) || '/';
        await handle(raw, reply.raw);
      },
    });
  });

  // Sign-in pages of the provider: a username/password form for local accounts.
  await app.register(async (plain) => {
    acceptFormBodies(plain);
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    const params = Type.Object({ uid: Type.String({ maxLength: 200 }) });

    scope.get(
      `${PROVIDER_PATH}/interaction/:uid`,
      {
        config: { access: 'public' },
        schema: {
          tags: ['identity'],
          summary: 'Sign-in page of the built-in OpenID Provider.',
          params,
        },
      },
      async (request, reply) => {
        const details = await provider.interactionDetails(request.raw, reply.raw);
        if (details.prompt.name !== 'login') {
          // Consent is implied for the portal (loadExistingGrant); nothing else to ask.
          reply.hijack();
          await provider.interactionFinished(
            request.raw,
            reply.raw,
            {},
            {
              mergeWithLastSubmission: true,
            },
          );
          return reply;
        }
        const csrf = newSecret(24);
        setCookie(reply, LOGIN_CSRF_COOKIE, csrf, {
          path: `${PROVIDER_PATH}/interaction/`,
          maxAgeSeconds: 600,
          sameSite: 'Strict',
          secure,
        });
        return reply.headers(PAGE_HEADERS).send(loginPage(details.uid, csrf, {}));
      },
    );

    scope.post(
      `${PROVIDER_PATH}/interaction/:uid/login`,
      {
        config: { access: 'public' },
        schema: {
          tags: ['identity'],
          summary: 'Submit the sign-in form of the built-in OpenID Provider.',
          params,
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object({
            username: Type.String({ maxLength: 200 }),
            password: Type.String({ maxLength: 200 }),
            csrf: Type.String({ maxLength: 200 }),
          }),
        },
      },
      async (request, reply) => {
        const details = await provider.interactionDetails(request.raw, reply.raw);
        const { username, password, csrf } = request.body;
        const expected = readCookie(request, LOGIN_CSRF_COOKIE);
        if (!expected || expected !== csrf || details.uid !== request.params.uid) {
          return reply
            .code(403)
            .headers(PAGE_HEADERS)
            .send(
              loginPage(details.uid, expected ?? '', {
                error: 'The form expired or did not come from this site. Please try again.',
                username,
              }),
            );
        }
        const person = await registry.authenticateLocalAccount(username, password);
        if (!person) {
          return reply
            .code(401)
            .headers(PAGE_HEADERS)
            .send(
              loginPage(details.uid, csrf, {
                error: 'Unknown username or wrong password.',
                username,
              }),
            );
        }
        reply.hijack();
        await provider.interactionFinished(
          request.raw,
          reply.raw,
          { login: { accountId: person.id } },
          { mergeWithLastSubmission: false },
        );
        return reply;
      },
    );
  });

  return { issuer, clientId: PORTAL_CLIENT_ID, clientSecret };
}
