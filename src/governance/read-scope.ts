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
 * SQL jsonb: the attributes of `e` the caller may read, transformed as the dataset says.
 * Owners read everything as stored. Others read each attribute through one readable
 * covering dataset that allows it — preferring one that shows it untransformed (a grant
 * without `applyToGrants`) — minus the attributes that dataset drops, with locations and
 * observedAt coarsened by its transforms when the caller sees it as open data (or the
 * transforms apply to grants too).
 */
export function readAttrsSql(scope: ReadScope, e: string, param: Param): string {
  const owner = scope.org === null ? 'FALSE' : `${e}.owner_org = ${param(scope.org)}`;
  const granted = grantedSql(scope, 'd', param);
  return `CASE WHEN ${owner} THEN ${e}.attrs ELSE COALESCE((
      SELECT jsonb_object_agg(k.key, gov_coarsen(k.value, t.grid, t.bucket))
        FROM jsonb_each(${e}.attrs) AS k
        CROSS JOIN LATERAL (
          SELECT CASE WHEN x.transformed THEN (d.transforms->>'locationGridMetres')::float8 END AS grid,
                 CASE WHEN x.transformed THEN (d.transforms->>'observedAtBucketSeconds')::int END AS bucket
            FROM gov_datasets d
            CROSS JOIN LATERAL (SELECT ${granted} AS granted) AS g
            CROSS JOIN LATERAL (SELECT (NOT g.granted
                  OR COALESCE((d.transforms->>'applyToGrants')::boolean, FALSE)) AS transformed) AS x
           WHERE ${covers('d', e)}
             AND (d.classification = 'open' OR g.granted)
             AND (d.attrs IS NULL OR k.key = ANY(d.attrs))
             AND NOT (x.transformed AND COALESCE(d.transforms->'dropAttrs', '[]'::jsonb) ? k.key)
           ORDER BY x.transformed, d.id
           LIMIT 1) AS t
    ), '{}'::jsonb) END`;
}
