/**
 * Time partitions of `ngsi_attribute_history` (one per calendar month of `modified_at`,
 * the time an instance was recorded) and the retention primitives built on them.
 *
 * A default partition catches rows outside the prepared months, so a write never fails
 * for want of a partition. `ensurePartitions` runs at boot and daily: it creates the
 * months around now ahead of time and moves any rows that landed in the default
 * partition into their month (so PostgreSQL can attach the new partition, and so
 * retention can drop it later). The same SQL runs on PGlite and PostgreSQL.
 */
import type { Database, Queryable } from '../platform/db/database.js';

const PARENT = 'ngsi_attribute_history';
const DEFAULT_PARTITION = 'ngsi_attribute_history_default';
const MAINTENANCE_LOCK = 0x0c9_0050;

/** Every stored column except the generated one, in table order. */
const COLUMNS =
  'seq, tenant, entity_id, attr, dataset_id, instance_id, op, instance, entity_types, observed_at, created_at, modified_at, deleted_at';

const monthStart = (d: Date, offset = 0) =>
  new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));

export const partitionName = (month: Date) =>
  `${PARENT}_${month.getUTCFullYear()}${String(month.getUTCMonth() + 1).padStart(2, '0')}`;

export interface HistoryPartition {
  name: string;
  /** Inclusive lower bound; null for the default partition. */
  from: Date | null;
  /** Exclusive upper bound; null for the default partition. */
  to: Date | null;
}

/** The partitions of the history table, oldest first, the default partition last. */
export async function listPartitions(db: Queryable): Promise<HistoryPartition[]> {
  const { rows } = await db.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname = $1`,
    [PARENT],
  );
  const out: HistoryPartition[] = rows.map((r) => {
    const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(r.bound);
    return m
      ? { name: r.name, from: new Date(m[1]!), to: new Date(m[2]!) }
      : { name: r.name, from: null, to: null };
  });
  return out.sort((a, b) =>
    a.from === null ? 1 : b.from === null ? -1 : a.from.getTime() - b.from.getTime(),
  );
}

/**
 * Makes sure monthly partitions exist from `monthsBehind` months before `now` to
 * `monthsAhead` months after it, and for every month that has rows in the default
 * partition. Several nodes may run this at once: one does the work under an advisory
 * lock, the others skip. Returns the partitions it created.
 */
export async function ensurePartitions(
  db: Database,
  now: Date,
  options: { monthsAhead?: number; monthsBehind?: number } = {},
): Promise<string[]> {
  const ahead = options.monthsAhead ?? 2;
  const behind = options.monthsBehind ?? 1;
  return db.transaction(async (tx) => {
    const { rows: lock } = await tx.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_xact_lock($1) AS ok',
      [MAINTENANCE_LOCK],
    );
    if (!lock[0]?.ok) return [];
    const existing = new Set((await listPartitions(tx)).map((p) => p.name));
    const wanted = new Map<string, Date>();
    for (let i = -behind; i <= ahead; i++) {
      const m = monthStart(now, i);
      wanted.set(partitionName(m), m);
    }
    const { rows: stray } = await tx.query<{ month: Date }>(
      `SELECT DISTINCT date_trunc('month', modified_at, 'UTC') AS month FROM ${DEFAULT_PARTITION}`,
    );
    for (const r of stray) wanted.set(partitionName(r.month), monthStart(r.month));
    const created: string[] = [];
    for (const [name, from] of [...wanted].sort((a, b) => a[1].getTime() - b[1].getTime())) {
      if (existing.has(name)) continue;
      const to = monthStart(from, 1);
      // Built detached, filled with the month's rows from the default partition, then
      // attached: PostgreSQL refuses to attach a range the default partition still holds.
      await tx.query(
        `CREATE TABLE ${name} (LIKE ${PARENT} INCLUDING DEFAULTS INCLUDING GENERATED)`,
      );
      await tx.query(
        `WITH moved AS (
           DELETE FROM ${DEFAULT_PARTITION} WHERE modified_at >= $1 AND modified_at < $2
           RETURNING ${COLUMNS})
         INSERT INTO ${name} (${COLUMNS}) SELECT ${COLUMNS} FROM moved`,
        [from, to],
      );
      await tx.query(
        `ALTER TABLE ${PARENT} ATTACH PARTITION ${name}
           FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
      );
      created.push(name);
    }
    return created;
  });
}

/** Which history rows a retention rule covers; omitted members match everything. */
export interface HistorySelector {
  tenant?: string;
  /** Expanded entity type IRIs: rows of entities having any of them. */
  types?: string[];
  /** Entity ids. */
  entityIds?: string[];
  /** A regular expression over entity ids. */
  idPattern?: string;
  /** Expanded attribute IRIs. */
  attrs?: string[];
}

/**
 * Retention: removes history recorded before `cutoff`. Without a selector whole monthly
 * partitions that end at or before the cutoff are dropped (instant, no table bloat) and
 * the remainder is deleted row by row; with a selector only matching rows are deleted
 * (partition pruning keeps that to the old months). Returns the rows removed.
 */
export async function deleteHistoryBefore(
  db: Database,
  cutoff: Date,
  selector: HistorySelector = {},
): Promise<{ droppedPartitions: string[]; deletedRows: number }> {
  return db.transaction(async (tx) => {
    const whole = Object.values(selector).every((v) => v === undefined);
    const dropped: string[] = [];
    let deletedRows = 0;
    if (whole) {
      for (const p of await listPartitions(tx)) {
        if (p.to === null || p.to.getTime() > cutoff.getTime()) continue;
        const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${p.name}`);
        deletedRows += rows[0]?.n ?? 0;
        await tx.query(`ALTER TABLE ${PARENT} DETACH PARTITION ${p.name}`);
        await tx.query(`DROP TABLE ${p.name}`);
        dropped.push(p.name);
      }
    }
    const params: unknown[] = [cutoff];
    const where = ['modified_at < $1'];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (selector.tenant !== undefined) add((p) => `tenant = ${p}`, selector.tenant);
    if (selector.types) add((p) => `entity_types && ${p}::text[]`, selector.types);
    if (selector.entityIds) add((p) => `entity_id = ANY(${p}::text[])`, selector.entityIds);
    if (selector.idPattern !== undefined) add((p) => `entity_id ~ ${p}`, selector.idPattern);
    if (selector.attrs) add((p) => `attr = ANY(${p}::text[])`, selector.attrs);
    const { rowCount } = await tx.query(
      `DELETE FROM ${PARENT} WHERE ${where.join(' AND ')}`,
      params,
    );
    return { droppedPartitions: dropped, deletedRows: deletedRows + rowCount };
  });
}
