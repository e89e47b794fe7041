/**
 * NGSI-LD distributed operations: /csourceRegistrations, /csourceSubscriptions (with
 * their notification worker), and entity reads that fan out to the registered context
 * sources (see distributor.ts, docs/distributed-operations.md). Registered after the
 * context feature, whose read slot it fills.
 */
import { createGuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Feature } from '../platform/http/server.js';
import { registerNgsiLdMediaTypes } from '../context/ngsi-scope.js';
import { NGSI_LD_PREFIX } from '../context/context.feature.js';
import { CSourceNotificationWorker } from './csource-notifications.worker.js';
import { registerCSourceSubscriptionRoutes } from './csource-subscription.routes.js';
import { CSourceSubscriptionService } from './csource-subscription.service.js';
import { Distributor } from './distributor.js';
import { outboundAuthorizersOf } from './outbound.js';
import { RegistrationCache } from './registration.cache.js';
import { registerRegistrationRoutes } from './registration.routes.js';
import { RegistrationService } from './registration.service.js';

/**
 * How long a process reads its tenants' registrations from memory: changes made through
 * another process of the node reach this one's reads within this time.
 */
const REGISTRATIONS_TTL_MS = 1_000;

export const distributedFeature: Feature = {
  name: 'distributed',
  async register(app, platform) {
    const { db, clock, config, logger } = platform;
    const fetcher = createGuardedFetcher(config.fetch);
    const resolver = app.ngsiContexts;
    const service = new RegistrationService(db, clock, resolver, fetcher);
    const registrations = new RegistrationCache(db, REGISTRATIONS_TTL_MS);
    service.onCommitted((tenant) => registrations.forget(tenant));
    const subscriptions = new CSourceSubscriptionService(db, clock, resolver, fetcher);
    service.onChange(subscriptions.registrationChanged);
    // The entity notification settings (OCP_NOTIFY_*) apply to these notifications too.
    const worker = config.notify.worker
      ? new CSourceNotificationWorker(db, clock, fetcher, resolver, logger, {
          pollMs: config.notify.pollMs,
          retryBaseMs: config.notify.retryBaseMs,
          retryMaxMs: config.notify.retryMaxMs,
          maxAgeSeconds: config.notify.maxAgeSeconds,
          leaseMs: config.fetch.timeoutMs * 2 + 5_000,
        })
      : null;
    if (worker) {
      app.addHook('onReady', () => worker.start());
      app.addHook('onClose', () => worker.stop());
    }
    const authorizers = outboundAuthorizersOf(app);
    app.ngsiDistributed.current = new Distributor(
      db,
      registrations,
      clock,
      fetcher,
      resolver,
      authorizers,
      logger,
      {
        nodeName: new URL(config.publicUrl).host,
        defaultTimeoutMs: config.distributed.timeoutMs,
        maxHops: config.distributed.maxHops,
      },
    );
    await app.register(
      async (scope) => {
        registerNgsiLdMediaTypes(scope, { mergePatch: true });
        registerRegistrationRoutes(scope, service, resolver);
        registerCSourceSubscriptionRoutes(scope, subscriptions, resolver, clock);
      },
      { prefix: NGSI_LD_PREFIX },
    );
  },
};
