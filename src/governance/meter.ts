/**
 * Metering per grant and UTC day: requests, entities and attribute instances returned,
 * notifications delivered. Reads only add to counters in memory; a timer flushes them
 * in one transaction that adds to `gov_usage` and records one `data.accessed` ledger
 * entry per grant (purpose, entities returned) — so the read path never waits on a
 * write, and a crash loses at most one flush interval and never counts twice (the
 * counters are swapped out before the write and put back if it fails).
 *
 * Which grant served a read is decided from the rows returned: an entity counts under
 * each grant in force for the caller's organisation and stated purpose whose dataset
 * covers it. The caller's own entities and admins' reads are not metered.
 */
import { recordLedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import type { Logger } from '../platform/logging.js';
import { governanceRepository as repo, type Dataset, type Grant } from './governance.repository.js';

export interface MeteredEntity {
  id: string;
  types: readonly string[];
  ownerOrg: string | null;
  attrs: Record<string, readonly unknown[]>;
}

export interface Usage {
  requests: number;
  entities: number;
  attributes: number;
  notifications: number;
}

const GRANT_CACHE_MS = 2_000;

const day = (at: Date) => at.toISOString().slice(0, 10);

export function datasetCovers(d: Dataset, tenant: string, e: MeteredEntity): boolean {
  if (d.tenant !== tenant || d.publisherOrg !== e.ownerOrg) return false;
  if (!d.types.some((t) => e.types.includes(t))) return false;
  return d.idPattern === null || new RegExp(d.idPattern).test(e.id);
}

type ActiveGrant = Grant & { dataset: Dataset };

export class Meter {
  private counters = new Map<string, Usage & { grant: ActiveGrant; day: string }>();
  private readonly grantCache = new Map<string, { at: number; grants: Promise<ActiveGrant[]> }>();
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.flush().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'metering flush failed'),
      );
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  private grantsFor(org: string, purpose: string, at: Date): Promise<ActiveGrant[]> {
    const key = `${org}\u0000${purpose}`;
    const cached = this.grantCache.get(key);
    if (cached && at.getTime() - cached.at < GRANT_CACHE_MS && at.getTime() >= cached.at) {
      return cached.grants;
    }
    const grants = repo.activeGrants(this.db, org, purpose, at);
    this.grantCache.set(key, { at: at.getTime(), grants });
    return grants;
  }

  /** Notes a read (or a notification) by `org` for `purpose`; never throws, never waits. */
  observe(
    org: string | null,
    purpose: string | null,
    tenant: string,
    entities: readonly MeteredEntity[],
    kind: 'read' | 'notification' = 'read',
  ): void {
    if (org === null || purpose === null) return;
    const foreign = entities.filter((e) => e.ownerOrg !== org);
    if (foreign.length === 0) return;
    const at = this.clock.now();
    const work = this.grantsFor(org, purpose, at)
      .then((grants) => {
        for (const grant of grants) {
          const covered = foreign.filter((e) => datasetCovers(grant.dataset, tenant, e));
          if (covered.length === 0) continue;
          this.add(grant, at, {
            requests: kind === 'read' ? 1 : 0,
            notifications: kind === 'notification' ? 1 : 0,
            entities: covered.length,
            attributes: covered.reduce(
              (n, e) => n + Object.values(e.attrs).reduce((m, list) => m + list.length, 0),
              0,
            ),
          });
        }
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'metering failed'));
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private add(grant: ActiveGrant, at: Date, usage: Usage): void {
    const d = day(at);
    const key = `${grant.id}\u0000${d}`;
    const c = this.counters.get(key) ?? {
      grant,
      day: d,
      requests: 0,
      entities: 0,
      attributes: 0,
      notifications: 0,
    };
    c.requests += usage.requests;
    c.entities += usage.entities;
    c.attributes += usage.attributes;
    c.notifications += usage.notifications;
    this.counters.set(key, c);
  }

  /** Writes the counters gathered so far (waiting for observations still in flight). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
    if (this.counters.size === 0) return;
    const batch = this.counters;
    this.counters = new Map();
    const rows = [...batch.values()];
    try {
      await this.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO gov_usage (grant_id, day, requests, entities, attributes, notifications)
           SELECT r.grant_id, r.day::date, r.requests, r.entities, r.attributes, r.notifications
             FROM jsonb_to_recordset($1::jsonb) AS r(grant_id text, day text, requests bigint,
                  entities bigint, attributes bigint, notifications bigint)
             WHERE EXISTS (SELECT 1 FROM gov_grants g WHERE g.id = r.grant_id)
           ON CONFLICT (grant_id, day) DO UPDATE SET
             requests = gov_usage.requests + EXCLUDED.requests,
             entities = gov_usage.entities + EXCLUDED.entities,
             attributes = gov_usage.attributes + EXCLUDED.attributes,
             notifications = gov_usage.notifications + EXCLUDED.notifications`,
          [
            JSON.stringify(
              rows.map((r) => ({
                grant_id: r.grant.id,
                day: r.day,
                requests: r.requests,
                entities: r.entities,
                attributes: r.attributes,
                notifications: r.notifications,
              })),
            ),
          ],
        );
        const at = this.clock.now();
        for (const r of rows) {
          if (r.grant.dataset.classification === 'open') continue;
          await recordLedgerEvent(
            tx,
            {
              type: 'data.accessed',
              actor: { organisationId: r.grant.consumerOrg, clientId: null },
              subject: { kind: 'grant', id: r.grant.id },
              purpose: r.grant.purpose,
              count: r.entities,
              details: {
                // `datasetId` is the detail the ledger indexes for ?dataset= searches.
                datasetId: r.grant.datasetId,
                classification: r.grant.dataset.classification,
                day: r.day,
                requests: r.requests,
                notifications: r.notifications,
              },
            },
            at,
          );
        }
      });
    } catch (error) {
      // Put the counts back so the next flush writes them: nothing lost, nothing doubled.
      for (const r of rows) this.add(r.grant, new Date(`${r.day}T00:00:00Z`), r);
      throw error;
    }
  }
}
