-- Privacy transforms applied in SQL to attribute instances on the way out (see
-- src/governance/read-scope.ts): Point locations snapped to a grid of `grid_m` metres,
-- observedAt floored to buckets of `bucket_s` seconds. NULL leaves that aspect alone.

CREATE FUNCTION gov_coarsen_instance(i jsonb, grid_m double precision, bucket_s integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT CASE
           WHEN bucket_s IS NOT NULL AND p ? 'observedAt' THEN jsonb_set(
             p, '{observedAt}',
             to_jsonb(to_char(
               to_timestamp(floor(extract(epoch FROM (p->>'observedAt')::timestamptz) / bucket_s) * bucket_s)
                 AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
           ELSE p
         END
    FROM (SELECT CASE
                   WHEN grid_m IS NOT NULL AND i->>'type' = 'GeoProperty'
                        AND i->'value'->>'type' = 'Point' THEN jsonb_set(
                     i, '{value,coordinates}',
                     (SELECT jsonb_build_array(
                               round((round(c.lon / (grid_m / (111320 * cos(radians(c.la))))) *
                                      (grid_m / (111320 * cos(radians(c.la)))))::numeric, 7),
                               round(c.la::numeric, 7))
                        FROM (SELECT round(((i->'value'->'coordinates'->>1)::float8) / (grid_m / 111320))
                                       * (grid_m / 111320) AS la,
                                     (i->'value'->'coordinates'->>0)::float8 AS lon) AS c))
                   ELSE i
                 END AS p) AS q
$$;

CREATE FUNCTION gov_coarsen(instances jsonb, grid_m double precision, bucket_s integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT CASE
           WHEN grid_m IS NULL AND bucket_s IS NULL THEN instances
           ELSE (SELECT COALESCE(jsonb_agg(gov_coarsen_instance(t.i, grid_m, bucket_s) ORDER BY t.n), '[]'::jsonb)
                   FROM jsonb_array_elements(instances) WITH ORDINALITY AS t(i, n))
         END
$$;
