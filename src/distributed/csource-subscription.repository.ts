/**
 * SQL for context source subscriptions and their notification outbox. Subscriptions are
 * few, so matching a registration change against them happens in TypeScript over the
 * tenant's active, unexpired rows, in the transaction of the change.
 */
import { notifyOnCommit, type Database, type Queryable } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import type { DeliveryStatus, SubscriptionDoc } from '../subscriptions/subscription.model.js';
import type {
  CSourceSelector,
  ParsedCSourceSubscription,
  TriggerReason,
} from './csource-subscription.model.js';

/** Committing writers NOTIFY this channel so delivery workers wake at once. */
export const CSOURCE_NOTIFY_CHANNEL = 'ocp_csource_notifications';

export interface CSourceSubscriptionRecord {
  tenant: string;
  id: string;
  doc: SubscriptionDoc;
  context: unknown;
  selectors: CSourceSelector[] | null;
  watchedAttrs: string[] | null;
  endpoint: string;
  expiresAt: Date | null;
  isActive: boolean;
  createdAt: Date;
  modifiedAt: Date;
  status: DeliveryStatus;
}

interface Row {
  tenant: string;
  id: string;
  doc: SubscriptionDoc;
  context: unknown;
  selectors: CSourceSelector[] | null;
  watched_attrs: string[] | null;
  endpoint: string;
  expires_at: Date | null;
  is_active: boolean;
  created_at: Date;
  modified_at: Date;
  times_sent: string | number;
  times_failed: string | number;
  last_notification: Date | null;
  last_success: Date | null;
  last_failure: Date | null;
  last_status: 'ok' | 'failed' | null;
}

const COLUMNS = `tenant, id, doc, context, selectors, watched_attrs, endpoint, expires_at, is_active,
  created_at, modified_at, times_sent, times_failed, last_notification, last_success,
  last_failure, last_status`;

const date = (d: Date | null) => (d ? new Date(d) : null);

function toRecord(r: Row): CSourceSubscriptionRecord {
  return {
    tenant: r.tenant,
    id: r.id,
    doc: r.doc,
    context: r.context,
    selectors: r.selectors,
    watchedAttrs: r.watched_attrs,
    endpoint: r.endpoint,
    expiresAt: date(r.expires_at),
    isActive: r.is_active,
    createdAt: new Date(r.created_at),
    modifiedAt: new Date(r.modified_at),
    status: {
      timesSent: Number(r.times_sent),
      timesFailed: Number(r.times_failed),
      lastNotification: date(r.last_notification),
      lastSuccess: date(r.last_success),
      lastFailure: date(r.last_failure),
      lastStatus: r.last_status,
    },
  };
}

function params(tenant: string, s: ParsedCSourceSubscription, context: unknown, now: Date) {
  return [
    tenant,
    s.doc.id,
    JSON.stringify(s.doc),
    context === undefined ? null : JSON.stringify(context),
    s.selectors === null ? null : JSON.stringify(s.selectors),
    s.watchedAttrs,
    s.endpoint,
    s.expiresAt,
    s.isActive,
    now,
  ];
}

export async function insertCSourceSubscription(
  tx: Queryable,
  tenant: string,
  s: ParsedCSourceSubscription,
  context: unknown,
  creator: Actor,
  now: Date,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO ngsi_csource_subscriptions
       (tenant, id, doc, context, selectors, watched_attrs, endpoint, expires_at, is_active,
        created_at, modified_at, creator)
     VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9, $10, $10, $11)
     ON CONFLICT (tenant, id) DO NOTHING`,
    [...params(tenant, s, context, now), JSON.stringify(creator)],
  );
  return (rowCount ?? 0) > 0;
}

export async function updateCSourceSubscription(
  tx: Queryable,
  tenant: string,
  s: ParsedCSourceSubscription,
  context: unknown,
  now: Date,
): Promise<void> {
  await tx.query(
    `UPDATE ngsi_csource_subscriptions SET doc = $3, context = $4, selectors = $5,
       watched_attrs = $6::text[], endpoint = $7, expires_at = $8, is_active = $9, modified_at = $10
     WHERE tenant = $1 AND id = $2`,
    params(tenant, s, context, now),
  );
}

export async function getCSourceSubscription(
  db: Queryable,
  tenant: string,
  id: string,
  forUpdate = false,
): Promise<CSourceSubscriptionRecord | null> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM ngsi_csource_subscriptions WHERE tenant = $1 AND id = $2${
      forUpdate ? ' FOR UPDATE' : ''
    }`,
    [tenant, id],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function listCSourceSubscriptions(
  db: Queryable,
  tenant: string,
  page: { limit: number; offset: number },
): Promise<{ items: CSourceSubscriptionRecord[]; total: number }> {
  const [{ rows }, count] = await Promise.all([
    db.query<Row>(
      `SELECT ${COLUMNS} FROM ngsi_csource_subscriptions WHERE tenant = $1
        ORDER BY id LIMIT $2 OFFSET $3`,
      [tenant, page.limit, page.offset],
    ),
    db.query<{ n: string | number }>(
      'SELECT count(*) AS n FROM ngsi_csource_subscriptions WHERE tenant = $1',
      [tenant],
    ),
  ]);
  return { items: rows.map(toRecord), total: Number(count.rows[0]?.n ?? 0) };
}

export async function deleteCSourceSubscription(
  tx: Queryable,
  tenant: string,
  id: string,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    'DELETE FROM ngsi_csource_subscriptions WHERE tenant = $1 AND id = $2',
    [tenant, id],
  );
  return (rowCount ?? 0) > 0;
}

/** The tenant's subscriptions that may notify now: active and unexpired. */
export async function liveCSourceSubscriptions(
  tx: Queryable,
  tenant: string,
  now: Date,
): Promise<CSourceSubscriptionRecord[]> {
  const { rows } = await tx.query<Row>(
    `SELECT ${COLUMNS} FROM ngsi_csource_subscriptions
      WHERE tenant = $1 AND is_active AND (expires_at IS NULL OR expires_at > $2)
      ORDER BY id`,
    [tenant, now],
  );
  return rows.map(toRecord);
}

export interface CSourceOutboxWrite {
  subscriptionId: string;
  reason: TriggerReason;
  registration: Record<string, unknown>;
}

/** Queues notifications in the caller's transaction and wakes the workers on commit. */
export async function enqueueCSourceNotifications(
  tx: Queryable,
  tenant: string,
  items: readonly CSourceOutboxWrite[],
  now: Date,
): Promise<void> {
  if (items.length === 0) return;
  await tx.query(
    `INSERT INTO ngsi_csource_notification_outbox
       (tenant, subscription_id, trigger_reason, registration, committed_at, due_at)
     SELECT $1, x.subscription_id, x.reason, x.registration, $2, $2
       FROM jsonb_to_recordset($3::jsonb)
         AS x(subscription_id text, reason text, registration jsonb)`,
    [
      tenant,
      now,
      JSON.stringify(
        items.map((i) => ({
          subscription_id: i.subscriptionId,
          reason: i.reason,
          registration: i.registration,
        })),
      ),
    ],
  );
  await notifyOnCommit(tx, CSOURCE_NOTIFY_CHANNEL);
}

export interface CSourceOutboxRow {
  id: number;
  tenant: string;
  subscriptionId: string;
  reason: TriggerReason;
  registration: Record<string, unknown>;
  committedAt: Date;
  attempts: number;
  /** The subscription's stored document and @context, for the endpoint and format. */
  doc: SubscriptionDoc;
  context: unknown;
  /** Who created the subscription, as recorded then. */
  creator: Actor;
}

/**
 * Leases up to `limit` due rows (oldest first) until `leaseUntil`. Rows of paused or
 * expired subscriptions are left where they are; they are sent if it is resumed.
 */
export async function claimCSourceNotifications(
  db: Queryable,
  worker: string,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<CSourceOutboxRow[]> {
  const { rows } = await db.query<{
    id: string | number;
    tenant: string;
    subscription_id: string;
    trigger_reason: TriggerReason;
    registration: Record<string, unknown>;
    committed_at: Date;
    attempts: number;
    doc: SubscriptionDoc;
    context: unknown;
    creator: Actor;
  }>(
    `WITH due AS (
       SELECT o.id FROM ngsi_csource_notification_outbox o
         JOIN ngsi_csource_subscriptions s
           ON s.tenant = o.tenant AND s.id = o.subscription_id
        WHERE o.due_at <= $1 AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
          AND s.is_active AND (s.expires_at IS NULL OR s.expires_at > $1)
        ORDER BY o.id LIMIT $4
        FOR UPDATE OF o SKIP LOCKED
     ), leased AS (
       UPDATE ngsi_csource_notification_outbox o SET claimed_until = $2, claimed_by = $3
         FROM due WHERE o.id = due.id
       RETURNING o.id, o.tenant, o.subscription_id, o.trigger_reason, o.registration,
                 o.committed_at, o.attempts
     )
     SELECT l.*, s.doc, s.context, s.creator FROM leased l
       JOIN ngsi_csource_subscriptions s ON s.tenant = l.tenant AND s.id = l.subscription_id
      ORDER BY l.id`,
    [now, leaseUntil, worker, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    tenant: r.tenant,
    subscriptionId: r.subscription_id,
    reason: r.trigger_reason,
    registration: r.registration,
    committedAt: new Date(r.committed_at),
    attempts: r.attempts,
    doc: r.doc,
    context: r.context,
    creator: r.creator,
  }));
}

export type CSourceDelivery =
  | { outcome: 'sent' }
  | { outcome: 'failed'; error: string; retryAt: Date }
  | { outcome: 'dropped'; error: string };

/** Records a delivery attempt on the row and on its subscription's status, together. */
export async function completeCSourceNotification(
  db: Database,
  row: CSourceOutboxRow,
  worker: string,
  result: CSourceDelivery,
  now: Date,
): Promise<void> {
  // The subscription row first, as deleting a subscription (which cascades to its rows)
  // does: the same lock order, so the two never deadlock.
  await db.transaction(async (tx) => {
    const ok = result.outcome === 'sent';
    await tx.query(
      `UPDATE ngsi_csource_subscriptions
          SET times_sent = times_sent + 1,
              times_failed = times_failed + $4,
              last_notification = $3,
              last_success = CASE WHEN $5 THEN $3 ELSE last_success END,
              last_failure = CASE WHEN $5 THEN last_failure ELSE $3 END,
              last_status = CASE WHEN $5 THEN 'ok' ELSE 'failed' END
        WHERE tenant = $1 AND id = $2`,
      [row.tenant, row.subscriptionId, now, ok ? 0 : 1, ok],
    );
    if (result.outcome === 'failed') {
      await tx.query(
        `UPDATE ngsi_csource_notification_outbox
            SET attempts = attempts + 1, due_at = $3, claimed_until = NULL, claimed_by = NULL,
                last_error = $4
          WHERE id = $1 AND claimed_by = $2`,
        [row.id, worker, result.retryAt, result.error.slice(0, 500)],
      );
    } else {
      await tx.query('DELETE FROM ngsi_csource_notification_outbox WHERE id = $1', [row.id]);
    }
  });
}
