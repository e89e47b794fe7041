-- Time coarsening covers every time a reader is shown, not only observedAt: a dataset that
-- buckets observedAt to hide when something happened must not show the exact createdAt and
-- modifiedAt of the same writes (options=sysAttrs). gov_floor_time floors one timestamp to
-- a bucket of `bucket_s` seconds (NULL leaves it alone); gov_coarsen_instance now floors
-- the instance's observedAt, createdAt and modifiedAt members alike.

CREATE FUNCTION gov_floor_time(t timestamptz, bucket_s integer)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN bucket_s IS NULL OR t IS NULL THEN t
              ELSE to_timestamp(floor(extract(epoch FROM t) / bucket_s) * bucket_s) END
$$;

CREATE FUNCTION gov_floor_time_text(t text, bucket_s integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT to_jsonb(to_char(gov_floor_time(t::timestamptz, bucket_s) AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
$$;

CREATE OR REPLACE FUNCTION gov_coarsen_instance(i jsonb, grid_m double precision, bucket_s integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT CASE
           WHEN bucket_s IS NULL THEN p
           ELSE p
             || CASE WHEN p ? 'observedAt'
                     THEN jsonb_build_object('observedAt', gov_floor_time_text(p->>'observedAt', bucket_s))
                     ELSE '{}'::jsonb END
             || CASE WHEN p ? 'createdAt'
                     THEN jsonb_build_object('createdAt', gov_floor_time_text(p->>'createdAt', bucket_s))
                     ELSE '{}'::jsonb END
             || CASE WHEN p ? 'modifiedAt'
                     THEN jsonb_build_object('modifiedAt', gov_floor_time_text(p->>'modifiedAt', bucket_s))
                     ELSE '{}'::jsonb END
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
