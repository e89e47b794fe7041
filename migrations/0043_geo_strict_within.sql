-- `within`/`contains` as the Simple Features (DE-9IM) define them: besides every point of
-- a lying in b, the interiors must meet, so a point on a polygon's outline or at the end
-- of a line is not within it. The old test becomes ngsi_geo_covered_by, which `equals`
-- and `overlaps` are defined with.

-- Is a covered by b (every point of a in b, boundary included)? Checked on a's vertices
-- and segment midpoints, with no proper crossing of a's segments over b's and no part of
-- b's boundary strictly inside a (e.g. a hole of b inside a).
CREATE FUNCTION ngsi_geo_covered_by(a jsonb, b jsonb) RETURNS boolean
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

-- Is the point in the interior of g: equal to one of its points, on one of its lines but
-- not at an open end, or strictly inside one of its polygons?
CREATE FUNCTION ngsi_geo_in_interior(g jsonb, px double precision, py double precision) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE ngsi_geo_dim(g)
    WHEN 0 THEN ngsi_geo_covers_point(g, px, py)
    WHEN 1 THEN ngsi_geo_covers_point(g, px, py) AND NOT EXISTS (
      SELECT 1 FROM ngsi_geo_lines(g) AS l,
             LATERAL (VALUES (l -> 0), (l -> -1)) AS ends(p)
       WHERE l -> 0 <> l -> -1
         AND abs((ends.p ->> 0)::double precision - px) <= ngsi_geo_eps()
         AND abs((ends.p ->> 1)::double precision - py) <= ngsi_geo_eps())
    WHEN 2 THEN ngsi_geo_interior_point(g, px, py)
    ELSE false
  END
$$;

CREATE OR REPLACE FUNCTION ngsi_geo_within(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ngsi_geo_covered_by(a, b)
     AND CASE ngsi_geo_dim(a)
       WHEN 2 THEN true  -- an area covered by b meets b's interior
       WHEN 1 THEN EXISTS (SELECT 1 FROM ngsi_geo_segments(a) AS s
                            WHERE ngsi_geo_in_interior(b, (s.x1 + s.x2) / 2, (s.y1 + s.y2) / 2))
       ELSE EXISTS (SELECT 1 FROM ngsi_geo_points(a) AS p WHERE ngsi_geo_in_interior(b, p.x, p.y))
     END
$$;

CREATE OR REPLACE FUNCTION ngsi_geo_equals(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ngsi_geo_covered_by(a, b) AND ngsi_geo_covered_by(b, a)
$$;

CREATE OR REPLACE FUNCTION ngsi_geo_overlaps(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ngsi_geo_dim(a) = ngsi_geo_dim(b)
     AND NOT ngsi_geo_covered_by(a, b) AND NOT ngsi_geo_covered_by(b, a)
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
