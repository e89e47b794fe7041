/**
 * SQL for subscriptions and the notification outbox. Matching is set-based: one
 * statement joins every active subscription of the tenant with the changed entities of
 * a write (selectors, triggers, watched attributes); subscriptions with q/scopeQ/geoQ
 * then get one UNION ALL statement over the changed rows. The outbox is drained by
 * workers in any number of processes: rows are leased with FOR UPDATE SKIP LOCKED, and
 * only the oldest row of a subscription can be leased, so a subscription's
 * notifications go out one at a time, in order.
 */
import { notifyOnCommit, type Queryable } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import type { DeliveryStatus, SelectorRow, SubscriptionDoc } from './subscription.model.js';

export const NOTIFY_CHANNEL = 'ocp_notifications';

export interface SubscriptionRecord {
  tenant: string;
  doc: SubscriptionDoc;
  context: unknown;
  terms: Record<string, string>;
  watchedAttrs: string[] | null;
  triggers: string[];
  expiresAt: Date | null;
  isActive: boolean;
  actor: Actor;
  purpose: string | null;
  ownerOrg: string | null;
  ownerActor: string | null;
  createdAt: Date;
  modifiedAt: Date;
  status: DeliveryStatus;
}

interface SubscriptionRow {
  tenant: string;
  doc: SubscriptionDoc;
  context: unknown;
  terms: Record<string, string>;
  watched_attrs: string[] | null;
  triggers: string[];
  expires_at: Date | null;
  is_active: boolean;
  actor: Actor;
  purpose: string | null;
  owner_org: string | null;
  owner_actor: string | null;
  created_at: Date;
  modified_at: Date;
  times_sent: number;
  times_failed: number;
  last_notification: Date | null;
  last_success: Date | null;
  last_failure: Date | null;
  last_status: 'ok' | 'failed' | null;
}

const COLUMNS = `tenant, doc, context, terms, watched_attrs, triggers, expires_at, is_active, actor,
  purpose, owner_org, owner_actor, created_at, modified_at, times_sent, times_failed,
  last_notification, last_success, last_failure, last_status`;

const toRecord = (r: SubscriptionRow): SubscriptionRecord => ({
  tenant: r.tenant,
  doc: r.doc,
  context: r.context,
  terms: r.terms,
  watchedAttrs: r.watched_attrs,
  triggers: r.triggers,
  expiresAt: r.expires_at,
  isActive: r.is_active,
  actor: r.actor,
  purpose: r.purpose,
  ownerOrg: r.owner_org,
  ownerActor: r.owner_actor,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
  status: {
    timesSent: r.times_sent,
    timesFailed: r.times_failed,
    lastNotification: r.last_notification,
    lastSuccess: r.last_success,
    lastFailure: r.last_failure,
    lastStatus: r.last_status,
  },
});

/** Who may see and change a subscription: admins all, others their organisation's. */
export type Ownership = { all: true } | { all: false; org: string | null; actorId: string | null };

function ownershipSql(o: Ownership, params: unknown[]): string {
  if (o.all) return 'TRUE';
  if (o.org !== null) {
    params.push(o.org);
    return `owner_org = $${params.length}`;
  }
  if (o.actorId !== null) {
    params.push(o.actorId);
    return `(owner_org IS NULL AND owner_actor = $${params.length})`;
  }
  return 'FALSE';
}

/** Everything the stored row holds besides the client's document. */
export interface SubscriptionWrite {
  tenant: string;
  doc: SubscriptionDoc;
  context: unknown;
  terms: Record<string, string>;
  watchedAttrs: string[] | null;
  triggers: string[];
  selectors: SelectorRow[];
  actor: Actor;
  purpose: string | null;
  at: Date;
}

function writeParams(w: SubscriptionWrite): unknown[] {
  return [
    w.tenant,
    w.doc.id,
    JSON.stringify(w.doc),
    w.context === undefined ? null : JSON.stringify(w.context),
    JSON.stringify(w.terms),
    w.watchedAttrs,
    w.triggers,
    w.doc.q ?? null,
    w.doc.scopeQ ?? null,
    w.doc.geoQ ? JSON.stringify(w.doc.geoQ) : null,
    w.doc.timeInterval ?? null,
    w.doc.throttling ?? null,
    w.doc.expiresAt ?? null,
    w.doc.isActive ?? true,
    w.at,
  ];
}

async function writeSelectors(tx: Queryable, w: SubscriptionWrite): Promise<void> {
  await tx.query(
    'DELETE FROM ngsi_subscription_selectors WHERE tenant = $1 AND subscription_id = $2',
    [w.tenant, w.doc.id],
  );
  if (w.selectors.length === 0) return;
  await tx.query(
    `INSERT INTO ngsi_subscription_selectors (tenant, subscription_id, pos, entity_id, id_pattern, types_all)
     SELECT $1, $2, r.pos, r.entity_id, r.id_pattern, r.types_all
       FROM jsonb_to_recordset($3::jsonb) AS r(pos int, entity_id text, id_pattern text, types_all text[])`,
    [
      w.tenant,
      w.doc.id,
      JSON.stringify(
        w.selectors.map((s, pos) => ({
          pos,
          entity_id: s.entityId,
          id_pattern: s.idPattern,
          types_all: s.typesAll,
        })),
      ),
    ],
  );
}

/** Inserts a subscription; false when the id is taken in this tenant. */
export async function insertSubscription(tx: Queryable, w: SubscriptionWrite): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO ngsi_subscriptions (tenant, id, doc, context, terms, watched_attrs, triggers, q,
       scope_q, geo_q, time_interval, throttling, expires_at, is_active, created_at, modified_at,
       actor, purpose, owner_org, owner_actor, next_periodic_at)
     VALUES ($1, $2, $3::jsonb, $4::jsonb, $5::jsonb, $6::text[], $7::text[], $8, $9, $10::jsonb,
       $11::float8, $12::float8, $13::timestamptz, $14, $15::timestamptz, $15::timestamptz,
       $16::jsonb, $17, $18, $19, CASE WHEN $11::float8 IS NULL THEN NULL ELSE $15::timestamptz END)
     ON CONFLICT (tenant, id) DO NOTHING`,
    [...writeParams(w), JSON.stringify(w.actor), w.purpose, w.actor.organisationId, w.actor.id],
  );
  if (rowCount === 0) return false;
  await writeSelectors(tx, w);
  return true;
}

/** Replaces the client's part of a subscription (PATCH); the creator stays the owner. */
export async function updateSubscription(tx: Queryable, w: SubscriptionWrite): Promise<void> {
  await tx.query(
    `UPDATE ngsi_subscriptions SET doc = $3::jsonb, context = $4::jsonb, terms = $5::jsonb,
       watched_attrs = $6::text[], triggers = $7::text[], q = $8, scope_q = $9, geo_q = $10::jsonb,
       next_periodic_at = CASE WHEN $11::float8 IS NULL THEN NULL
                               WHEN time_interval IS DISTINCT FROM $11::float8 THEN $15::timestamptz
                               ELSE next_periodic_at END,
       time_interval = $11::float8, throttling = $12::float8, expires_at = $13::timestamptz,
       is_active = $14, modified_at = $15::timestamptz
     WHERE tenant = $1 AND id = $2`,
    writeParams(w),
  );
  await writeSelectors(tx, w);
}

export async function findSubscription(
  db: Queryable,
  tenant: string,
  id: string,
  owner: Ownership,
  options: { lock?: boolean } = {},
): Promise<SubscriptionRecord | null> {
  const params: unknown[] = [tenant, id];
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${COLUMNS} FROM ngsi_subscriptions
      WHERE tenant = $1 AND id = $2 AND ${ownershipSql(owner, params)}${options.lock ? ' FOR UPDATE' : ''}`,
    params,
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function listSubscriptions(
  db: Queryable,
  tenant: string,
  owner: Ownership,
  page: { limit: number; offset: number; count: boolean },
): Promise<{ items: SubscriptionRecord[]; total: number | null }> {
  const params: unknown[] = [tenant];
  const where = `tenant = $1 AND ${ownershipSql(owner, params)}`;
  const { rows } =
    page.limit > 0
      ? await db.query<SubscriptionRow>(
          `SELECT ${COLUMNS} FROM ngsi_subscriptions WHERE ${where}
            ORDER BY created_at, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, page.limit, page.offset],
        )
      : { rows: [] };
  let total: number | null = null;
  if (page.count) {
    const counted = await db.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM ngsi_subscriptions WHERE ${where}`,
      params,
    );
    total = counted.rows[0]!.n;
  }
  return { items: rows.map(toRecord), total };
}

export async function deleteSubscription(
  db: Queryable,
  tenant: string,
  id: string,
  owner: Ownership,
): Promise<boolean> {
  const params: unknown[] = [tenant, id];
  const { rowCount } = await db.query(
    `DELETE FROM ngsi_subscriptions WHERE tenant = $1 AND id = $2 AND ${ownershipSql(owner, params)}`,
    params,
  );
  return rowCount > 0;
}

// --- matching --------------------------------------------------------------------------

/** One changed entity, as the matcher sees it (attribute names expanded). */
export interface ChangeRow {
  id: string;
  kind: 'created' | 'updated' | 'deleted';
  types: string[];
  /** Attributes the entity has (after the change; before it for deletions). */
  present: string[];
  created: string[];
  updated: string[];
  deleted: string[];
}

export interface MatchRow {
  subscription_id: string;
  entity_id: string;
  kind: ChangeRow['kind'];
  reason: string;
  show_changes: boolean;
  q: string | null;
  scope_q: string | null;
  geo_q: { geometry: string; coordinates: unknown; georel: string; geoproperty?: string } | null;
  terms: Record<string, string>;
}

/**
 * Pairs (subscription, changed entity) whose selectors, triggers and watched attributes
 * match, with the trigger that fired. Filters (q, scopeQ, geoQ) are applied after.
 */
export async function matchChanges(
  tx: Queryable,
  tenant: string,
  changes: readonly ChangeRow[],
  at: Date,
): Promise<MatchRow[]> {
  const { rows } = await tx.query<MatchRow>(
    `WITH c AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb)
         AS c(id text, kind text, types text[], present text[], created text[], updated text[], deleted text[])
     ), m AS (
       SELECT s.id AS subscription_id, c.id AS entity_id, c.kind,
         CASE
           WHEN c.kind = 'created' AND 'entityCreated' = ANY(s.triggers)
             AND (s.watched_attrs IS NULL OR s.watched_attrs && c.present) THEN 'entityCreated'
           WHEN c.kind = 'deleted' AND 'entityDeleted' = ANY(s.triggers)
             AND (s.watched_attrs IS NULL OR s.watched_attrs && c.present) THEN 'entityDeleted'
           WHEN c.kind <> 'deleted' AND 'attributeCreated' = ANY(s.triggers)
             AND (CASE WHEN s.watched_attrs IS NULL THEN cardinality(c.created) > 0
                       ELSE s.watched_attrs && c.created END) THEN 'attributeCreated'
           WHEN c.kind = 'updated' AND 'attributeUpdated' = ANY(s.triggers)
             AND (CASE WHEN s.watched_attrs IS NULL THEN cardinality(c.updated) > 0
                       ELSE s.watched_attrs && c.updated END) THEN 'attributeUpdated'
           WHEN c.kind = 'updated' AND 'attributeDeleted' = ANY(s.triggers)
             AND (CASE WHEN s.watched_attrs IS NULL THEN cardinality(c.deleted) > 0
                       ELSE s.watched_attrs && c.deleted END) THEN 'attributeDeleted'
           WHEN c.kind = 'updated' AND 'entityUpdated' = ANY(s.triggers)
             AND (s.watched_attrs IS NULL OR s.watched_attrs && (c.created || c.updated || c.deleted))
             THEN 'entityUpdated'
         END AS reason,
         COALESCE((s.doc->'notification'->>'showChanges')::boolean, false) AS show_changes,
         s.q, s.scope_q, s.geo_q, s.terms
       FROM ngsi_subscriptions s CROSS JOIN c
       WHERE s.tenant = $1 AND s.is_active AND s.time_interval IS NULL
         AND (s.expires_at IS NULL OR s.expires_at > $3)
         AND (NOT EXISTS (SELECT 1 FROM ngsi_subscription_selectors x
                           WHERE x.tenant = s.tenant AND x.subscription_id = s.id)
              OR EXISTS (SELECT 1 FROM ngsi_subscription_selectors x
                          WHERE x.tenant = s.tenant AND x.subscription_id = s.id
                            AND c.types @> x.types_all
                            AND (x.entity_id IS NULL OR x.entity_id = c.id)
                            AND (x.id_pattern IS NULL OR c.id ~ x.id_pattern)))
     )
     SELECT * FROM m WHERE reason IS NOT NULL ORDER BY subscription_id, entity_id`,
    [tenant, JSON.stringify(changes), at],
  );
  return rows;
}

/** Runs one statement of `SELECT <subscription>, e.id ... UNION ALL ...` built by the caller. */
export async function matchingPairs(
  tx: Queryable,
  sql: string,
  params: unknown[],
): Promise<{ subscription_id: string; entity_id: string }[]> {
  const { rows } = await tx.query<{ subscription_id: string; entity_id: string }>(sql, params);
  return rows;
}

export interface OutboxEntity {
  id: string;
  kind: ChangeRow['kind'];
  reason: string;
  /** Deleted entities: what the notification needs after the row is gone. */
  before?: { types: string[]; ownerOrg: string | null };
  /** showChanges: previous instances of the attributes that changed. */
  previous?: Record<string, unknown[]>;
}

export async function enqueue(
  tx: Queryable,
  tenant: string,
  items: { subscriptionId: string; entities: OutboxEntity[] }[],
  at: Date,
): Promise<void> {
  if (items.length === 0) return;
  await tx.query(
    `INSERT INTO ngsi_notification_outbox (tenant, subscription_id, kind, entities, committed_at, due_at)
     SELECT $1, r.subscription_id, 'change', r.entities, $2, $2
       FROM jsonb_to_recordset($3::jsonb) AS r(subscription_id text, entities jsonb)`,
    [
      tenant,
      at,
      JSON.stringify(
        items.map((i) => ({ subscription_id: i.subscriptionId, entities: i.entities })),
      ),
    ],
  );
  // After the commit, every process listening wakes its worker at once.
  await notifyOnCommit(tx, NOTIFY_CHANNEL);
}

// --- the worker's side -----------------------------------------------------------------

export interface OutboxRow {
  id: number;
  tenant: string;
  subscription_id: string;
  kind: 'change' | 'periodic';
  entities: OutboxEntity[];
  committed_at: Date;
  attempts: number;
}

/** Due periodic subscriptions get one 'periodic' row each (unless one is still pending). */
export async function schedulePeriodic(db: Queryable, now: Date): Promise<number> {
  const { rowCount } = await db.query(
    `WITH due AS (
       SELECT tenant, id, time_interval FROM ngsi_subscriptions
        WHERE time_interval IS NOT NULL AND next_periodic_at <= $1 AND is_active
          AND (expires_at IS NULL OR expires_at > $1)
        ORDER BY next_periodic_at LIMIT 100
        FOR UPDATE SKIP LOCKED
     ), advanced AS (
       UPDATE ngsi_subscriptions s
          SET next_periodic_at = $1::timestamptz + make_interval(secs => due.time_interval)
         FROM due WHERE s.tenant = due.tenant AND s.id = due.id
       RETURNING s.tenant, s.id
     )
     INSERT INTO ngsi_notification_outbox (tenant, subscription_id, kind, committed_at, due_at)
     SELECT a.tenant, a.id, 'periodic', $1, $1 FROM advanced a
      WHERE NOT EXISTS (SELECT 1 FROM ngsi_notification_outbox o
                         WHERE o.tenant = a.tenant AND o.subscription_id = a.id AND o.kind = 'periodic')`,
    [now],
  );
  return rowCount;
}

/**
 * Leases up to `limit` rows, each the oldest pending row of its subscription, until
 * `leaseUntil`. A lease that runs out (the process died) makes the row claimable again.
 */
export async function claim(
  db: Queryable,
  worker: string,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    `UPDATE ngsi_notification_outbox o SET claimed_until = $2, claimed_by = $3
      WHERE o.id IN (
        SELECT h.id FROM ngsi_notification_outbox h
         WHERE h.due_at <= $1 AND (h.claimed_until IS NULL OR h.claimed_until < $1)
           AND NOT EXISTS (SELECT 1 FROM ngsi_notification_outbox p
                            WHERE p.tenant = h.tenant AND p.subscription_id = h.subscription_id
                              AND p.id < h.id)
         ORDER BY h.id LIMIT $4
         FOR UPDATE SKIP LOCKED)
     RETURNING o.id, o.tenant, o.subscription_id, o.kind, o.entities, o.committed_at, o.attempts`,
    [now, leaseUntil, worker, limit],
  );
  return rows.sort((a, b) => a.id - b.id);
}

/**
 * Leases change rows queued right behind `head` (up to `limit`, none past a periodic
 * row), so a backlog goes out as one notification holding the latest state of each
 * entity instead of one notification per change all showing that same state.
 */
export async function claimFollowers(
  db: Queryable,
  head: OutboxRow,
  worker: string,
  leaseUntil: Date,
  limit: number,
): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    `UPDATE ngsi_notification_outbox SET claimed_until = $4, claimed_by = $5
      WHERE id IN (
        SELECT f.id FROM ngsi_notification_outbox f
         WHERE f.tenant = $1 AND f.subscription_id = $2 AND f.id > $3 AND f.kind = 'change'
           AND NOT EXISTS (SELECT 1 FROM ngsi_notification_outbox p
                            WHERE p.tenant = f.tenant AND p.subscription_id = f.subscription_id
                              AND p.kind = 'periodic' AND p.id > $3 AND p.id < f.id)
         ORDER BY f.id LIMIT $6
         FOR UPDATE SKIP LOCKED)
     RETURNING id, tenant, subscription_id, kind, entities, committed_at, attempts`,
    [head.tenant, head.subscription_id, head.id, leaseUntil, worker, limit],
  );
  return rows.sort((a, b) => a.id - b.id);
}

/** Pushes a leased row back to `dueAt` without counting an attempt (throttling). */
export async function postpone(db: Queryable, ids: number[], dueAt: Date): Promise<void> {
  await db.query(
    'UPDATE ngsi_notification_outbox SET due_at = $2, claimed_until = NULL, claimed_by = NULL WHERE id = ANY($1::int8[])',
    [ids, dueAt],
  );
}

export interface DeliveryRecord {
  tenant: string;
  subscriptionId: string;
  /** Every row the notification covered; the first is the head. */
  ids: number[];
  outcome: 'sent' | 'failed' | 'skipped' | 'dropped';
  error?: string;
  retryAt?: Date;
}

/**
 * Records the outcome of one delivery — rows removed or rescheduled, status members
 * counted — in one statement (a data-modifying CTE), so it is atomic without a
 * transaction of its own.
 */
export async function complete(db: Queryable, r: DeliveryRecord, now: Date): Promise<void> {
  const rows =
    r.outcome === 'failed'
      ? `UPDATE ngsi_notification_outbox
            SET attempts = attempts + CASE WHEN id = $7::int8 THEN 1 ELSE 0 END,
                due_at = $8::timestamptz, claimed_until = NULL, claimed_by = NULL,
                last_error = CASE WHEN id = $7::int8 THEN $9::text ELSE last_error END
          WHERE id = ANY($1::int8[])`
      : 'DELETE FROM ngsi_notification_outbox WHERE id = ANY($1::int8[])';
  const counted = r.outcome !== 'skipped';
  const ok = r.outcome === 'sent';
  await db.query(
    `WITH done AS (${rows} RETURNING 1)
     UPDATE ngsi_subscriptions
        SET times_sent = times_sent + 1,
            times_failed = times_failed + $4::int,
            last_notification = $5::timestamptz,
            last_success = CASE WHEN $4::int = 0 THEN $5 ELSE last_success END,
            last_failure = CASE WHEN $4::int = 0 THEN last_failure ELSE $5 END,
            last_status = CASE WHEN $4::int = 0 THEN 'ok' ELSE 'failed' END
      WHERE tenant = $2 AND id = $3 AND $6::boolean`,
    [
      r.ids,
      r.tenant,
      r.subscriptionId,
      ok ? 0 : 1,
      now,
      counted,
      ...(r.outcome === 'failed'
        ? [r.ids[0], r.retryAt ?? now, (r.error ?? '').slice(0, 500)]
        : []),
    ],
  );
}

export type ClaimedSubscription = SubscriptionRecord & { throttling: number | null };

/** The subscriptions behind a set of claimed rows, with their throttling state. */
export async function subscriptionsFor(
  db: Queryable,
  keys: { tenant: string; id: string }[],
): Promise<Map<string, ClaimedSubscription>> {
  if (keys.length === 0) return new Map();
  const { rows } = await db.query<SubscriptionRow & { id: string; throttling: number | null }>(
    `SELECT id, throttling, ${COLUMNS} FROM ngsi_subscriptions s
      WHERE (tenant, id) IN (SELECT r.tenant, r.id FROM jsonb_to_recordset($1::jsonb) AS r(tenant text, id text))`,
    [JSON.stringify(keys)],
  );
  return new Map(
    rows.map((r) => [`${r.tenant}\u0000${r.id}`, { ...toRecord(r), throttling: r.throttling }]),
  );
}

/** Makes waiting rows whose endpoint is on `origin` (`mqtt://host:port`) due now. */
export async function retryEndpointNow(db: Queryable, origin: string, now: Date): Promise<number> {
  const { protocol, rest } = /^(?<protocol>[a-z]+:\/\/)(?<rest>.*)$/.exec(origin)!.groups!;
  const like = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
  const { rowCount } = await db.query(
    `UPDATE ngsi_notification_outbox o SET due_at = $1
       FROM ngsi_subscriptions s
      WHERE s.tenant = o.tenant AND s.id = o.subscription_id
        AND o.claimed_until IS NULL AND o.due_at > $1
        AND ((s.doc->'notification'->'endpoint'->>'uri') LIKE $2
             OR (s.doc->'notification'->'endpoint'->>'uri') LIKE $3)`,
    [now, `${like(protocol!)}${like(rest!)}/%`, `${like(protocol!)}%@${like(rest!)}/%`],
  );
  return rowCount;
}

export async function pendingCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int8 AS n FROM ngsi_notification_outbox',
  );
  return rows[0]!.n;
}
