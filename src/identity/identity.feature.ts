/**
 * Identity and access: the registry (organisations, API clients, people, roles), OAuth 2.0
 * access tokens signed by the node, the bearer-token authenticator every route relies on,
 * the bootstrap admin client, and per-caller rate limits.
 */
import type { Authenticator } from '../platform/http/access.js';
import { rateLimited } from '../platform/http/errors.js';
import type { Feature } from '../platform/http/server.js';
import { bearerAuthenticator } from './authenticator.js';
import { RateLimiter } from './rate-limit.js';
import { registerOwnClientRoutes } from './own-clients.routes.js';
import { registerRegistryRoutes } from './registry.routes.js';
import { RegistryService } from './registry.service.js';
import { SigningKeys } from './signing-keys.js';
import {
  builtInIssuer,
  externalIssuer,
  registerRelyingPartyRoutes,
  type IssuerClient,
} from './sso/relying-party.js';

import { PROVIDER_PATH } from './sso/paths.js';
import { SessionStore, sessionAuthenticator } from './sso/sessions.js';
import { registerTokenRoutes } from './token.routes.js';
import { TokenService } from './tokens.service.js';

/** Operational probes stay reachable for load balancers and monitoring however busy. */
const UNLIMITED_ROUTES = new Set(['/health', '/ready', '/metrics']);

export const identityFeature: Feature = {
  name: 'identity',
  async register(app, platform) {
    const { db, clock, config, logger } = platform;
    const registry = new RegistryService(db, clock);
    const keys = new SigningKeys(db, clock, config.accessTokenTtlSeconds);
    await keys.ensureActiveKey();
    const tokens = new TokenService(
      db,
      clock,
      keys,
      config.publicUrl,
      config.accessTokenTtlSeconds,
    );

    if (config.bootstrapAdminSecret) {
      const outcome = await registry.bootstrapAdmin(config.bootstrapAdminSecret);
      if (outcome !== 'unchanged') {
        logger.info({ clientId: 'admin' }, `bootstrap admin client ${outcome}`);
      }
    }

    // The built-in OpenID Provider authenticates its own callers (its own access tokens,
    // its own cookies); the node's authenticators stay out of its way.
    const outsideProvider =
      (authenticate: Authenticator): Authenticator =>
      async (request) =>
        request.url.startsWith(`${PROVIDER_PATH}/`) ? null : authenticate(request);
    const sessions = new SessionStore(db, clock, config.sessionTtlSeconds);
    app.authenticators.push(
      outsideProvider(bearerAuthenticator(tokens)),
      outsideProvider(sessionAuthenticator(sessions)),
    );

    if (config.rateLimit.enabled) {
      const limiter = new RateLimiter(clock, config.rateLimit);
      // Added after the server's access hook, so the caller is already identified here.
      app.addHook('onRequest', async (request) => {
        if (UNLIMITED_ROUTES.has(request.routeOptions.url ?? '')) return;
        const decision = limiter.check(request.actor, request.ip);
        if (!decision.ok) throw rateLimited(decision.retryAfterSeconds);
      });
    }

    registerTokenRoutes(app, registry, keys, tokens);
    registerRegistryRoutes(app, registry, keys, `${config.publicUrl}${PROVIDER_PATH}`);
    registerOwnClientRoutes(app, registry);

    // Single sign-on: the configured issuers, or the node's own provider when there are
    // none. The provider library is loaded only when it is used.
    let issuers: IssuerClient[];
    if (config.oidcIssuers.length > 0) {
      issuers = config.oidcIssuers.map(externalIssuer);
    } else {
      const { registerBuiltInProvider } = await import('./sso/provider.js');
      const provider = await registerBuiltInProvider(app, platform, registry);
      issuers = [builtInIssuer(app, provider, config.publicUrl)];
    }
    registerRelyingPartyRoutes(app, platform, registry, sessions, issuers);
    await sessions.purgeExpired();
  },
};
