/**
 * Drains the notification outbox. Every process runs one worker; they share the work
 * through PostgreSQL alone: rows are leased (FOR UPDATE SKIP LOCKED, then a lease time
 * so no transaction stays open during delivery), delivered, then deleted or
 * rescheduled with exponential backoff. A process that dies mid-delivery leaves a lease
 * that runs out, and another worker (or the restarted one) delivers the row again:
 * at least once. Workers wake on NOTIFY from committing writers and poll besides.
 */
import { randomBytes } from 'node:crypto';
import { currentActor } from '../identity/current-actor.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import type { Logger } from '../platform/logging.js';
import type { EntityService } from '../context/entities/entity.service.js';
import type { ContextResolver } from '../context/jsonld/context-resolver.js';
import { buildNotification, type NotificationMeter, type Notifier } from './notifier.js';
import {
  claim,
  claimFollowers,
  complete,
  NOTIFY_CHANNEL,
  postpone,
  retryEndpointNow,
  schedulePeriodic,
  subscriptionsFor,
  type ClaimedSubscription,
  type DeliveryRecord,
  type OutboxRow,
} from './subscription.repository.js';

export interface WorkerOptions {
  concurrency: number;
  pollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAgeSeconds: number;
  /** How long a lease lasts; longer than the slowest delivery can take. */
  leaseMs: number;
  /** Governance metering of what notifications deliver, when that feature is mounted. */
  meter?: NotificationMeter;
}

/** Changes queued for one subscription that one notification may carry together. */
const MAX_ROWS_PER_NOTIFICATION = 100;

export function backoffMs(attempt: number, base: number, max: number): number {
  // attempt 1 → base, 2 → 2·base, … capped; ±20 % jitter so retries do not synchronise.
  const raw = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

export class OutboxWorker {
  readonly id = `wrk_${randomBytes(6).toString('hex')}`;
  private running = false;
  private again = false;
  private periodicDue = false;
  private loop: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly entities: EntityService,
    private readonly resolver: ContextResolver,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly options: WorkerOptions,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(NOTIFY_CHANNEL, () => this.wake());
    this.timer = setInterval(() => this.wake(true), this.options.pollMs);
    this.timer.unref();
    this.wake(true);
  }

  /**
   * Runs a drain now, or right after the one in progress. Commits wake it through
   * NOTIFY; the poll (`periodic`) also schedules due periodic notifications.
   */
  wake(periodic = false): void {
    if (this.stopped) return;
    if (periodic) this.periodicDue = true;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const schedule = this.periodicDue;
    this.periodicDue = false;
    this.loop = this.drain(schedule)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'notification worker error'))
      .finally(() => {
        this.running = false;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  /**
   * Keeps up to `concurrency` deliveries in flight: whenever one finishes (which may
   * make its subscription's next row claimable) it claims more, until nothing is due.
   */
  private async drain(periodic: boolean): Promise<void> {
    if (periodic) await schedulePeriodic(this.db, this.clock.now());
    const inFlight = new Set<Promise<void>>();
    try {
      while (!this.stopped) {
        this.again = false;
        const free = this.options.concurrency - inFlight.size;
        if (free > 0) {
          const now = this.clock.now();
          const rows = await claim(
            this.db,
            this.id,
            now,
            new Date(now.getTime() + this.options.leaseMs),
            free,
          );
          if (rows.length > 0) {
            const subs = await subscriptionsFor(
              this.db,
              rows.map((r) => ({ tenant: r.tenant, id: r.subscription_id })),
            );
            for (const row of rows) {
              const delivery: Promise<void> = this.deliver(
                row,
                subs.get(`${row.tenant}\u0000${row.subscription_id}`),
              )
                .catch((error: unknown) =>
                  this.logger.warn({ err: error, outboxId: row.id }, 'notification not delivered'),
                )
                .finally(() => inFlight.delete(delivery));
              inFlight.add(delivery);
            }
            continue;
          }
        }
        if (inFlight.size === 0) return;
        await Promise.race(inFlight);
      }
    } finally {
      await Promise.all(inFlight);
    }
  }

  private async deliver(head: OutboxRow, sub: ClaimedSubscription | undefined): Promise<void> {
    const record = (r: Omit<DeliveryRecord, 'tenant' | 'subscriptionId'>) =>
      complete(
        this.db,
        { tenant: head.tenant, subscriptionId: head.subscription_id, ...r },
        this.clock.now(),
      );
    if (!sub) return record({ ids: [head.id], outcome: 'skipped' });
    if (sub.throttling !== null && head.kind === 'change') {
      const last = sub.status.lastNotification?.getTime() ?? 0;
      const next = last + sub.throttling * 1000;
      if (next > this.clock.now().getTime()) {
        await postpone(this.db, [head.id], new Date(next));
        return;
      }
    }
    let rows = [head];
    if (head.kind === 'change') {
      const leaseUntil = new Date(this.clock.now().getTime() + this.options.leaseMs);
      rows = [
        head,
        ...(await claimFollowers(this.db, head, this.id, leaseUntil, MAX_ROWS_PER_NOTIFICATION)),
      ];
    }
    const ids = rows.map((r) => r.id);
    const now = this.clock.now();
    // The creator as identity knows it now: disabled or deleted, nothing is sent; a lost
    // role or organisation narrows what the notification shows.
    const actor = await currentActor(this.db, sub.actor);
    if (!actor) return record({ ids, outcome: 'skipped' });
    const built = await buildNotification(
      this.entities,
      this.resolver,
      { ...sub, actor },
      rows,
      now,
      this.options.meter,
    );
    if (!built) return record({ ids, outcome: 'skipped' });
    const result = await this.notifier.send(sub, built.notification, built.context);
    if (result.ok) return record({ ids, outcome: 'sent' });
    const ageSeconds = (now.getTime() - head.committed_at.getTime()) / 1000;
    if (ageSeconds > this.options.maxAgeSeconds) {
      this.logger.warn(
        { subscriptionId: head.subscription_id, outboxId: head.id, error: result.error },
        'notification dropped after retrying for OCP_NOTIFY_MAX_AGE_SECONDS',
      );
      return record({ ids, outcome: 'dropped', error: result.error });
    }
    const delay = backoffMs(head.attempts + 1, this.options.retryBaseMs, this.options.retryMaxMs);
    this.logger.debug(
      { subscriptionId: head.subscription_id, attempt: head.attempts + 1, delay },
      `notification failed: ${result.error}`,
    );
    return record({
      ids,
      outcome: 'failed',
      error: result.error,
      retryAt: new Date(now.getTime() + delay),
    });
  }

  /** Notifications waiting for an endpoint that is reachable again: send them now. */
  async retryNow(origin: string): Promise<void> {
    if (this.stopped) return;
    const count = await retryEndpointNow(this.db, origin, this.clock.now());
    if (count > 0) this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.().catch(() => undefined);
    await this.loop;
  }
}
