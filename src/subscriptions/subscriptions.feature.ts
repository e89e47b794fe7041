/**
 * NGSI-LD subscriptions: the /subscriptions API, the change listener that queues
 * notifications in the write's own transaction, and the outbox worker that delivers them
 * (HTTP(S) and MQTT(S)). Registered after the context feature, whose entity service it
 * listens to.
 */
import { createGuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Feature } from '../platform/http/server.js';
import { NGSI_LD_PREFIX } from '../context/context.feature.js';
import { registerNgsiLdMediaTypes } from '../context/ngsi-scope.js';
import { Notifier, type NotificationMeter } from './notifier.js';
import { OutboxWorker } from './outbox.worker.js';
import { registerSubscriptionRoutes } from './subscription.routes.js';
import { SubscriptionService } from './subscription.service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This node's notification worker (tests wake it or inspect it). */
    notificationWorker: OutboxWorker | null;
  }
}

export const subscriptionsFeature: Feature = {
  name: 'subscriptions',
  async register(app, platform) {
    const { db, clock, config, logger } = platform;
    const resolver = app.ngsiContexts;
    const service = new SubscriptionService(db, clock, resolver);
    app.ngsiEntities.onChange(service.onChange);

    const notifier = new Notifier(
      createGuardedFetcher(config.fetch),
      resolver,
      logger,
      config.fetch.timeoutMs,
    );
    // Governance (when mounted, before this feature) meters what notifications deliver.
    const governance = app.hasDecorator('governance') ? app.governance : null;
    const meter: NotificationMeter | undefined = governance
      ? (org, purpose, tenant, found) =>
          governance.meter.observe(org, purpose, tenant, found, 'notification')
      : undefined;
    const worker = config.notify.worker
      ? new OutboxWorker(db, clock, app.ngsiEntities, resolver, notifier, logger, {
          ...config.notify,
          // Longer than a delivery can take (a query, then one send bounded by the fetch
          // timeout); a lease left by a dead process frees its rows this long after.
          leaseMs: config.fetch.timeoutMs * 2 + 5_000,
          meter,
        })
      : null;
    app.decorate('notificationWorker', worker);
    if (worker) {
      notifier.onReconnect = (origin) =>
        void worker
          .retryNow(origin)
          .catch((error: unknown) => logger.warn({ err: error }, 'notification retry failed'));
    }
    if (worker) app.addHook('onReady', () => worker.start());
    app.addHook('onClose', async () => {
      await worker?.stop();
      await notifier.close();
    });

    await app.register(
      async (scope) => {
        registerNgsiLdMediaTypes(scope, { mergePatch: true });
        registerSubscriptionRoutes(scope, service, resolver, clock);
      },
      { prefix: NGSI_LD_PREFIX },
    );
  },
};
