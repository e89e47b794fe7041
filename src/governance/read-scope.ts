/**
 * Dataset policies compiled into SQL. Every NGSI-LD read (retrieve, query, count, batch
 * query, geo-queries, discovery, notifications) filters entities with `readScopeSql` and
 * projects their attributes with `readAttrsSql`, so hidden entities and attributes
 * never reach JavaScript and never change counts or page boundaries.
 *
 * An entity row `e` is readable by a caller when
 *   - the caller is an admin, or
 *   - the caller's organisation owns it (publishers see their own data), or
 *   - a dataset covers it and the dataset is `open`, or the caller's organisation holds
 *     a grant on it for the stated purpose that is in its validity window, not revoked
 *     and not over its daily quota.
 * A dataset covers an entity when tenant, publisher organisation (= owner), one of the
 * types and the optional id pattern match. Data no dataset covers stays with its owner.
 */

import type { Queryable } from '../platform/db/database.js';

export interface ReadScope {
  org: string | null;
  purpose: string | null;
  at: Date;
}

type Param = (value: unknown) => string;

function covers(d: string, e: string): string {
  return `${d}.tenant = ${e}.tenant AND ${d}.types && ${e}.types
      AND ${d}.publisher_org IS NOT DISTINCT FROM ${e}.owner_org
      AND (${d}.id_pattern IS NULL OR ${e}.id ~ ${d}.id_pattern)`;
}

/** SQL: the caller's organisation holds a grant in force on dataset `d` for its purpose. */
export function grantedSql(scope: ReadScope, d: string, param: Param): string {
  if (scope.org === null || scope.purpose === null) return 'FALSE';
  const at = param(scope.at.toISOString());
  return `EXISTS (SELECT 1 FROM gov_grants g
      WHERE g.dataset_id = ${d}.id AND g.consumer_org = ${param(scope.org)}
        AND g.purpose = ${param(scope.purpose)} AND g.revoked_at IS NULL
        AND g.valid_from <= ${at}::timestamptz AND g.valid_until > ${at}::timestamptz
        AND (g.quota_per_day IS NULL OR COALESCE((SELECT u.requests FROM gov_usage u
              WHERE u.grant_id = g.id AND u.day = (${at}::timestamptz AT TIME ZONE 'UTC')::date), 0)
            < g.quota_per_day))`;
}

/** SQL boolean: entity row `e` is readable under `scope`. */
export function readScopeSql(scope: ReadScope, e: string, param: Param): string {
  const parts: string[] = [];
  if (scope.org !== null) parts.push(`${e}.owner_org = ${param(scope.org)}`);
  parts.push(`EXISTS (SELECT 1 FROM gov_datasets d WHERE ${covers('d', e)}
      AND (d.classification = 'open' OR ${grantedSql(scope, 'd', param)}))`);
  return `(${parts.join(' OR ')})`;
}

/**
 * SQL: the view through which the caller reads attribute `key` (a SQL text expression)
 * of entity row `e` — one row (dataset_id, grid, bucket, k) naming the readable covering
 * dataset that allows the attribute, preferring one that shows it untransformed (a grant
 * without `applyToGrants`), with the transforms that apply to the caller (NULL when
 * none); no row when the caller may not read the attribute at all. The current-state
 * view (`readAttrsSql`) and the temporal history view (`attributeViewsSql`) both decide
 * here, so they always agree.
 */
function attrViewSql(scope: ReadScope, e: string, key: string, param: Param): string {
  const granted = grantedSql(scope, 'd', param);
  return `SELECT d.id AS dataset_id,
                 CASE WHEN x.transformed THEN (d.transforms->>'locationGridMetres')::float8 END AS grid,
                 CASE WHEN x.transformed THEN (d.transforms->>'observedAtBucketSeconds')::int END AS bucket,
                 CASE WHEN x.transformed THEN (d.transforms->>'kAnonymity')::int END AS k
            FROM gov_datasets d
            CROSS JOIN LATERAL (SELECT ${granted} AS granted) AS g
            CROSS JOIN LATERAL (SELECT (NOT g.granted
                  OR COALESCE((d.transforms->>'applyToGrants')::boolean, FALSE)) AS transformed) AS x
           WHERE ${covers('d', e)}
             AND (d.classification = 'open' OR g.granted)
             AND (d.attrs IS NULL OR ${key} = ANY(d.attrs))
             AND NOT (x.transformed AND COALESCE(d.transforms->'dropAttrs', '[]'::jsonb) ? ${key})
           ORDER BY x.transformed, d.id
           LIMIT 1`;
}

/**
 * SQL jsonb: the attributes of `e` the caller may read, transformed as the dataset says.
 * Owners read everything as stored. Others read each attribute through the view
 * `attrViewSql` picks — minus the attributes that dataset drops, with locations and
 * observedAt coarsened by its transforms when the caller sees it as open data (or the
 * transforms apply to grants too).
 */
export function readAttrsSql(scope: ReadScope, e: string, param: Param): string {
  const owner = scope.org === null ? 'FALSE' : `${e}.owner_org = ${param(scope.org)}`;
  return `CASE WHEN ${owner} THEN ${e}.attrs ELSE COALESCE((
      SELECT jsonb_object_agg(k.key, gov_coarsen(k.value, t.grid, t.bucket))
        FROM jsonb_each(${e}.attrs) AS k
        CROSS JOIN LATERAL (${attrViewSql(scope, e, 'k.key', param)}) AS t
    ), '{}'::jsonb) END`;
}

/**
 * SQL int: the bucket (seconds) to which a non-owner reads the system times of entity `e`
 * (createdAt, modifiedAt) — NULL when a readable covering dataset shows the entity
 * untransformed or none coarsens time, else the coarsest observedAt bucket of the
 * datasets it is read through. Time coarsening hides when things happened; exact write
 * times would tell the same.
 */
function entityBucketSql(scope: ReadScope, e: string, param: Param): string {
  const granted = grantedSql(scope, 'd', param);
  return `(SELECT CASE WHEN bool_or(NOT x.transformed) THEN NULL
              ELSE max((d.transforms->>'observedAtBucketSeconds')::int) END
       FROM gov_datasets d
       CROSS JOIN LATERAL (SELECT ${granted} AS granted) AS g
       CROSS JOIN LATERAL (SELECT (NOT g.granted
             OR COALESCE((d.transforms->>'applyToGrants')::boolean, FALSE)) AS transformed) AS x
      WHERE ${covers('d', e)} AND (d.classification = 'open' OR g.granted))`;
}

/**
 * SQL select-list fragment: `attrs`, `created_at` and `modified_at` of entity row `e` as
 * the caller reads them (attributes by `readAttrsSql`, system times floored to the
 * entity's bucket by `entityBucketSql`; owners read everything as stored).
 */
export function readViewSql(scope: ReadScope, e: string, param: Param): string {
  const owner = scope.org === null ? 'FALSE' : `${e}.owner_org = ${param(scope.org)}`;
  const time = (col: string) =>
    `CASE WHEN ${owner} THEN ${e}.${col}
      ELSE gov_floor_time(${e}.${col}, ${entityBucketSql(scope, e, param)}) END AS ${col}`;
  return `${readAttrsSql(scope, e, param)} AS attrs, ${time('created_at')}, ${time('modified_at')}`;
}

/** How the caller reads the history of one attribute of one entity. */
export interface AttributeView {
  entityId: string;
  attr: string;
  /** Governance dataset the attribute is read through; null for owners. */
  datasetId: string | null;
  grid: number | null;
  bucket: number | null;
  k: number | null;
}

/**
 * SQL listing, for the (entity id, attribute) pairs in the text-array parameters `ids`
 * and `attrs` of tenant `tenant`, the view each is read through (columns of
 * `AttributeView`, snake case). Pairs the caller may not read are left out; owned
 * entities are read as stored.
 */
export function attributeViewsSql(
  scope: ReadScope,
  tenant: string,
  ids: string,
  attrs: string,
  param: Param,
): string {
  const owner = scope.org === null ? 'FALSE' : `e.owner_org = ${param(scope.org)}`;
  return `SELECT p.entity_id, p.attr, t.dataset_id, t.grid, t.bucket, t.k
       FROM unnest(${ids}::text[], ${attrs}::text[]) AS p(entity_id, attr)
       JOIN ngsi_entities e ON e.tenant = ${tenant} AND e.id = p.entity_id
       CROSS JOIN LATERAL (
         SELECT NULL::text AS dataset_id, NULL::float8 AS grid, NULL::int AS bucket, NULL::int AS k
          WHERE ${owner}
         UNION ALL
         (SELECT * FROM (${attrViewSql(scope, 'e', 'p.attr', param)}) v WHERE (${owner}) IS NOT TRUE)
       ) AS t`;
}

/** The views of these pairs for a reader (see `attributeViewsSql`); unreadable pairs are absent. */
export async function attributeViews(
  db: Queryable,
  scope: ReadScope,
  tenant: string,
  pairs: readonly { entityId: string; attr: string }[],
): Promise<AttributeView[]> {
  if (pairs.length === 0) return [];
  const values: unknown[] = [];
  const param: Param = (v) => {
    values.push(v);
    return `$${values.length}`;
  };
  const t = param(tenant);
  const ids = param(pairs.map((p) => p.entityId));
  const attrs = param(pairs.map((p) => p.attr));
  const { rows } = await db.query<{
    entity_id: string;
    attr: string;
    dataset_id: string | null;
    grid: number | null;
    bucket: number | null;
    k: number | null;
  }>(attributeViewsSql(scope, t, ids, attrs, param), values);
  return rows.map((r) => ({
    entityId: r.entity_id,
    attr: r.attr,
    datasetId: r.dataset_id,
    grid: r.grid === null ? null : Number(r.grid),
    bucket: r.bucket === null ? null : Number(r.bucket),
    k: r.k === null ? null : Number(r.k),
  }));
}
