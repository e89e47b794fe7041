/**
 * The NGSI-LD temporal API under /ngsi-ld/v1/temporal: the history of every attribute,
 * kept by the entity service in `ngsi_attribute_history`, queried as normalized,
 * temporalValues or aggregatedValues representations. Also keeps the monthly history
 * partitions prepared (at boot and daily).
 */
import { NGSI_LD_PREFIX } from '../context/context.feature.js';
import { registerNgsiLdMediaTypes } from '../context/ngsi-scope.js';
import type { Feature } from '../platform/http/server.js';
import { ensurePartitions } from './history.partitions.js';
import { registerTemporalRoutes } from './temporal.routes.js';
import { TemporalService } from './temporal.service.js';

const DAY_MS = 86_400_000;

export const temporalFeature: Feature = {
  name: 'temporal',
  async register(app, platform) {
    const { db, clock, logger } = platform;
    const service = new TemporalService(db, app.ngsiEntities, clock);
    await ensurePartitions(db, clock.now());
    const maintain = () =>
      ensurePartitions(db, clock.now()).then(
        (created) => {
          if (created.length > 0) logger.info({ created }, 'history partitions created');
        },
        (error: unknown) => logger.error({ err: error }, 'history partition maintenance failed'),
      );
    const timer = setInterval(() => void maintain(), DAY_MS);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));

    await app.register(
      async (scope) => {
        registerNgsiLdMediaTypes(scope, { mergePatch: false });
        registerTemporalRoutes(scope, {
          resolver: app.ngsiContexts,
          service,
          distributed: app.ngsiDistributed,
        });
      },
      { prefix: NGSI_LD_PREFIX },
    );
  },
};
