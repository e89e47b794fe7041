/**
 * Data governance: datasets, the ODRL policy profile, the purpose vocabulary, access
 * requests and grants (/api/v1/...), metering of what grants deliver, and the history
 * retention job. Enforcement on reads lives in SQL (read-scope.ts) and reaches every
 * NGSI-LD read through the visibility the context feature computes.
 *
 * Registered before the context feature, so its request decoration and hook apply to the
 * NGSI-LD routes' scope.
 */
import { coreContextObject } from '../context/jsonld/core-context.js';
import { TermMap } from '../context/jsonld/term-map.js';
import type { Feature } from '../platform/http/server.js';
import { registerGovernanceRoutes } from './governance.routes.js';
import { GovernanceService } from './governance.service.js';
import { Meter } from './meter.js';
import { applyRetention } from './retention.js';

declare module 'fastify' {
  interface FastifyInstance {
    governance: { service: GovernanceService; meter: Meter };
  }
}

export const governanceFeature: Feature = {
  name: 'governance',
  register(app, platform) {
    const { db, clock, logger, config } = platform;
    // Metering counters are written every meterFlushMs (and when the node stops); the
    // retention job runs every retentionIntervalMs, first one interval after start.
    const { meterFlushMs, retentionIntervalMs } = config.governance;
    const core = TermMap.build([coreContextObject]);
    const service = new GovernanceService(db, clock, (term) => core.expand(term));
    const meter = new Meter(db, clock, logger);
    app.decorate('governance', { service, meter });
    app.decorateRequest('readMeter', null);
    app.addHook('onRequest', async (request) => {
      request.readMeter = meter;
    });
    meter.start(meterFlushMs);
    const retention = setInterval(() => {
      applyRetention(db, clock)
        .then((run) => {
          if (run.deleted.length > 0) logger.info({ deleted: run.deleted }, 'retention applied');
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'retention run failed'));
    }, retentionIntervalMs);
    retention.unref();
    app.addHook('onClose', async () => {
      clearInterval(retention);
      await meter.stop();
    });
    registerGovernanceRoutes(app, service, db, () => meter.flush());
  },
};
