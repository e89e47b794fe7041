/**
 * The NGSI-LD context information API under /ngsi-ld/v1: entities, batch operations,
 * discovery and @context management, with the media types NGSI-LD uses registered in
 * this feature's scope only.
 */
import { createGuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Feature } from '../platform/http/server.js';
import { registerDiscoveryRoutes } from './discovery/discovery.routes.js';
import { registerBatchRoutes } from './entities/batch.routes.js';
import type { DistributedSlot } from './entities/distributed-reads.js';
import { registerEntityRoutes, type ContextDeps } from './entities/entity.routes.js';
import { EntityService } from './entities/entity.service.js';
import { ContextResolver } from './jsonld/context-resolver.js';
import { registerContextRoutes } from './jsonld/context.routes.js';
import { registerNgsiLdMediaTypes } from './ngsi-scope.js';

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
    /** Slot the distributed-operations feature fills to fan entity reads out. */
    ngsiDistributed: DistributedSlot;
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
    const deps: ContextDeps = {
      db,
      resolver,
      service: new EntityService(db, clock),
      distributed: { current: null },
    };
    app.decorate('ngsiEntities', deps.service);
    app.decorate('ngsiDistributed', deps.distributed!);
    app.decorate('ngsiContexts', resolver);
    await app.register(
      async (scope) => {
        registerNgsiLdMediaTypes(scope, { mergePatch: true });
        registerEntityRoutes(scope, deps);
        registerBatchRoutes(scope, deps);
        registerDiscoveryRoutes(scope, deps);
        registerContextRoutes(scope, deps, clock);
      },
      { prefix: NGSI_LD_PREFIX },
    );
  },
};
