/**
 * Delivers context source notifications (CSourceNotification, clause 5.3.2) from their
 * outbox. Like the entity notification worker, processes share the work through
 * PostgreSQL alone: rows are leased with FOR UPDATE SKIP LOCKED and a lease time (no
 * transaction stays open while sending), then deleted, rescheduled with backoff, or
 * dropped after OCP_NOTIFY_MAX_AGE_SECONDS. At least once; a process that dies
 * mid-delivery leaves a lease that runs out. Sends go through the guarded fetcher only.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { currentActor } from '../identity/current-actor.js';
import type { Clock } from '../platform/clock.js';
import { CoalescedRun } from '../platform/coalesced.js';
import type { Database } from '../platform/db/database.js';
import { GuardedFetchError, type GuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Logger } from '../platform/logging.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import { CORE_CONTEXT_URL } from '../context/jsonld/core-context.js';
import { linkHeader } from '../context/ngsi-request.js';
import { backoffMs } from '../subscriptions/outbox.worker.js';
import {
  claimCSourceNotifications,
  completeCSourceNotification,
  CSOURCE_NOTIFY_CHANNEL,
  type CSourceDelivery,
  type CSourceOutboxRow,
} from './csource-subscription.repository.js';

export interface CSourceWorkerOptions {
  pollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAgeSeconds: number;
  /** Longer than one send can take. */
  leaseMs: number;
}

const BATCH = 20;

export class CSourceNotificationWorker {
  readonly id = `csw_${randomBytes(6).toString('hex')}`;
  private stopped = false;
  private readonly loop = new CoalescedRun(
    () => this.drain(),
    (error) => this.logger.warn({ err: error }, 'context source notification worker error'),
    () => this.stopped,
  );
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly fetcher: GuardedFetcher,
    private readonly resolver: ContextResolver,
    private readonly logger: Logger,
    private readonly options: CSourceWorkerOptions,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(CSOURCE_NOTIFY_CHANNEL, () => this.wake());
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Drains now, or once more right after the drain in progress. */
  wake(): void {
    this.loop.wake();
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const now = this.clock.now();
      const rows = await claimCSourceNotifications(
        this.db,
        this.id,
        now,
        new Date(now.getTime() + this.options.leaseMs),
        BATCH,
      );
      if (rows.length === 0) return;
      // In id order, one at a time: a subscriber sees a registration's changes in order.
      for (const row of rows) {
        if (this.stopped) return;
        await this.deliver(row);
      }
    }
  }

  private async deliver(row: CSourceOutboxRow): Promise<void> {
    // Registrations are for admins and stewards: a creator who is no longer one (or was
    // disabled or deleted) is sent nothing more.
    const creator = await currentActor(this.db, row.creator);
    if (!creator || !creator.roles.some((r) => r === 'admin' || r === 'steward')) {
      const error = 'the subscription’s creator may no longer read registrations';
      await completeCSourceNotification(
        this.db,
        row,
        this.id,
        { outcome: 'dropped', error },
        this.clock.now(),
      );
      return;
    }
    const error = await this.send(row);
    const now = this.clock.now();
    let result: CSourceDelivery;
    if (error === null) result = { outcome: 'sent' };
    else if ((now.getTime() - row.committedAt.getTime()) / 1000 > this.options.maxAgeSeconds) {
      this.logger.warn(
        { subscriptionId: row.subscriptionId, outboxId: row.id, error },
        'context source notification dropped after retrying for OCP_NOTIFY_MAX_AGE_SECONDS',
      );
      result = { outcome: 'dropped', error };
    } else {
      const delay = backoffMs(row.attempts + 1, this.options.retryBaseMs, this.options.retryMaxMs);
      result = { outcome: 'failed', error, retryAt: new Date(now.getTime() + delay) };
    }
    await completeCSourceNotification(this.db, row, this.id, result, now);
  }

  /** Sends one notification; null when the endpoint took it (2xx), else why not. */
  private async send(row: CSourceOutboxRow): Promise<string | null> {
    const endpoint = row.doc.notification.endpoint;
    const notification = {
      id: `urn:ngsi-ld:Notification:${randomUUID()}`,
      type: 'Notification',
      subscriptionId: row.subscriptionId,
      notifiedAt: this.clock.now().toISOString(),
      triggerReason: row.reason,
      data: [row.registration],
    };
    const context = (row.doc.jsonldContext ?? row.context ?? undefined) as
      RequestContext | undefined;
    const headers: Record<string, string> = Object.fromEntries(
      (endpoint.receiverInfo ?? []).map((kv) => [kv.key, kv.value]),
    );
    if (row.tenant !== '') headers['NGSILD-Tenant'] = row.tenant;
    let body: string;
    if (endpoint.accept === 'application/ld+json') {
      body = JSON.stringify({ '@context': context ?? CORE_CONTEXT_URL, ...notification });
      headers['Content-Type'] = 'application/ld+json';
    } else {
      const url =
        context === undefined
          ? CORE_CONTEXT_URL
          : typeof context === 'string'
            ? context
            : await this.resolver.linkFor(context);
      body = JSON.stringify(notification);
      headers['Content-Type'] = 'application/json';
      headers.Link = linkHeader(url);
    }
    try {
      const status = await this.fetcher.post(endpoint.uri, body, headers);
      return status >= 200 && status < 300 ? null : `endpoint answered ${status}`;
    } catch (error) {
      if (error instanceof GuardedFetchError) return error.message;
      return error instanceof Error ? error.message : String(error);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.().catch(() => undefined);
    await this.loop.settled();
  }
}
