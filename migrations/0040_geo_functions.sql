-- Exact geometric predicates for NGSI-LD geo-queries without PostGIS
-- (src/context/query/geo.compiler.ts). Geometries are GeoJSON (jsonb) with [lon, lat]
-- positions: Point, MultiPoint, LineString, MultiLineString, Polygon (with holes),
-- MultiPolygon. Topological tests are planar in lon/lat degrees, which is what a city-scale
-- query needs; distances are geodesic (haversine on the mean Earth radius). A bounding-box
-- pre-filter on ngsi_entity_geo.bbox keeps these functions to a few candidate rows.

-- Tolerance in degrees (about 0.01 mm) for "on a segment" and "same point".
CREATE FUNCTION ngsi_geo_eps() RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1e-10::double precision $$;

-- 0 for Point/MultiPoint, 1 for LineString/MultiLineString, 2 for Polygon/MultiPolygon.
CREATE FUNCTION ngsi_geo_dim(g jsonb) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE g ->> 'type'
    WHEN 'Point' THEN 0 WHEN 'MultiPoint' THEN 0
    WHEN 'LineString' THEN 1 WHEN 'MultiLineString' THEN 1
    WHEN 'Polygon' THEN 2 WHEN 'MultiPolygon' THEN 2
  END
$$;

-- The decomposition functions below are PL/pgSQL on purpose: opaque to the planner, with
-- a small ROWS estimate, so a query over them is planned as the cheap loop it is (an
-- inlined SQL version multiplies default estimates into parallel plans and JIT).

-- Stand-alone points (Point, MultiPoint).
CREATE FUNCTION ngsi_geo_points(g jsonb) RETURNS TABLE (x double precision, y double precision)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 4 AS $$
BEGIN
  RETURN QUERY
  SELECT (p ->> 0)::double precision, (p ->> 1)::double precision
    FROM jsonb_array_elements(CASE g ->> 'type'
           WHEN 'Point' THEN jsonb_build_array(g -> 'coordinates')
           WHEN 'MultiPoint' THEN g -> 'coordinates'
           ELSE '[]'::jsonb END) AS p;
END
$$;

-- Every position sequence: line strings and polygon rings.
CREATE FUNCTION ngsi_geo_lines(g jsonb) RETURNS SETOF jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 4 AS $$
BEGIN
  RETURN QUERY
  SELECT l FROM jsonb_array_elements(CASE g ->> 'type'
           WHEN 'LineString' THEN jsonb_build_array(g -> 'coordinates')
           WHEN 'MultiLineString' THEN g -> 'coordinates'
           WHEN 'Polygon' THEN g -> 'coordinates'
           ELSE '[]'::jsonb END) AS l
  UNION ALL
  SELECT r FROM jsonb_array_elements(CASE WHEN g ->> 'type' = 'MultiPolygon'
                                          THEN g -> 'coordinates' ELSE '[]'::jsonb END) AS p,
                jsonb_array_elements(p) AS r;
END
$$;

-- Polygons, each as its array of rings (outer ring first, then holes).
CREATE FUNCTION ngsi_geo_polygons(g jsonb) RETURNS SETOF jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 2 AS $$
BEGIN
  RETURN QUERY
  SELECT p FROM jsonb_array_elements(CASE g ->> 'type'
           WHEN 'Polygon' THEN jsonb_build_array(g -> 'coordinates')
           WHEN 'MultiPolygon' THEN g -> 'coordinates'
           ELSE '[]'::jsonb END) AS p;
END
$$;

-- Every vertex: points, line vertices, ring vertices.
CREATE FUNCTION ngsi_geo_vertices(g jsonb) RETURNS TABLE (x double precision, y double precision)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 16 AS $$
BEGIN
  RETURN QUERY
  SELECT p.x, p.y FROM ngsi_geo_points(g) AS p
  UNION ALL
  SELECT (v ->> 0)::double precision, (v ->> 1)::double precision
    FROM ngsi_geo_lines(g) AS l, jsonb_array_elements(l) AS v;
END
$$;

-- Every segment of the line strings and polygon rings.
CREATE FUNCTION ngsi_geo_segments(g jsonb)
RETURNS TABLE (x1 double precision, y1 double precision, x2 double precision, y2 double precision)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 16 AS $$
BEGIN
  RETURN QUERY
  SELECT (l -> i ->> 0)::double precision, (l -> i ->> 1)::double precision,
         (l -> (i + 1) ->> 0)::double precision, (l -> (i + 1) ->> 1)::double precision
    FROM ngsi_geo_lines(g) AS l, generate_series(0, jsonb_array_length(l) - 2) AS i;
END
$$;

-- Sign of the turn a→b→c: 1 left, -1 right, 0 collinear (within tolerance).
CREATE FUNCTION ngsi_geo_orient(
  ax double precision, ay double precision, bx double precision, by_ double precision,
  cx double precision, cy double precision) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN abs(v) <= ngsi_geo_eps() * greatest(1, abs(bx - ax) + abs(by_ - ay) + abs(cx - ax) + abs(cy - ay)) THEN 0
    WHEN v > 0 THEN 1 ELSE -1 END
    FROM (SELECT (bx - ax) * (cy - ay) - (by_ - ay) * (cx - ax) AS v) AS t
$$;

-- Is (px, py) on the segment (x1, y1)-(x2, y2)?
CREATE FUNCTION ngsi_geo_on_segment(
  px double precision, py double precision, x1 double precision, y1 double precision,
  x2 double precision, y2 double precision) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT px BETWEEN least(x1, x2) - ngsi_geo_eps() AND greatest(x1, x2) + ngsi_geo_eps()
     AND py BETWEEN least(y1, y2) - ngsi_geo_eps() AND greatest(y1, y2) + ngsi_geo_eps()
     AND ngsi_geo_orient(x1, y1, x2, y2, px, py) = 0
$$;

-- How two segments meet: 0 not at all, 1 touching or overlapping collinearly, 2 crossing
-- properly (interiors cross in one point).
CREATE FUNCTION ngsi_geo_seg_cross(
  ax double precision, ay double precision, bx double precision, by_ double precision,
  cx double precision, cy double precision, dx double precision, dy double precision) RETURNS int
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  o1 int := ngsi_geo_orient(ax, ay, bx, by_, cx, cy);
  o2 int := ngsi_geo_orient(ax, ay, bx, by_, dx, dy);
  o3 int := ngsi_geo_orient(cx, cy, dx, dy, ax, ay);
  o4 int := ngsi_geo_orient(cx, cy, dx, dy, bx, by_);
BEGIN
  IF o1 * o2 < 0 AND o3 * o4 < 0 THEN
    RETURN 2;
  END IF;
  IF (o1 = 0 AND ngsi_geo_on_segment(cx, cy, ax, ay, bx, by_))
     OR (o2 = 0 AND ngsi_geo_on_segment(dx, dy, ax, ay, bx, by_))
     OR (o3 = 0 AND ngsi_geo_on_segment(ax, ay, cx, cy, dx, dy))
     OR (o4 = 0 AND ngsi_geo_on_segment(bx, by_, cx, cy, dx, dy)) THEN
    RETURN 1;
  END IF;
  RETURN 0;
END
$$;

-- Do two collinear segments share a stretch longer than a point?
CREATE FUNCTION ngsi_geo_seg_share(
  ax double precision, ay double precision, bx double precision, by_ double precision,
  cx double precision, cy double precision, dx double precision, dy double precision) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  len2 double precision := (bx - ax) ^ 2 + (by_ - ay) ^ 2;
  tc double precision;
  td double precision;
BEGIN
  IF len2 = 0 OR ngsi_geo_orient(ax, ay, bx, by_, cx, cy) <> 0
     OR ngsi_geo_orient(ax, ay, bx, by_, dx, dy) <> 0 THEN
    RETURN false;
  END IF;
  tc := ((cx - ax) * (bx - ax) + (cy - ay) * (by_ - ay)) / len2;
  td := ((dx - ax) * (bx - ax) + (dy - ay) * (by_ - ay)) / len2;
  RETURN least(1, greatest(tc, td)) - greatest(0, least(tc, td)) > ngsi_geo_eps();
END
$$;

-- Point in polygon (rings: outer first, then holes): 1 inside, 0 on the boundary, -1 outside.
-- Rings need not repeat their first position at the end.
CREATE FUNCTION ngsi_geo_pip(px double precision, py double precision, rings jsonb) RETURNS int
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  ring jsonb;
  ring_no int := 0;
  n int;
  j int;
  x1 double precision;
  y1 double precision;
  x2 double precision;
  y2 double precision;
  inside boolean;
BEGIN
  FOR ring IN SELECT r FROM jsonb_array_elements(rings) AS r LOOP
    n := jsonb_array_length(ring);
    inside := false;
    FOR i IN 0 .. n - 1 LOOP
      j := (i + 1) % n;
      x1 := (ring -> i ->> 0)::double precision;
      y1 := (ring -> i ->> 1)::double precision;
      x2 := (ring -> j ->> 0)::double precision;
      y2 := (ring -> j ->> 1)::double precision;
      IF ngsi_geo_on_segment(px, py, x1, y1, x2, y2) THEN
        RETURN 0;
      END IF;
      IF (y1 > py) <> (y2 > py) AND px < (x2 - x1) * (py - y1) / (y2 - y1) + x1 THEN
        inside := NOT inside;
      END IF;
    END LOOP;
    IF ring_no = 0 AND NOT inside THEN
      RETURN -1;  -- outside the outer ring
    ELSIF ring_no > 0 AND inside THEN
      RETURN -1;  -- inside a hole
    END IF;
    ring_no := ring_no + 1;
  END LOOP;
  RETURN CASE WHEN ring_no = 0 THEN -1 ELSE 1 END;
END
$$;

-- Does g cover the point (inside or on a polygon, on a line, or equal to a point)?
CREATE FUNCTION ngsi_geo_covers_point(g jsonb, px double precision, py double precision) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM ngsi_geo_points(g) AS p
                  WHERE abs(p.x - px) <= ngsi_geo_eps() AND abs(p.y - py) <= ngsi_geo_eps())
      OR EXISTS (SELECT 1 FROM ngsi_geo_segments(g) AS s
                  WHERE ngsi_geo_on_segment(px, py, s.x1, s.y1, s.x2, s.y2))
      OR EXISTS (SELECT 1 FROM ngsi_geo_polygons(g) AS p WHERE ngsi_geo_pip(px, py, p) >= 0)
$$;

-- Is the point strictly inside one of g's polygons?
CREATE FUNCTION ngsi_geo_interior_point(g jsonb, px double precision, py double precision) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM ngsi_geo_polygons(g) AS p WHERE ngsi_geo_pip(px, py, p) = 1)
$$;

CREATE FUNCTION ngsi_geo_intersects(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM ngsi_geo_vertices(a) AS v WHERE ngsi_geo_covers_point(b, v.x, v.y))
      OR EXISTS (SELECT 1 FROM ngsi_geo_vertices(b) AS v WHERE ngsi_geo_covers_point(a, v.x, v.y))
      OR EXISTS (SELECT 1 FROM ngsi_geo_segments(a) AS s, ngsi_geo_segments(b) AS t
                  WHERE greatest(s.x1, s.x2) >= least(t.x1, t.x2) - ngsi_geo_eps()
                    AND greatest(t.x1, t.x2) >= least(s.x1, s.x2) - ngsi_geo_eps()
                    AND greatest(s.y1, s.y2) >= least(t.y1, t.y2) - ngsi_geo_eps()
                    AND greatest(t.y1, t.y2) >= least(s.y1, s.y2) - ngsi_geo_eps()
                    AND ngsi_geo_seg_cross(s.x1, s.y1, s.x2, s.y2, t.x1, t.y1, t.x2, t.y2) > 0)
$$;

CREATE FUNCTION ngsi_geo_disjoint(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT NOT ngsi_geo_intersects(a, b)
$$;

-- Is a within b (every point of a in b, boundary included: "covered by")? Checked on a's
-- vertices and segment midpoints, with no proper crossing of a's segments over b's
-- boundary and no part of b's boundary strictly inside a (e.g. a hole of b inside a).
CREATE FUNCTION ngsi_geo_within(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM ngsi_geo_vertices(a))
     AND NOT EXISTS (SELECT 1 FROM ngsi_geo_vertices(a) AS v
                      WHERE NOT ngsi_geo_covers_point(b, v.x, v.y))
     AND NOT EXISTS (SELECT 1 FROM ngsi_geo_segments(a) AS s
                      WHERE NOT ngsi_geo_covers_point(b, (s.x1 + s.x2) / 2, (s.y1 + s.y2) / 2))
     AND NOT EXISTS (SELECT 1 FROM ngsi_geo_segments(a) AS s, ngsi_geo_segments(b) AS t
                      WHERE ngsi_geo_seg_cross(s.x1, s.y1, s.x2, s.y2, t.x1, t.y1, t.x2, t.y2) = 2)
     AND NOT EXISTS (SELECT 1 FROM ngsi_geo_vertices(b) AS v
                      WHERE ngsi_geo_interior_point(a, v.x, v.y))
$$;

CREATE FUNCTION ngsi_geo_contains(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ngsi_geo_within(b, a)
$$;

-- Topological equality: each covers the other.
CREATE FUNCTION ngsi_geo_equals(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ngsi_geo_within(a, b) AND ngsi_geo_within(b, a)
$$;

-- Same dimension, interiors meet, and neither covers the other.
CREATE FUNCTION ngsi_geo_overlaps(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ngsi_geo_dim(a) = ngsi_geo_dim(b)
     AND NOT ngsi_geo_within(a, b) AND NOT ngsi_geo_within(b, a)
     AND CASE ngsi_geo_dim(a)
       WHEN 0 THEN ngsi_geo_intersects(a, b)
       WHEN 1 THEN EXISTS (
         SELECT 1 FROM ngsi_geo_segments(a) AS s, ngsi_geo_segments(b) AS t
          WHERE ngsi_geo_seg_cross(s.x1, s.y1, s.x2, s.y2, t.x1, t.y1, t.x2, t.y2) = 2
             OR ngsi_geo_seg_share(s.x1, s.y1, s.x2, s.y2, t.x1, t.y1, t.x2, t.y2))
       ELSE EXISTS (
         SELECT 1 FROM ngsi_geo_segments(a) AS s, ngsi_geo_segments(b) AS t
          WHERE ngsi_geo_seg_cross(s.x1, s.y1, s.x2, s.y2, t.x1, t.y1, t.x2, t.y2) = 2)
         OR EXISTS (SELECT 1 FROM ngsi_geo_vertices(a) AS v WHERE ngsi_geo_interior_point(b, v.x, v.y))
         OR EXISTS (SELECT 1 FROM ngsi_geo_vertices(b) AS v WHERE ngsi_geo_interior_point(a, v.x, v.y))
         OR EXISTS (SELECT 1 FROM ngsi_geo_segments(a) AS s
                     WHERE ngsi_geo_interior_point(b, (s.x1 + s.x2) / 2, (s.y1 + s.y2) / 2))
         OR EXISTS (SELECT 1 FROM ngsi_geo_segments(b) AS s
                     WHERE ngsi_geo_interior_point(a, (s.x1 + s.x2) / 2, (s.y1 + s.y2) / 2))
     END
$$;

-- Great-circle distance in metres between two lon/lat positions.
CREATE FUNCTION ngsi_geo_haversine(
  lon1 double precision, lat1 double precision, lon2 double precision, lat2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 2 * 6371008.8 * asin(least(1, sqrt(
    sin(radians(lat2 - lat1) / 2) ^ 2
    + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)))
$$;

-- Distance in metres from (lon, lat) to the nearest point of a segment: the nearest point
-- is found in a local equirectangular frame around (lon, lat) (exact enough at city
-- scale), the distance to it is geodesic.
CREATE FUNCTION ngsi_geo_segment_distance(
  lon double precision, lat double precision, x1 double precision, y1 double precision,
  x2 double precision, y2 double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  k double precision := greatest(cos(radians(lat)), 1e-9);
  ax double precision := (x1 - lon) * k;
  ay double precision := y1 - lat;
  bx double precision := (x2 - lon) * k;
  by_ double precision := y2 - lat;
  len2 double precision := (bx - ax) ^ 2 + (by_ - ay) ^ 2;
  t double precision := 0;
BEGIN
  IF len2 > 0 THEN
    t := least(1, greatest(0, -(ax * (bx - ax) + ay * (by_ - ay)) / len2));
  END IF;
  RETURN ngsi_geo_haversine(lon, lat, lon + (ax + t * (bx - ax)) / k, lat + ay + t * (by_ - ay));
END
$$;

-- Geodesic distance in metres from (lon, lat) to geometry g (0 when g covers the point).
CREATE FUNCTION ngsi_geo_distance(g jsonb, lon double precision, lat double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN EXISTS (SELECT 1 FROM ngsi_geo_polygons(g) AS p WHERE ngsi_geo_pip(lon, lat, p) >= 0) THEN 0
    ELSE (SELECT min(d) FROM (
            SELECT ngsi_geo_haversine(lon, lat, p.x, p.y) AS d FROM ngsi_geo_points(g) AS p
            UNION ALL
            SELECT ngsi_geo_segment_distance(lon, lat, s.x1, s.y1, s.x2, s.y2)
              FROM ngsi_geo_segments(g) AS s) AS ds)
  END
$$;
