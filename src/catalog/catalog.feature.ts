/**
 * The catalog: DCAT-AP 3 at /catalog, the CKAN-compatible read API at /api/3/action, the
 * governed live preview of datasets, and the federated catalog (harvesting active peers'
 * DCAT catalogs on a schedule). Registered after the context feature: the preview reads
 * through its entity service.
 */
import { coreContextObject } from '../context/jsonld/core-context.js';
import { TermMap } from '../context/jsonld/term-map.js';
import { peerDirectory } from '../federation/peers.directory.js';
import { createGuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Feature } from '../platform/http/server.js';
import { registerCatalogRoutes } from './catalog.routes.js';
import { CatalogService } from './catalog.service.js';
import { registerCkanRoutes } from './ckan.routes.js';
import { CatalogHarvester, type PeerSource } from './harvester.js';

declare module 'fastify' {
  interface FastifyInstance {
    catalog: { service: CatalogService; harvester: CatalogHarvester };
  }
}

export const catalogFeature: Feature = {
  name: 'catalog',
  register(app, platform) {
    const { db, config, clock, logger } = platform;
    const service = new CatalogService(db, {
      base: config.publicUrl.replace(/\/+$/, ''),
      title: config.catalog.title,
      publisher: config.catalog.publisher,
    });
    const directory = peerDirectory(db);
    const peers: PeerSource = async () =>
      (await directory.listActivePeers()).map((p) => ({
        nodeId: p.nodeId,
        name: p.name,
        url: p.url,
        catalogUrl: p.catalogUrl,
      }));
    const harvester = new CatalogHarvester(
      db,
      createGuardedFetcher(config.fetch),
      config.fetch,
      peers,
      clock,
      logger,
    );
    app.decorate('catalog', { service, harvester });
    registerCatalogRoutes(app, {
      service,
      harvester,
      entities: app.ngsiEntities,
      core: TermMap.build([coreContextObject]),
    });
    registerCkanRoutes(app, service);
    if (config.catalog.harvestIntervalSeconds > 0) {
      harvester.start(config.catalog.harvestIntervalSeconds * 1000);
    }
    app.addHook('onClose', () => harvester.stop());
  },
};
