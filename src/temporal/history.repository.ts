/**
 * SQL over `ngsi_attribute_history` for the temporal API. Reads go one (entity,
 * attribute) pair at a time through a LATERAL join, so each pair is an index range scan
 * on (tenant, entity_id, attr, <time>) with its own LIMIT, and aggregates are computed
 * by PostgreSQL (GROUP BY period) — never by loading instances into the process.
 */
import type { Instance } from '../context/entities/entity.model.js';
import type { Queryable } from '../platform/db/database.js';
import type { AggrMethod, Duration, TemporalQuery, TimeProperty } from './temporal.params.js';

const TIME_COLUMN: Record<TimeProperty, string> = {
  observedAt: 'observed_at',
  createdAt: 'created_at',
  modifiedAt: 'modified_at',
};

/** Which attribute of which entity a read covers. */
export interface AttrPair {
  entityId: string;
  attr: string;
  /**
   * Privacy transforms for this reader (src/governance/read-scope.ts): Point locations
   * snapped to a grid of `grid` metres, observedAt floored to `bucket` seconds, and
   * aggregate buckets shown only when at least `k` distinct entities read through the
   * same governance dataset (`group`) contribute to them. Absent: read as stored.
   */
  grid?: number | null;
  bucket?: number | null;
  k?: number | null;
  group?: string | null;
}

export interface InstanceRow {
  entity_id: string;
  attr: string;
  dataset_id: string;
  instance_id: string;
  instance: Instance;
  observed_at: Date | null;
  created_at: Date;
  modified_at: Date;
  /** The value of the time property the query ordered by. */
  t: Date;
}

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Whether any pair is read through a time-coarsening transform. */
const coarsens = (pairs: readonly AttrPair[]) =>
  pairs.some((x) => x.bucket !== undefined && x.bucket !== null);

/**
 * A history time column as the reader may see it: floored to the pair's bucket when a
 * transform coarsens time (`coarse`); the bare column otherwise, so reads without
 * transforms (owners, admins) keep the plain per-row cost.
 */
function floorSql(col: string, coarse: boolean): string {
  return coarse ? `gov_floor_time(${col}, p.bucket)` : col;
}

/** The time the query orders, filters and groups by, as the reader may see it. */
function timeSql(q: TemporalQuery, coarse: boolean): string {
  return floorSql(`h.${TIME_COLUMN[q.timeproperty]}`, coarse);
}

/**
 * A time bound as compared with the exact column: a coarsened time floor(x/b)·b is ≥ T
 * exactly when x ≥ ceil(T/b)·b, so filtering on the coarsened time keeps the index range
 * scan on the exact column — and a reader cannot find an exact observedAt by narrowing
 * the time window.
 */
function boundSql(value: string, coarse: boolean): string {
  if (!coarse) return value;
  return `(CASE WHEN p.bucket IS NULL THEN ${value}::timestamptz
      ELSE to_timestamp(ceil(extract(epoch FROM ${value}::timestamptz) / p.bucket) * p.bucket) END)`;
}

/** The instance as the reader may see it (coarsened by the pair's transforms). */
const INSTANCE_SQL = `(CASE WHEN p.grid IS NULL AND p.bucket IS NULL THEN h.instance
    ELSE gov_coarsen_instance(h.instance, p.grid, p.bucket) END)`;

/** WHERE conditions on the history alias `h` for one temporal query. */
function timeConditions(
  q: TemporalQuery,
  p: Params,
  coarse: boolean,
  datasetIds?: readonly string[],
): string {
  const col = `h.${TIME_COLUMN[q.timeproperty]}`;
  const parts = [`${col} IS NOT NULL`, `h.op <> 'delete'`];
  const bound = (value: unknown) => boundSql(p.add(value), coarse);
  if (q.timerel === 'before') parts.push(`${col} < ${bound(q.timeAt)}`);
  if (q.timerel === 'after') parts.push(`${col} >= ${bound(q.timeAt)}`);
  if (q.timerel === 'between') {
    parts.push(`${col} >= ${bound(q.timeAt)}`, `${col} < ${bound(q.endTimeAt)}`);
  }
  if (datasetIds) {
    parts.push(
      `h.dataset_id = ANY(${p.add(datasetIds.map((d) => (d === '@none' ? '' : d)))}::text[])`,
    );
  }
  return parts.join(' AND ');
}

function pairsSql(pairs: readonly AttrPair[], p: Params): string {
  return `unnest(${p.add(pairs.map((x) => x.entityId))}::text[], ${p.add(
    pairs.map((x) => x.attr),
  )}::text[], ${p.add(pairs.map((x) => x.grid ?? null))}::float8[], ${p.add(
    pairs.map((x) => x.bucket ?? null),
  )}::int[], ${p.add(pairs.map((x) => x.k ?? null))}::int[], ${p.add(
    pairs.map((x) => x.group ?? null),
  )}::text[]) WITH ORDINALITY AS p(entity_id, attr, grid, bucket, k, grp, n)`;
}

/**
 * Instances per pair in time order: the first `limit` (ascending), or with lastN the
 * most recent ones (returned newest first; the caller reverses).
 */
export async function selectInstances(
  db: Queryable,
  tenant: string,
  pairs: readonly AttrPair[],
  q: TemporalQuery,
  limit: number,
  datasetIds?: readonly string[],
): Promise<InstanceRow[]> {
  if (pairs.length === 0) return [];
  const p = new Params();
  const tenantParam = p.add(tenant);
  const source = pairsSql(pairs, p);
  const coarse = coarsens(pairs);
  const where = timeConditions(q, p, coarse, datasetIds);
  const col = `h.${TIME_COLUMN[q.timeproperty]}`;
  const dir = q.lastN !== undefined ? 'DESC' : 'ASC';
  const { rows } = await db.query<InstanceRow>(
    `SELECT p.entity_id, p.attr, x.dataset_id, x.instance_id, x.instance, x.observed_at,
            x.created_at, x.modified_at, x.t
       FROM ${source}
       CROSS JOIN LATERAL (
         SELECT h.dataset_id, h.instance_id, ${INSTANCE_SQL} AS instance,
                ${floorSql('h.observed_at', coarse)} AS observed_at,
                ${floorSql('h.created_at', coarse)} AS created_at,
                ${floorSql('h.modified_at', coarse)} AS modified_at, ${timeSql(q, coarse)} AS t
           FROM ngsi_attribute_history h
          WHERE h.tenant = ${tenantParam} AND h.entity_id = p.entity_id AND h.attr = p.attr
            AND ${where}
          ORDER BY ${col} ${dir}, h.seq ${dir}
          LIMIT ${p.add(limit)}) x`,
    p.values,
  );
  return rows;
}

export interface AggregateRow {
  entity_id: string;
  attr: string;
  dataset_id: string;
  /** Start of the period; null when the whole range is one period. */
  bucket: Date | null;
  first_t: Date;
  last_t: Date;
  /** The value of each requested method. */
  [method: string]: unknown;
}

/**
 * The stored value member of any attribute kind, for distinctCount — for a GeoProperty
 * read through a location grid, the snapped value (the only member transforms change).
 */
const VALUE_DOCUMENT = `(CASE WHEN p.grid IS NOT NULL AND h.instance ->> 'type' = 'GeoProperty'
  THEN gov_coarsen_instance(h.instance, p.grid, NULL) -> 'value'
  ELSE coalesce(h.instance -> 'value', h.instance -> 'object',
  h.instance -> 'languageMap', h.instance -> 'json', h.instance -> 'vocab',
  h.instance -> 'valueList', h.instance -> 'objectList') END)`;

const METHOD_SQL: Record<AggrMethod, string> = {
  totalCount: 'count(*)::int8',
  distinctCount: `count(DISTINCT ${VALUE_DOCUMENT})::int8`,
  sum: 'sum(h.num_value)',
  avg: 'avg(h.num_value)',
  min: 'min(h.num_value)',
  max: 'max(h.num_value)',
  stddev: 'stddev_samp(h.num_value)',
  sumsq: 'sum(h.num_value * h.num_value)',
};

/** A numeric result as a double, or null where it is beyond the double range. */
const asDouble = (numeric: string) =>
  `(SELECT CASE WHEN abs(x) <= 1.7976931348623157e308 THEN x::float8 END FROM (SELECT ${numeric} AS x) n)`;

/**
 * The same methods computed exactly in numeric, used only when the double arithmetic
 * above overflows (stored values near the double range): slower, but never an error.
 */
const EXACT_METHOD_SQL: Record<AggrMethod, string> = {
  ...METHOD_SQL,
  sum: asDouble('sum(h.num_value::numeric)'),
  avg: asDouble('avg(h.num_value::numeric)'),
  stddev: asDouble('stddev_samp(h.num_value::numeric)'),
  sumsq: asDouble('sum(h.num_value::numeric * h.num_value::numeric)'),
};

/** PostgreSQL's "numeric value out of range" (float overflow in an aggregate). */
const OUT_OF_RANGE = '22003';

/** Periods are counted from this instant when the query gives no start (UTC midnight). */
export const DEFAULT_ORIGIN = new Date('1970-01-01T00:00:00Z');

/**
 * Aggregates per pair, period and dataset, rows in period order. The dataset key
 * compares bytewise: sorting on a collated text key cost more than the aggregate itself.
 * Periods of days/hours/… are `date_bin` slots from `origin`; periods of months/years
 * are whole calendar months from `origin`.
 */
export async function aggregateInstances(
  db: Queryable,
  tenant: string,
  pairs: readonly AttrPair[],
  q: TemporalQuery,
  methods: readonly AggrMethod[],
  period: Duration | null,
  origin: Date,
  datasetIds?: readonly string[],
): Promise<AggregateRow[]> {
  const run = (sql: Record<AggrMethod, string>) =>
    aggregateWith(sql, db, tenant, pairs, q, methods, period, origin, datasetIds);
  try {
    return await run(METHOD_SQL);
  } catch (error) {
    if ((error as { code?: string }).code !== OUT_OF_RANGE) throw error;
    return run(EXACT_METHOD_SQL);
  }
}

async function aggregateWith(
  methodSql: Record<AggrMethod, string>,
  db: Queryable,
  tenant: string,
  pairs: readonly AttrPair[],
  q: TemporalQuery,
  methods: readonly AggrMethod[],
  period: Duration | null,
  origin: Date,
  datasetIds?: readonly string[],
): Promise<AggregateRow[]> {
  if (pairs.length === 0) return [];
  const p = new Params();
  const tenantParam = p.add(tenant);
  const source = pairsSql(pairs, p);
  const coarse = coarsens(pairs);
  const where = timeConditions(q, p, coarse, datasetIds);
  const col = timeSql(q, coarse);
  let bucket = 'NULL::timestamptz';
  if (period && period.months === 0) {
    bucket = `date_bin(${p.add(`${period.millis} milliseconds`)}::interval, ${col}, ${p.add(origin)}::timestamptz)`;
  } else if (period) {
    const o = p.add(origin);
    const m = p.add(period.months);
    bucket = `(${o}::timestamptz + make_interval(months => (((extract(year FROM age(${col}, ${o}::timestamptz)) * 12
      + extract(month FROM age(${col}, ${o}::timestamptz)))::int / ${m}::int) * ${m}::int)))`;
  }
  const selected = methods.map((m) => `${methodSql[m]} AS "${m}"`).join(', ');
  // k-anonymity: a bucket read through a dataset with a threshold k is kept only when
  // at least k distinct entities of this response, read through the same dataset,
  // contribute to the same attribute and period (each NGSI-LD bucket is one entity's).
  const { rows } = await db.query<AggregateRow>(
    `WITH r AS (
       SELECT p.n AS gov_n, p.k AS gov_k, p.grp AS gov_group, p.entity_id, p.attr, a.*
         FROM ${source}
         CROSS JOIN LATERAL (
           SELECT ${bucket} AS bucket, h.dataset_id COLLATE "C" AS dataset_id,
                  min(${col}) AS first_t, max(${col}) AS last_t, ${selected}
             FROM ngsi_attribute_history h
            WHERE h.tenant = ${tenantParam} AND h.entity_id = p.entity_id AND h.attr = p.attr
              AND ${where}
            GROUP BY 1, 2) a)
     SELECT * FROM r
      WHERE r.gov_k IS NULL
         OR (SELECT count(DISTINCT c.entity_id) FROM r c
              WHERE c.gov_group = r.gov_group AND c.attr = r.attr
                AND c.bucket IS NOT DISTINCT FROM r.bucket) >= r.gov_k
      ORDER BY r.gov_n, r.bucket, r.dataset_id`,
    p.values,
  );
  return rows;
}

/** The attribute kind of each pair's most recent instance (for aggregated output). */
export async function latestKinds(
  db: Queryable,
  tenant: string,
  pairs: readonly AttrPair[],
): Promise<Map<string, string>> {
  if (pairs.length === 0) return new Map();
  const p = new Params();
  const tenantParam = p.add(tenant);
  const { rows } = await db.query<{ entity_id: string; attr: string; kind: string }>(
    `SELECT p.entity_id, p.attr, x.kind
       FROM ${pairsSql(pairs, p)}
       CROSS JOIN LATERAL (
         SELECT h.instance ->> 'type' AS kind FROM ngsi_attribute_history h
          WHERE h.tenant = ${tenantParam} AND h.entity_id = p.entity_id AND h.attr = p.attr
            AND h.op <> 'delete'
          ORDER BY h.modified_at DESC LIMIT 1) x`,
    p.values,
  );
  return new Map(rows.map((r) => [`${r.entity_id}\u0000${r.attr}`, r.kind]));
}

/** Attributes with history for these entities (the attributes a temporal entity has). */
export async function attributesWithHistory(
  db: Queryable,
  tenant: string,
  entityIds: readonly string[],
): Promise<AttrPair[]> {
  if (entityIds.length === 0) return [];
  const { rows } = await db.query<{ entity_id: string; attr: string }>(
    `SELECT DISTINCT entity_id, attr FROM ngsi_attribute_history
      WHERE tenant = $1 AND entity_id = ANY($2::text[]) AND op <> 'delete'`,
    [tenant, entityIds],
  );
  return rows.map((r) => ({ entityId: r.entity_id, attr: r.attr }));
}

export async function deleteEntityHistory(
  tx: Queryable,
  tenant: string,
  entityId: string,
): Promise<number> {
  const { rowCount } = await tx.query(
    'DELETE FROM ngsi_attribute_history WHERE tenant = $1 AND entity_id = $2',
    [tenant, entityId],
  );
  return rowCount;
}

/** Deletes an attribute's instances: one dataset ('' = default), or all with null. */
export async function deleteAttributeHistory(
  tx: Queryable,
  tenant: string,
  entityId: string,
  attr: string,
  datasetId: string | null,
): Promise<number> {
  const { rowCount } = await tx.query(
    `DELETE FROM ngsi_attribute_history
      WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND ($4::text IS NULL OR dataset_id = $4)
        AND op <> 'delete'`,
    [tenant, entityId, attr, datasetId],
  );
  return rowCount;
}

/** Replaces one instance (keeping its instanceId and dataset); false when absent. */
export async function updateInstance(
  tx: Queryable,
  tenant: string,
  entityId: string,
  attr: string,
  instanceId: string,
  instance: Instance,
  now: Date,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE ngsi_attribute_history
        SET instance = $5::jsonb, observed_at = $6, modified_at = $7
      WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4 AND op <> 'delete'`,
    [
      tenant,
      entityId,
      attr,
      instanceId,
      JSON.stringify(instance),
      typeof instance.observedAt === 'string' ? instance.observedAt : null,
      now,
    ],
  );
  return rowCount > 0;
}

export async function deleteInstance(
  tx: Queryable,
  tenant: string,
  entityId: string,
  attr: string,
  instanceId: string,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `DELETE FROM ngsi_attribute_history
      WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4 AND op <> 'delete'`,
    [tenant, entityId, attr, instanceId],
  );
  return rowCount > 0;
}

/** The dataset of an instance, to keep it when the instance is replaced. */
export async function instanceDataset(
  db: Queryable,
  tenant: string,
  entityId: string,
  attr: string,
  instanceId: string,
): Promise<string | null> {
  const { rows } = await db.query<{ dataset_id: string }>(
    `SELECT dataset_id FROM ngsi_attribute_history
      WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4 AND op <> 'delete'`,
    [tenant, entityId, attr, instanceId],
  );
  return rows[0]?.dataset_id ?? null;
}
