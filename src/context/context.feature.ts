/**
 * The NGSI-LD context information API under /ngsi-ld/v1: entities, batch operations,
 * discovery and @context management, with the media types NGSI-LD uses registered in
 * this feature's scope only.
 */
import { createGuardedFetcher } from '../platform/http/guarded-fetch.js';
import { AppError } from '../platform/http/errors.js';
import type { Feature } from '../platform/http/server.js';
import { registerDiscoveryRoutes } from './discovery/discovery.routes.js';
import { registerBatchRoutes } from './entities/batch.routes.js';
import { registerEntityRoutes, type ContextDeps } from './entities/entity.routes.js';
import { EntityService } from './entities/entity.service.js';
import { ContextResolver } from './jsonld/context-resolver.js';
import { registerContextRoutes } from './jsonld/context.routes.js';
import { parseJsonBody } from './ngsi-request.js';

export const NGSI_LD_PREFIX = '/ngsi-ld/v1';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The entity service of this node, for features registered after this one (MQTT
     * ingestion writes through it; subscriptions listen with `onChange`).
     */
    ngsiEntities: EntityService;
    /** Resolves request @contexts to cached term maps. */
    ngsiContexts: ContextResolver;
  }
}

export const contextFeature: Feature = {
  name: 'context',
  async register(app, platform) {
    const { db, clock, config } = platform;
    const resolver = new ContextResolver(
      db,
      createGuardedFetcher(config.fetch),
      clock,
      config.jsonldContextTtlSeconds,
      `${config.publicUrl}${NGSI_LD_PREFIX}/jsonldContexts/`,
    );
    const deps: ContextDeps = { db, resolver, service: new EntityService(db, clock) };
    app.decorate('ngsiEntities', deps.service);
    app.decorate('ngsiContexts', resolver);
    await app.register(
      async (scope) => {
        scope.addContentTypeParser(
          ['application/ld+json', 'application/merge-patch+json'],
          { parseAs: 'string' },
          (_request, body, done) => {
            try {
              done(null, body === '' ? undefined : parseJsonBody(body as string));
            } catch (error) {
              done(error as Error, undefined);
            }
          },
        );
        // Any other media type is read as text here and refused (415) by the hook below.
        scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) =>
          done(null, body),
        );
        // The tenant a request addressed is named in the response too.
        scope.addHook('onRequest', async (request, reply) => {
          const tenant = request.headers['ngsild-tenant'];
          if (typeof tenant === 'string' && tenant !== '') reply.header('NGSILD-Tenant', tenant);
        });
        // NGSI-LD accepts JSON payloads only; anything else is 415 before parsing.
        scope.addHook('preValidation', async (request) => {
          if (request.method !== 'POST' && request.method !== 'PATCH' && request.method !== 'PUT')
            return;
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (type === '' && request.body === undefined) return;
          const allowed =
            type === 'application/json' ||
            type === 'application/ld+json' ||
            (type === 'application/merge-patch+json' && request.method === 'PATCH');
          if (!allowed) {
            throw new AppError(
              'unsupported_media_type',
              `Content-Type ${type || '(none)'} is not accepted here`,
              request.method === 'PATCH'
                ? {
                    headers: {
                      'Accept-Patch':
                        'application/json, application/ld+json, application/merge-patch+json',
                    },
                  }
                : {},
            );
          }
        });
        registerEntityRoutes(scope, deps);
        registerBatchRoutes(scope, deps);
        registerDiscoveryRoutes(scope, deps);
        registerContextRoutes(scope, deps, clock);
      },
      { prefix: NGSI_LD_PREFIX },
    );
  },
};
