/**
 * The NGSI-LD temporal API under /ngsi-ld/v1/temporal: the history of every attribute,
 * kept by the entity service in `ngsi_attribute_history`, queried as normalized,
 * temporalValues or aggregatedValues representations. Also keeps the monthly history
 * partitions prepared (at boot and daily).
 */
import { NGSI_LD_PREFIX } from '../context/context.feature.js';
import { parseJsonBody } from '../context/ngsi-request.js';
import { AppError } from '../platform/http/errors.js';
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
        scope.addContentTypeParser(
          'application/ld+json',
          { parseAs: 'string' },
          (_request, body, done) => {
            try {
              done(null, body === '' ? undefined : parseJsonBody(body as string));
            } catch (error) {
              done(error as Error, undefined);
            }
          },
        );
        scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) =>
          done(null, body),
        );
        scope.addHook('onRequest', async (request, reply) => {
          const tenant = request.headers['ngsild-tenant'];
          if (typeof tenant === 'string' && tenant !== '') reply.header('NGSILD-Tenant', tenant);
        });
        // NGSI-LD accepts JSON payloads only; anything else is 415 before parsing.
        scope.addHook('preValidation', async (request) => {
          if (request.method !== 'POST' && request.method !== 'PATCH') return;
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (type === '' && request.body === undefined) return;
          if (type !== 'application/json' && type !== 'application/ld+json') {
            throw new AppError(
              'unsupported_media_type',
              `Content-Type ${type || '(none)'} is not accepted here`,
              request.method === 'PATCH'
                ? { headers: { 'Accept-Patch': 'application/json, application/ld+json' } }
                : {},
            );
          }
        });
        registerTemporalRoutes(scope, { resolver: app.ngsiContexts, service });
      },
      { prefix: NGSI_LD_PREFIX },
    );
  },
};
