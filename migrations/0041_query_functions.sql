-- Helpers for compiled NGSI-LD `q` filters (src/context/query/q.compiler.ts). Each one
-- turns stored JSON into a typed value or NULL, so a string never compares numerically
-- and a malformed date never raises: it just does not match.

-- Any JSON value as an array: arrays as they are, NULL/null as [], anything else as [v].
CREATE FUNCTION ngsi_q_as_array(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN v IS NULL OR jsonb_typeof(v) = 'null' THEN '[]'::jsonb
    WHEN jsonb_typeof(v) = 'array' THEN v
    ELSE jsonb_build_array(v)
  END
$$;

-- A JSON-LD value object {"@value": x} (or node reference {"@id": x}) stands for x.
CREATE FUNCTION ngsi_q_unwrap(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN jsonb_typeof(v) = 'object' AND v ? '@value' THEN v -> '@value'
    WHEN jsonb_typeof(v) = 'object' AND v ? '@id' THEN v -> '@id'
    ELSE v
  END
$$;

-- The elements of v (or v itself when it is not an array), unwrapped.
CREATE FUNCTION ngsi_q_items(v jsonb) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ngsi_q_unwrap(x) FROM jsonb_array_elements(ngsi_q_as_array(v)) AS x
$$;

-- The value a [..] path of a q term walks into: the attribute's value, JSON, language
-- map, object, list or vocab, whichever this kind of attribute has.
CREATE FUNCTION ngsi_q_primary(inst jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(inst -> 'value', inst -> 'json', inst -> 'languageMap', inst -> 'object',
                  inst -> 'valueList', inst -> 'objectList', inst -> 'vocab')
$$;

-- The comparable values of one attribute instance and the kind of member they came from:
-- a Property's value (each element when it is an array), a Relationship's object(s), a
-- ListRelationship's objects, every string of a LanguageProperty's language map, a
-- VocabProperty's vocab (kind 'vocab': compared with the expanded term too), a
-- ListProperty's items, a JsonProperty's JSON.
CREATE FUNCTION ngsi_q_values(inst jsonb) RETURNS TABLE (v jsonb, k text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT x, 'value' FROM ngsi_q_items(inst -> 'value') AS x
  UNION ALL
  SELECT x, 'object' FROM ngsi_q_items(inst -> 'object') AS x
  UNION ALL
  SELECT CASE WHEN jsonb_typeof(x) = 'object' AND x ? 'object' THEN x -> 'object' ELSE x END,
         'object'
    FROM ngsi_q_items(inst -> 'objectList') AS x
  UNION ALL
  SELECT x, 'language'
    FROM jsonb_each(CASE WHEN jsonb_typeof(inst -> 'languageMap') = 'object'
                         THEN inst -> 'languageMap' ELSE '{}'::jsonb END) AS m,
         ngsi_q_items(m.value) AS x
  UNION ALL
  SELECT x, 'language'
    FROM ngsi_q_items(CASE WHEN jsonb_typeof(inst -> 'languageMap') = 'array'
                           THEN inst -> 'languageMap' END) AS x
  UNION ALL
  SELECT x, 'vocab' FROM ngsi_q_items(inst -> 'vocab') AS x
  UNION ALL
  SELECT x, 'value' FROM ngsi_q_items(inst -> 'valueList') AS x
  UNION ALL
  SELECT inst -> 'json', 'json' WHERE inst ? 'json'
$$;

CREATE FUNCTION ngsi_q_num(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN (v #>> '{}')::numeric END
$$;

CREATE FUNCTION ngsi_q_str(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END
$$;

CREATE FUNCTION ngsi_q_bool(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(v) = 'boolean' THEN (v #>> '{}')::boolean END
$$;

-- ISO 8601 date-time (or date) string → timestamptz; NULL when it is anything else.
CREATE FUNCTION ngsi_q_ts(v jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  s text := CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END;
BEGIN
  IF s IS NULL OR s !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$' THEN
    RETURN NULL;
  END IF;
  RETURN s::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;

-- Date (or the date part of a date-time) string → date; NULL otherwise.
CREATE FUNCTION ngsi_q_date(v jsonb) RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  s text := CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END;
BEGIN
  IF s IS NULL OR s !~ '^\d{4}-\d{2}-\d{2}([T ].*)?$' THEN
    RETURN NULL;
  END IF;
  RETURN left(s, 10)::date;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;

-- Time-of-day string (hh:mm[:ss[.fff]][zone]) → time (the zone is ignored); NULL otherwise.
CREATE FUNCTION ngsi_q_time(v jsonb) RETURNS time
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  s text := CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END;
BEGIN
  IF s IS NULL OR s !~ '^\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$' THEN
    RETURN NULL;
  END IF;
  RETURN s::time;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;
