/** Context source subscriptions: create, read, list, merge-patch, delete, and matching. */
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import { alreadyExists, badRequest, notFound } from '../platform/http/errors.js';
import type { Actor } from '../platform/http/access.js';
import { GuardedFetchError, type GuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import { mergeFragment, stripReadOnly } from '../subscriptions/subscription.model.js';
import {
  parseCSourceSubscription,
  subscriptionMatches,
  triggerReason,
  type ParsedCSourceSubscription,
} from './csource-subscription.model.js';
import {
  deleteCSourceSubscription,
  enqueueCSourceNotifications,
  getCSourceSubscription,
  insertCSourceSubscription,
  listCSourceSubscriptions,
  liveCSourceSubscriptions,
  updateCSourceSubscription,
  type CSourceOutboxWrite,
  type CSourceSubscriptionRecord,
} from './csource-subscription.repository.js';
import { renderRegistration, type RegistrationRecord } from './registration.model.js';

export class CSourceSubscriptionService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly resolver: ContextResolver,
    private readonly fetcher: GuardedFetcher,
  ) {}

  private async parse(
    body: unknown,
    context: RequestContext | undefined,
  ): Promise<ParsedCSourceSubscription> {
    const map = await this.resolver.resolve(context);
    const parsed = parseCSourceSubscription(body, map, this.clock.now());
    // The endpoint must pass the host rules every delivery will be held to.
    await this.fetcher.check(parsed.endpoint, ['http:', 'https:']).catch((error: unknown) => {
      if (error instanceof GuardedFetchError && error.reason !== 'network') {
        throw badRequest(`The notification endpoint is not allowed: ${error.message}`);
      }
    });
    return parsed;
  }

  async create(
    tenant: string,
    body: unknown,
    context: RequestContext | undefined,
    creator: Actor,
  ): Promise<string> {
    const parsed = await this.parse(stripReadOnly(body), context);
    const created = await this.db.transaction((tx) =>
      insertCSourceSubscription(tx, tenant, parsed, context, creator, this.clock.now()),
    );
    if (!created) throw alreadyExists(`A subscription with id ${parsed.doc.id} already exists`);
    return parsed.doc.id;
  }

  async get(tenant: string, id: string): Promise<CSourceSubscriptionRecord> {
    const found = await getCSourceSubscription(this.db, tenant, id);
    if (!found) throw notFound(`Subscription ${id} was not found`);
    return found;
  }

  list(
    tenant: string,
    page: { limit: number; offset: number },
  ): Promise<{ items: CSourceSubscriptionRecord[]; total: number }> {
    return listCSourceSubscriptions(this.db, tenant, page);
  }

  /** PATCH (clause 5.11.3): members given replace the stored ones; null removes one. */
  async update(
    tenant: string,
    id: string,
    fragment: unknown,
    context: RequestContext | undefined,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const stored = await getCSourceSubscription(tx, tenant, id, true);
      if (!stored) throw notFound(`Subscription ${id} was not found`);
      const merged = mergeFragment(stored.doc, fragment);
      const ctx = context ?? (stored.context as RequestContext | undefined) ?? undefined;
      const parsed = await this.parse(merged, ctx);
      await updateCSourceSubscription(tx, tenant, parsed, ctx, this.clock.now());
    });
  }

  async delete(tenant: string, id: string): Promise<void> {
    const gone = await this.db.transaction((tx) => deleteCSourceSubscription(tx, tenant, id));
    if (!gone) throw notFound(`Subscription ${id} was not found`);
  }

  /**
   * Called in the transaction of a registration change (`before` null: created; `after`
   * null: deleted): queues a notification for every live subscription it concerns, so
   * the change and its notifications commit together or not at all.
   */
  registrationChanged = async (
    tx: Queryable,
    tenant: string,
    before: RegistrationRecord | null,
    after: RegistrationRecord | null,
  ): Promise<void> => {
    const now = this.clock.now();
    const subs = await liveCSourceSubscriptions(tx, tenant, now);
    const items: CSourceOutboxWrite[] = [];
    for (const sub of subs) {
      const reason = triggerReason(
        before !== null && subscriptionMatches(sub, before, now),
        after !== null && subscriptionMatches(sub, after, now),
      );
      if (reason === null) continue;
      items.push({
        subscriptionId: sub.id,
        reason,
        registration: renderRegistration((after ?? before)!, false),
      });
    }
    await enqueueCSourceNotifications(tx, tenant, items, now);
  };
}
