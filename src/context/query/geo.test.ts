import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createTestDatabase,
  testBackends,
  type TestDatabase,
} from '../../platform/testing/database.js';
import { parameterList } from './compile-context.js';
import {
  compileGeoQuery,
  EARTH_RADIUS_M,
  nearBox,
  parseGeoQuery,
  type GeoQueryParams,
} from './geo.js';
import {
  ensureContextTables,
  expand,
  insertEntity,
  insertGeo,
  NS,
  selectIds,
} from './query.testing.js';

type Pos = [number, number];
type Geom = { type: string; coordinates: unknown };

const SOL: Pos = [-3.7038, 40.4168]; // Madrid, Puerta del Sol
const PLAZA_MAYOR: Pos = [-3.7074, 40.4155];
const RETIRO: Pos = [-3.6822, 40.4137];
const ATOCHA: Pos = [-3.6906, 40.4066];
const BARCELONA: Pos = [2.1744, 41.4036];
const BERLIN: Pos = [13.3777, 52.5163];

const square = (x1: number, y1: number, x2: number, y2: number): Pos[] => [
  [x1, y1],
  [x2, y1],
  [x2, y2],
  [x1, y2],
  [x1, y1],
];
const MADRID_OUTER = square(-3.75, 40.38, -3.65, 40.45);
const RETIRO_HOLE = square(-3.69, 40.405, -3.675, 40.42);
const MADRID: Geom = { type: 'Polygon', coordinates: [MADRID_OUTER, RETIRO_HOLE] };
const PARK = square(-3.705, 40.415, -3.702, 40.418);

const geoms: Record<string, Geom> = {
  'urn:sol': { type: 'Point', coordinates: SOL },
  'urn:retiro': { type: 'Point', coordinates: RETIRO },
  'urn:bcn': { type: 'Point', coordinates: BARCELONA },
  'urn:berlin': { type: 'Point', coordinates: BERLIN },
  // On MADRID's outline: it touches MADRID but is not within it.
  'urn:corner': { type: 'Point', coordinates: [-3.75, 40.38] },
  'urn:line': { type: 'LineString', coordinates: [PLAZA_MAYOR, ATOCHA] },
  'urn:line-cross': { type: 'LineString', coordinates: [SOL, BARCELONA] },
  'urn:park': { type: 'Polygon', coordinates: [PARK] },
  'urn:big': { type: 'Polygon', coordinates: [square(-10, 35, 5, 44)] },
  'urn:multi': { type: 'MultiPoint', coordinates: [SOL, BERLIN] },
  'urn:hole-cover': { type: 'Polygon', coordinates: [square(-3.695, 40.4, -3.67, 40.425)] },
  // MADRID again, its outer ring starting at another vertex and running the other way.
  'urn:madrid-equal': {
    type: 'Polygon',
    coordinates: [
      [
        [-3.65, 40.45],
        [-3.65, 40.38],
        [-3.75, 40.38],
        [-3.75, 40.45],
        [-3.65, 40.45],
      ],
      RETIRO_HOLE,
    ],
  },
  'urn:multiline': {
    type: 'MultiLineString',
    coordinates: [
      [
        [13.3, 52.5],
        [13.4, 52.5],
      ],
      [
        [-3.71, 40.41],
        [-3.7, 40.41],
      ],
    ],
  },
  'urn:multipoly': {
    type: 'MultiPolygon',
    coordinates: [[PARK], [square(13.37, 52.51, 13.38, 52.52)]],
  },
};

// ---- Independent reference computations (no SQL) ----
const rad = (d: number) => (d * Math.PI) / 180;
function haversine([lon1, lat1]: Pos, [lon2, lat2]: Pos): number {
  const a =
    Math.sin(rad(lat2 - lat1) / 2) ** 2 +
    Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lon2 - lon1) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}
function inRing([x, y]: Pos, ring: Pos[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
const inPolygon = (p: Pos, rings: Pos[][]) =>
  inRing(p, rings[0]!) && !rings.slice(1).some((hole) => inRing(p, hole));
/** Minimum distance to a polyline by sampling it densely (metre-level accuracy here). */
function lineDistance(p: Pos, line: Pos[]): number {
  let best = Infinity;
  for (let i = 0; i + 1 < line.length; i++) {
    const [a, b] = [line[i]!, line[i + 1]!];
    const steps = Math.max(1, Math.ceil(haversine(a, b) / 0.5));
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      best = Math.min(best, haversine(p, [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]));
    }
  }
  return best;
}
function referenceDistance(p: Pos, g: Geom): number {
  const c = g.coordinates as never;
  switch (g.type) {
    case 'Point':
      return haversine(p, c);
    case 'MultiPoint':
      return Math.min(...(c as Pos[]).map((q) => haversine(p, q)));
    case 'LineString':
      return lineDistance(p, c);
    case 'MultiLineString':
      return Math.min(...(c as Pos[][]).map((l) => lineDistance(p, l)));
    case 'Polygon':
      return inPolygon(p, c) ? 0 : Math.min(...(c as Pos[][]).map((r) => lineDistance(p, r)));
    default:
      return Math.min(
        ...(c as Pos[][][]).map((poly) =>
          referenceDistance(p, { type: 'Polygon', coordinates: poly }),
        ),
      );
  }
}

function geoParams(
  georel: string,
  geometry: string,
  coordinates: unknown,
  geoproperty?: string,
): GeoQueryParams {
  return { georel, geometry, coordinates: JSON.stringify(coordinates), geoproperty };
}

describe('parseGeoQuery', () => {
  it('parses and validates each georel', () => {
    const near = parseGeoQuery(geoParams('near;maxDistance==2000', 'Point', SOL))!;
    assert.equal(near.georel, 'near');
    assert.equal(near.maxDistance, 2000);
    assert.equal(near.geoproperty, 'location');
    assert.deepEqual(near.bbox, [SOL[0], SOL[1], SOL[0], SOL[1]]);
    const both = parseGeoQuery(geoParams('near;minDistance==10;maxDistance==20.5', 'Point', SOL))!;
    assert.deepEqual([both.minDistance, both.maxDistance], [10, 20.5]);
    for (const rel of ['within', 'contains', 'intersects', 'overlaps', 'disjoint', 'equals']) {
      const q = parseGeoQuery(geoParams(rel, 'Polygon', MADRID.coordinates, 'observationSpace'))!;
      assert.equal(q.georel, rel);
      assert.equal(q.geoproperty, 'observationSpace');
      assert.deepEqual(q.bbox, [-3.75, 40.38, -3.65, 40.45]);
    }
    assert.equal(parseGeoQuery({}), null);
    assert.equal(
      parseGeoQuery(geoParams('intersects', 'MultiPolygon', geoms['urn:multipoly']!.coordinates))!
        .georel,
      'intersects',
    );
    assert.equal(
      parseGeoQuery(geoParams('within', 'MultiLineString', geoms['urn:multiline']!.coordinates))!
        .georel,
      'within',
    );
    assert.equal(parseGeoQuery(geoParams('within', 'MultiPoint', [SOL, BERLIN]))!.georel, 'within');
    assert.equal(parseGeoQuery(geoParams('within', 'LineString', [SOL, BERLIN]))!.georel, 'within');
  });

  it('rejects invalid geo-queries with BadRequestData', () => {
    const bad: GeoQueryParams[] = [
      { georel: 'near;maxDistance==10', geometry: 'Point' },
      { geometry: 'Point', coordinates: '[1,2]' },
      { georel: 'within', coordinates: '[1,2]' },
      geoParams('near', 'Point', SOL),
      geoParams('near;maxDistance==-5', 'Point', SOL),
      geoParams('near;maxDistance==abc', 'Point', SOL),
      geoParams('near;maxDistance==5;maxDistance==6', 'Point', SOL),
      geoParams('near;distance==5', 'Point', SOL),
      geoParams('within;maxDistance==5', 'Polygon', MADRID.coordinates),
      geoParams('near;maxDistance==5', 'Polygon', MADRID.coordinates),
      geoParams('beside', 'Point', SOL),
      geoParams('within', 'Circle', SOL),
      geoParams('within', 'Point', [181, 0]),
      geoParams('within', 'Point', [0, -91]),
      geoParams('within', 'Point', [0]),
      geoParams('within', 'Point', ['1', 2]),
      geoParams('within', 'LineString', [SOL]),
      geoParams('within', 'Polygon', [[SOL, BERLIN, BARCELONA]]),
      geoParams('within', 'Polygon', [[SOL, BERLIN, BARCELONA, RETIRO]]),
      geoParams('within', 'Polygon', []),
      geoParams('within', 'MultiPolygon', [MADRID_OUTER]),
      { georel: 'within', geometry: 'Point', coordinates: '[1,2' },
      geoParams('within', 'Point', SOL, 'loc\u0000ation'),
    ];
    for (const params of bad) {
      assert.throws(() => parseGeoQuery(params), { code: 'bad_request' }, JSON.stringify(params));
    }
  });

  it('computes a near box that holds the whole circle', () => {
    const [x1, y1, x2, y2] = nearBox(SOL[0], SOL[1], 2000);
    for (let bearing = 0; bearing < 360; bearing += 5) {
      // Destination point at 2000 m on the sphere.
      const d = 2000 / EARTH_RADIUS_M;
      const lat1 = rad(SOL[1]);
      const lat2 = Math.asin(
        Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(rad(bearing)),
      );
      const lon2 =
        rad(SOL[0]) +
        Math.atan2(
          Math.sin(rad(bearing)) * Math.sin(d) * Math.cos(lat1),
          Math.cos(d) - Math.sin(lat1) * Math.sin(lat2),
        );
      const [lon, lat] = [(lon2 * 180) / Math.PI, (lat2 * 180) / Math.PI];
      assert.ok(lon >= x1 && lon <= x2 && lat >= y1 && lat <= y2, `bearing ${bearing}`);
    }
    assert.deepEqual(nearBox(0, 89.99, 5000).slice(0, 1), [-180]);
  });
});

for (const backend of testBackends()) {
  describe(`compileGeoQuery on ${backend}`, () => {
    let tdb: TestDatabase;
    const ids = (params: GeoQueryParams) =>
      selectIds(tdb.db, (ctx) => compileGeoQuery(parseGeoQuery(params)!, ctx));

    before(async () => {
      tdb = await createTestDatabase(backend);
      await ensureContextTables(tdb.db);
      for (const [id, geom] of Object.entries(geoms)) {
        await insertEntity(tdb.db, {
          id,
          types: [`${NS}Place`],
          attrs: { [`${NS}location`]: [{ type: 'GeoProperty', value: geom }] },
        });
        await insertGeo(tdb.db, id, `${NS}location`, geom);
      }
      await insertEntity(tdb.db, { id: 'urn:nowhere', types: [`${NS}Place`] });
      // A multi-attribute: default instance in Berlin, another instance at Sol.
      await insertEntity(tdb.db, { id: 'urn:two', types: [`${NS}Place`] });
      await insertGeo(tdb.db, 'urn:two', `${NS}observationSpace`, {
        type: 'Point',
        coordinates: BERLIN,
      });
      await insertGeo(
        tdb.db,
        'urn:two',
        `${NS}observationSpace`,
        { type: 'Point', coordinates: SOL },
        'urn:ds:2',
      );
      // Another tenant at Sol: never visible from the default tenant.
      await insertEntity(tdb.db, { tenant: 'other', id: 'urn:sol', types: [`${NS}Place`] });
      await insertGeo(tdb.db, 'urn:sol', `${NS}location`, geoms['urn:sol']!, '', 'other');
    });
    after(() => tdb.close());

    const located = Object.keys(geoms).sort();
    const sorted = (list: string[]) => [...list].sort();

    it('near;maxDistance / minDistance agree with independently computed geodesic distances', async () => {
      const distances = Object.fromEntries(
        Object.entries(geoms).map(([id, g]) => [id, referenceDistance(SOL, g)]),
      );
      // Known distance: Puerta del Sol to Sagrada Família is about 505 km.
      assert.ok(Math.abs(distances['urn:bcn']! - 505_000) < 5_000, String(distances['urn:bcn']));
      for (const max of [50, 100, 500, 1000, 2000, 10_000, 600_000, 2_000_000]) {
        for (const d of Object.values(distances))
          assert.ok(Math.abs(d - max) > 2, 'threshold too close');
        const expected = located.filter((id) => distances[id]! <= max);
        assert.deepEqual(
          await ids(geoParams(`near;maxDistance==${max}`, 'Point', SOL)),
          expected,
          `max ${max}`,
        );
        const far = located.filter((id) => distances[id]! >= max);
        assert.deepEqual(
          await ids(geoParams(`near;minDistance==${max}`, 'Point', SOL)),
          far,
          `min ${max}`,
        );
      }
      assert.deepEqual(
        await ids(geoParams('near;minDistance==500;maxDistance==2000', 'Point', SOL)),
        located.filter((id) => distances[id]! >= 500 && distances[id]! <= 2000),
      );
      // Sanity: the expected sets are not trivial.
      assert.ok(located.filter((id) => distances[id]! <= 1000).length >= 3);
    });

    it('within / contains / intersects / disjoint / overlaps / equals', async () => {
      const madrid = (rel: string) => ids(geoParams(rel, 'Polygon', MADRID.coordinates));
      const within = sorted(['urn:sol', 'urn:line', 'urn:park', 'urn:madrid-equal']);
      assert.deepEqual(await madrid('within'), within);
      // Points: consistent with an independent point-in-polygon test.
      for (const id of ['urn:sol', 'urn:retiro', 'urn:bcn', 'urn:berlin']) {
        const inside = inPolygon(geoms[id]!.coordinates as Pos, MADRID.coordinates as Pos[][]);
        assert.equal(within.includes(id), inside, id);
      }
      const intersects = sorted([
        'urn:corner',
        'urn:sol',
        'urn:line',
        'urn:line-cross',
        'urn:park',
        'urn:big',
        'urn:multi',
        'urn:hole-cover',
        'urn:madrid-equal',
        'urn:multiline',
        'urn:multipoly',
      ]);
      assert.deepEqual(await madrid('intersects'), intersects);
      assert.deepEqual(
        await madrid('disjoint'),
        located.filter((id) => !intersects.includes(id)),
      );
      assert.deepEqual(await madrid('contains'), sorted(['urn:big', 'urn:madrid-equal']));
      assert.deepEqual(await madrid('equals'), ['urn:madrid-equal']);
      assert.deepEqual(await madrid('overlaps'), sorted(['urn:hole-cover', 'urn:multipoly']));

      const sol = (rel: string) => ids(geoParams(rel, 'Point', SOL));
      assert.deepEqual(
        await sol('contains'),
        sorted([
          'urn:sol',
          'urn:park',
          'urn:big',
          'urn:multi',
          'urn:madrid-equal',
          'urn:multipoly',
        ]),
      );
      assert.deepEqual(await sol('equals'), ['urn:sol']);
      // Sol is an end of urn:line-cross: on its boundary, so the line does not contain it.
      const corner = (rel: string) => ids(geoParams(rel, 'Point', [-3.75, 40.38]));
      assert.deepEqual(await corner('contains'), sorted(['urn:big', 'urn:corner']));
      assert.deepEqual(
        await corner('intersects'),
        sorted(['urn:big', 'urn:corner', 'urn:madrid-equal']),
      );
      assert.deepEqual(await corner('within'), ['urn:corner']);
      assert.deepEqual(await sol('within'), ['urn:sol']);

      // A north-south line through the park crosses the Plaza Mayor–Atocha line and the
      // Madrid part of the MultiLineString.
      const crossing = ids(
        geoParams('intersects', 'LineString', [
          [-3.705, 40.4],
          [-3.705, 40.42],
        ]),
      );
      assert.deepEqual(
        await crossing,
        sorted([
          'urn:big',
          'urn:line',
          'urn:madrid-equal',
          'urn:multiline',
          'urn:park',
          'urn:multipoly',
        ]),
      );
      assert.deepEqual(
        await ids(
          geoParams('overlaps', 'LineString', [
            [-3.72, 40.41],
            [-3.705, 40.41],
          ]),
        ),
        ['urn:multiline'],
      );
      assert.deepEqual(
        await ids(
          geoParams('within', 'MultiPolygon', [[square(-4, 40, -3, 41)], [square(13, 52, 14, 53)]]),
        ),
        sorted([
          'urn:corner',
          'urn:sol',
          'urn:retiro',
          'urn:line',
          'urn:park',
          'urn:multi',
          'urn:hole-cover',
          'urn:madrid-equal',
          'urn:berlin',
          'urn:multiline',
          'urn:multipoly',
        ]),
      );
      assert.deepEqual(
        await ids(geoParams('intersects', 'MultiPoint', [RETIRO, BARCELONA])),
        sorted(['urn:retiro', 'urn:bcn', 'urn:big', 'urn:hole-cover', 'urn:line-cross']),
      );
    });

    it('matches any instance of a multi-attribute, on the requested geoproperty', async () => {
      assert.deepEqual(
        await ids(geoParams('near;maxDistance==10', 'Point', SOL, 'observationSpace')),
        ['urn:two'],
      );
      assert.deepEqual(
        await ids(geoParams('near;maxDistance==10', 'Point', BERLIN, 'observationSpace')),
        ['urn:two'],
      );
      assert.deepEqual(
        await ids(geoParams('near;maxDistance==10', 'Point', BARCELONA, 'observationSpace')),
        [],
      );
      assert.deepEqual(
        await ids(geoParams('near;maxDistance==10', 'Point', BARCELONA, 'location')),
        ['urn:bcn', 'urn:big', 'urn:line-cross'],
      );
    });

    it('agrees with independent point-in-polygon, sampling and haversine on random data', async () => {
      // A concave (L-shaped) district with a courtyard hole, around Madrid.
      const district: Pos[][] = [
        [
          [-3.72, 40.4],
          [-3.68, 40.4],
          [-3.68, 40.41],
          [-3.7, 40.41],
          [-3.7, 40.43],
          [-3.72, 40.43],
          [-3.72, 40.4],
        ],
        square(-3.715, 40.405, -3.705, 40.415),
      ];
      let seed = 42;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const randomPos = (): Pos => [-3.73 + random() * 0.06, 40.39 + random() * 0.05];
      const tenant = 'random';
      const points: Record<string, Pos> = {};
      const lines: Record<string, Pos[]> = {};
      for (let i = 0; i < 60; i++) {
        const id = `urn:p${i}`;
        points[id] = randomPos();
        await insertEntity(tdb.db, { tenant, id, types: [`${NS}Place`] });
        await insertGeo(
          tdb.db,
          id,
          `${NS}location`,
          { type: 'Point', coordinates: points[id] },
          '',
          tenant,
        );
      }
      for (let i = 0; i < 40; i++) {
        const id = `urn:l${i}`;
        const a = randomPos();
        lines[id] = [a, [a[0] + (random() - 0.5) * 0.02, a[1] + (random() - 0.5) * 0.02]];
        await insertEntity(tdb.db, { tenant, id, types: [`${NS}Place`] });
        await insertGeo(
          tdb.db,
          id,
          `${NS}location`,
          { type: 'LineString', coordinates: lines[id] },
          '',
          tenant,
        );
      }
      const query = (params: GeoQueryParams) =>
        selectIds(tdb.db, (ctx) => compileGeoQuery(parseGeoQuery(params)!, ctx), tenant);
      const sampled = (line: Pos[], test: (p: Pos) => boolean) => {
        const [a, b] = [line[0]!, line[1]!];
        return Array.from({ length: 2001 }, (_, s) => s / 2000)
          .map((t): Pos => [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])])
          .map(test);
      };
      const inside = (p: Pos) => inPolygon(p, district);

      const within = await query(geoParams('within', 'Polygon', district));
      const intersects = await query(geoParams('intersects', 'Polygon', district));
      const expectedWithin = [
        ...Object.keys(points).filter((id) => inside(points[id]!)),
        ...Object.keys(lines).filter((id) => sampled(lines[id]!, inside).every(Boolean)),
      ].sort();
      const expectedIntersects = [
        ...Object.keys(points).filter((id) => inside(points[id]!)),
        ...Object.keys(lines).filter((id) => sampled(lines[id]!, inside).some(Boolean)),
      ].sort();
      assert.ok(expectedWithin.length >= 10 && expectedIntersects.length > expectedWithin.length);
      assert.deepEqual(within, expectedWithin);
      assert.deepEqual(intersects, expectedIntersects);

      const centre: Pos = [-3.7, 40.415];
      for (const max of [300, 800, 1500]) {
        const expected = [
          ...Object.keys(points).filter((id) => haversine(centre, points[id]!) <= max),
          ...Object.keys(lines).filter((id) => lineDistance(centre, lines[id]!) <= max),
        ].sort();
        assert.ok(expected.length > 0);
        assert.deepEqual(
          await query(geoParams(`near;maxDistance==${max}`, 'Point', centre)),
          expected,
        );
      }
    });

    it('lets the planner drive near/within from the GiST index on bbox, but not disjoint', async () => {
      const plan = (params: GeoQueryParams) =>
        tdb.db.transaction(async (tx) => {
          await tx.query('SET LOCAL enable_seqscan = off');
          const ctx = parameterList('e', expand);
          const where = compileGeoQuery(parseGeoQuery(params)!, ctx);
          const { rows } = await tx.query<Record<string, string>>(
            `EXPLAIN SELECT e.id FROM ngsi_entities e WHERE ${where}`,
            ctx.params,
          );
          return rows.map((row) => Object.values(row)[0]).join('\n');
        });
      for (const params of [
        geoParams('near;maxDistance==500', 'Point', SOL),
        geoParams('within', 'Polygon', MADRID.coordinates),
      ]) {
        assert.match(await plan(params), /Index Cond: \(bbox && /, params.georel);
      }
      assert.doesNotMatch(
        await plan(geoParams('disjoint', 'Polygon', MADRID.coordinates)),
        /Index Cond: \(bbox/,
      );
    });

    it('binds the geoproperty and geometry as parameters', async () => {
      const hostile = "location');DROP/**/TABLE/**/ngsi_entities;--";
      const ctx = parameterList('e', expand);
      const sql = compileGeoQuery(parseGeoQuery(geoParams('within', 'Point', SOL, hostile))!, ctx);
      assert.ok(!sql.includes('DROP') && !sql.includes('-3.7038'), sql);
      assert.deepEqual(await ids(geoParams('within', 'Point', SOL, hostile)), []);
      assert.deepEqual(
        await ids(geoParams('intersects', 'Point', SOL, `${NS}location`)),
        await ids(geoParams('intersects', 'Point', SOL)),
      );
      const { rows } = await tdb.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM ngsi_entities',
      );
      assert.ok(rows[0]!.n > 10);
    });
  });
}
