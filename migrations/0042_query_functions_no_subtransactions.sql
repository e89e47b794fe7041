-- The typed date/time helpers of 0041 caught cast errors with an EXCEPTION block. Such a
-- block starts a subtransaction, which PostgreSQL forbids inside parallel workers, yet the
-- functions were declared PARALLEL SAFE. These versions validate every field first, so the
-- cast cannot fail, and need no exception handling.

-- Are y-m-d a real calendar date PostgreSQL accepts (year 1 onwards)?
CREATE FUNCTION ngsi_q_valid_date(y int, m int, d int) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT y >= 1 AND m BETWEEN 1 AND 12 AND d >= 1
     AND d <= extract(day FROM make_date(y, m, 1) + interval '1 month' - interval '1 day')
$$;

CREATE OR REPLACE FUNCTION ngsi_q_ts(v jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  s text := CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END;
  f text[];
BEGIN
  f := regexp_match(s, '^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)?$');
  IF f IS NULL OR NOT ngsi_q_valid_date(f[1]::int, f[2]::int, f[3]::int)
     OR coalesce(f[4]::int, 0) > 23 OR coalesce(f[5]::int, 0) > 59
     OR coalesce(f[6]::int, 0) > 59 OR coalesce(f[7]::int, 0) > 15
     OR coalesce(f[8]::int, 0) > 59 THEN
    RETURN NULL;
  END IF;
  RETURN s::timestamptz;
END
$$;

CREATE OR REPLACE FUNCTION ngsi_q_date(v jsonb) RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  s text := CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END;
  f text[];
BEGIN
  f := regexp_match(s, '^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$');
  IF f IS NULL OR NOT ngsi_q_valid_date(f[1]::int, f[2]::int, f[3]::int) THEN
    RETURN NULL;
  END IF;
  RETURN make_date(f[1]::int, f[2]::int, f[3]::int);
END
$$;

CREATE OR REPLACE FUNCTION ngsi_q_time(v jsonb) RETURNS time
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  s text := CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END;
  f text[];
BEGIN
  f := regexp_match(s, '^(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$');
  IF f IS NULL OR f[1]::int > 23 OR f[2]::int > 59 OR coalesce(f[3]::int, 0) > 59 THEN
    RETURN NULL;
  END IF;
  RETURN make_time(f[1]::int, f[2]::int, coalesce(f[3]::int, 0) + coalesce(('0' || f[4])::double precision, 0));
END
$$;
