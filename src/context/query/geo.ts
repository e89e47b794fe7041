/**
 * NGSI-LD geo-queries (ETSI GS CIM 009 v1.9, clause 4.10): validation of georel, geometry,
 * coordinates and geoproperty, and compilation to SQL over ngsi_entity_geo. Each test is an
 * indexed bounding-box pre-filter (`bbox && box(...)`, GiST) plus an exact predicate from
 * migrations/0040_geo_functions.sql; `near` uses geodesic distances. `disjoint` and
 * `near;minDistance` without maxDistance cannot be narrowed by the box, so they do not
 * use it to exclude rows.
 */
import { badRequest } from '../../platform/http/errors.js';
import type { CompileContext } from './compile-context.js';

export type GeoRelation =
  'near' | 'within' | 'contains' | 'intersects' | 'overlaps' | 'disjoint' | 'equals';

export type GeometryType =
  'Point' | 'MultiPoint' | 'LineString' | 'MultiLineString' | 'Polygon' | 'MultiPolygon';

export interface GeoQuery {
  georel: GeoRelation;
  /** For near: metres (at least one of them is set). */
  maxDistance?: number;
  minDistance?: number;
  /** The reference geometry as GeoJSON ([lon, lat] positions). */
  geometry: { type: GeometryType; coordinates: unknown };
  /** The GeoProperty to test, as given (a term or IRI); expanded by the compiler. */
  geoproperty: string;
  /** Bounding box of the reference geometry: [minLon, minLat, maxLon, maxLat]. */
  bbox: [number, number, number, number];
}

export interface GeoQueryParams {
  georel?: string;
  geometry?: string;
  /** The JSON array text of the coordinates (or an already parsed array). */
  coordinates?: string | unknown;
  geoproperty?: string;
}

const RELATIONS = new Set<GeoRelation>([
  'near',
  'within',
  'contains',
  'intersects',
  'overlaps',
  'disjoint',
  'equals',
]);
const GEOMETRIES = new Set<GeometryType>([
  'Point',
  'MultiPoint',
  'LineString',
  'MultiLineString',
  'Polygon',
  'MultiPolygon',
]);
/** Mean Earth radius (IUGG), metres: the same one the SQL haversine uses. */
export const EARTH_RADIUS_M = 6371008.8;
const MAX_POSITIONS = 10000;

function invalid(param: string, message: string): never {
  throw badRequest(`Invalid geo-query: ${message}`, [{ path: param, message }]);
}

type Position = [number, number];

function position(value: unknown, where: string, count: { n: number }): Position {
  if (++count.n > MAX_POSITIONS) invalid('coordinates', `more than ${MAX_POSITIONS} positions`);
  if (
    !Array.isArray(value) ||
    value.length < 2 ||
    value.length > 3 ||
    !value.every((n) => typeof n === 'number' && Number.isFinite(n))
  ) {
    invalid('coordinates', `${where} must be a position [longitude, latitude]`);
  }
  const [lon, lat] = value as number[];
  if (lon! < -180 || lon! > 180) invalid('coordinates', `${where}: longitude ${lon} out of range`);
  if (lat! < -90 || lat! > 90) invalid('coordinates', `${where}: latitude ${lat} out of range`);
  return [lon!, lat!];
}

function positions(value: unknown, where: string, min: number, count: { n: number }): Position[] {
  if (!Array.isArray(value)) invalid('coordinates', `${where} must be an array of positions`);
  if (value.length < min) invalid('coordinates', `${where} needs at least ${min} positions`);
  return value.map((p, i) => position(p, `${where}[${i}]`, count));
}

function ring(value: unknown, where: string, count: { n: number }): Position[] {
  const points = positions(value, where, 4, count);
  const first = points[0]!;
  const last = points.at(-1)!;
  if (first[0] !== last[0] || first[1] !== last[1]) {
    invalid('coordinates', `${where}: a polygon ring must end where it starts`);
  }
  return points;
}

function list<T>(value: unknown, where: string, item: (v: unknown, w: string) => T): T[] {
  if (!Array.isArray(value) || value.length === 0) {
    invalid('coordinates', `${where} must be a non-empty array`);
  }
  return value.map((v, i) => item(v, `${where}[${i}]`));
}

/** Validates the coordinates for a geometry type; returns them with 2-D positions. */
function validateCoordinates(type: GeometryType, value: unknown): unknown {
  const count = { n: 0 };
  switch (type) {
    case 'Point':
      return position(value, 'Point', count);
    case 'MultiPoint':
      return positions(value, 'MultiPoint', 1, count);
    case 'LineString':
      return positions(value, 'LineString', 2, count);
    case 'MultiLineString':
      return list(value, 'MultiLineString', (v, w) => positions(v, w, 2, count));
    case 'Polygon':
      return list(value, 'Polygon', (v, w) => ring(v, w, count));
    case 'MultiPolygon':
      return list(value, 'MultiPolygon', (v, w) => list(v, w, (r, rw) => ring(r, rw, count)));
  }
}

function boundingBox(coordinates: unknown): [number, number, number, number] {
  const box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c: unknown) => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      box[0] = Math.min(box[0], c[0]);
      box[1] = Math.min(box[1], c[1] as number);
      box[2] = Math.max(box[2], c[0]);
      box[3] = Math.max(box[3], c[1] as number);
    } else if (Array.isArray(c)) {
      c.forEach(walk);
    }
  };
  walk(coordinates);
  return box;
}

function distance(param: string, text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text)) invalid('georel', `${param} must be a non-negative number`);
  return Number(text);
}

/**
 * Validates the geo-query parameters. Returns null when none is given; throws a
 * BadRequestData error when some are given but they are incomplete or invalid.
 */
export function parseGeoQuery(params: GeoQueryParams): GeoQuery | null {
  const { georel, geometry, coordinates } = params;
  if (georel === undefined && geometry === undefined && coordinates === undefined) return null;
  if (!georel) invalid('georel', 'georel is required with geometry and coordinates');
  if (!geometry) invalid('geometry', 'geometry is required with georel');
  if (coordinates === undefined || coordinates === '') {
    invalid('coordinates', 'coordinates are required with georel');
  }

  const [relation, ...modifiers] = georel.split(';');
  if (!RELATIONS.has(relation as GeoRelation)) invalid('georel', `unknown georel "${relation}"`);
  const query: Partial<GeoQuery> = { georel: relation as GeoRelation };
  for (const modifier of modifiers) {
    const match = /^(maxDistance|minDistance)==(.*)$/.exec(modifier);
    if (!match || relation !== 'near') invalid('georel', `unexpected "${modifier}" in georel`);
    const key = match[1] as 'maxDistance' | 'minDistance';
    if (query[key] !== undefined) invalid('georel', `${key} given twice`);
    query[key] = distance(key, match[2]!);
  }
  if (relation === 'near' && query.maxDistance === undefined && query.minDistance === undefined) {
    invalid('georel', 'near needs maxDistance==<metres> or minDistance==<metres>');
  }

  if (!GEOMETRIES.has(geometry as GeometryType))
    invalid('geometry', `unknown geometry "${geometry}"`);
  const type = geometry as GeometryType;
  if (relation === 'near' && type !== 'Point') invalid('geometry', 'near needs a Point geometry');

  let parsed: unknown = coordinates;
  if (typeof coordinates === 'string') {
    try {
      parsed = JSON.parse(coordinates);
    } catch {
      invalid('coordinates', 'coordinates must be a JSON array');
    }
  }
  const validated = validateCoordinates(type, parsed);
  const geoproperty = params.geoproperty?.trim() || 'location';
  if (/[\s\p{Cc}]/u.test(geoproperty)) {
    invalid('geoproperty', 'geoproperty must be an attribute name');
  }

  return {
    ...(query as Pick<GeoQuery, 'georel' | 'maxDistance' | 'minDistance'>),
    geometry: { type, coordinates: validated },
    geoproperty,
    bbox: boundingBox(validated),
  };
}

/**
 * The lon/lat box that holds every point within `metres` of (lon, lat) on the sphere
 * (spherical cap bounds), or the whole longitude range when the cap reaches a pole or
 * wraps the antimeridian.
 */
export function nearBox(
  lon: number,
  lat: number,
  metres: number,
): [number, number, number, number] {
  const angular = (metres / EARTH_RADIUS_M) * 1.0001 + 1e-9;
  const dLat = (angular * 180) / Math.PI;
  const minLat = lat - dLat;
  const maxLat = lat + dLat;
  const sinRatio = Math.sin(angular) / Math.cos((lat * Math.PI) / 180);
  if (minLat <= -90 || maxLat >= 90 || sinRatio >= 1) {
    return [-180, Math.max(-90, minLat), 180, Math.min(90, maxLat)];
  }
  const dLon = (Math.asin(sinRatio) * 180) / Math.PI;
  if (lon - dLon < -180 || lon + dLon > 180) return [-180, minLat, 180, maxLat];
  return [lon - dLon, minLat, lon + dLon, maxLat];
}

const FUNCTION: Record<Exclude<GeoRelation, 'near'>, string> = {
  within: 'ngsi_geo_within',
  contains: 'ngsi_geo_contains',
  intersects: 'ngsi_geo_intersects',
  overlaps: 'ngsi_geo_overlaps',
  disjoint: 'ngsi_geo_disjoint',
  equals: 'ngsi_geo_equals',
};

/**
 * SQL boolean expression: the entity has an instance of the GeoProperty that satisfies
 * the relation (any instance of a multi-attribute).
 *
 * With `fromView` the relation is tested on the GeoProperty instances of the row's
 * attributes as the caller reads them (`alias.attrs`, already cut and coarsened by
 * governance, src/governance/read-scope.ts) instead of the exact geometries of the geo
 * index: a reader who gets a location snapped to a grid must not be able to find the
 * exact position by shrinking a `near` circle or a polygon around it.
 */
export function compileGeoQuery(geo: GeoQuery, ctx: CompileContext, fromView = false): string {
  const num = (n: number) => `(${ctx.param(String(n))}::text)::double precision`;
  const box = ([x1, y1, x2, y2]: [number, number, number, number]) =>
    `box(point(${num(x1)}, ${num(y1)}), point(${num(x2)}, ${num(y2)}))`;
  const attr = `${ctx.param(ctx.expand(geo.geoproperty))}::text`;
  // `index`: conditions only the geo index can answer (its bounding-box pre-filter), built
  // only when used so that no parameter is bound without a reference to it;
  // `exact`: the predicates on the geometry `g.geom` itself.
  const index: (() => string)[] = [];
  const exact: string[] = [];
  if (geo.georel === 'near') {
    const [lon, lat] = geo.geometry.coordinates as Position;
    const dist = `ngsi_geo_distance(g.geom, ${num(lon)}, ${num(lat)})`;
    const max = geo.maxDistance;
    if (max !== undefined) {
      index.push(() => `g.bbox && ${box(nearBox(lon, lat, max))}`);
      exact.push(`${dist} <= ${num(max)}`);
    }
    if (geo.minDistance !== undefined) exact.push(`${dist} >= ${num(geo.minDistance)}`);
  } else {
    const reference = `(${ctx.param(JSON.stringify(geo.geometry))}::text)::jsonb`;
    const test = `${FUNCTION[geo.georel]}(g.geom, ${reference})`;
    // Disjoint: a box that misses proves disjointness; a box that overlaps proves nothing.
    if (geo.georel !== 'disjoint') {
      index.push(() => `g.bbox && ${box(geo.bbox)}`);
      exact.push(test);
    } else exact.push(fromView ? test : `(NOT (g.bbox && ${box(geo.bbox)}) OR ${test})`);
  }
  if (fromView) {
    const instances = `${ctx.alias}.attrs -> ${attr}`;
    return `EXISTS (SELECT 1
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${instances}) = 'array'
               THEN ${instances} ELSE '[]'::jsonb END) AS v(i)
        CROSS JOIN LATERAL (SELECT v.i -> 'value' AS geom) AS g
       WHERE v.i ->> 'type' = 'GeoProperty'${exact.map((c) => ` AND ${c}`).join('')})`;
  }
  const conditions = [
    `g.tenant = ${ctx.tenantSql}`,
    `g.entity_id = ${ctx.alias}.id`,
    `g.attr = ${attr}`,
    ...index.map((condition) => condition()),
    ...exact,
  ];
  return `EXISTS (SELECT 1 FROM ngsi_entity_geo AS g WHERE ${conditions.join(' AND ')})`;
}
