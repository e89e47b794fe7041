/**
 * Fuzzing the query-language parsers and compilers (`q`, `scopeQ`, geo-queries): for
 * generated, mutated and arbitrary input each either parses and compiles, or rejects with
 * a 4xx AppError — never another exception, never slowly. OCP_FUZZ_RUNS sets the number
 * of cases per property (default 300; see docs/resilience.md for the long run).
 */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  expectCleanRejection,
  fuzzString,
  mutatedJson,
  nastyValue,
} from '../../resilience/fuzz.js';
import { parameterList } from './compile-context.js';
import { compileGeoQuery, parseGeoQuery } from './geo.js';
import { compileQ } from './q.compiler.js';
import { parseQ } from './q.parser.js';
import { compileScopeQ, parseScopeQ } from './scope-q.js';

const runs = Number(process.env.OCP_FUZZ_RUNS ?? 300);
const options = {
  numRuns: runs,
  seed: process.env.OCP_FUZZ_SEED ? Number(process.env.OCP_FUZZ_SEED) : undefined,
};
const ctx = () => parameterList('e', (term) => `https://example.org/${term}`);

const Q_SEEDS = [
  'temperature>=20',
  'brandName!="Mercedes"',
  'isParked==urn:ngsi-ld:OffStreetParking:Downtown1',
  'temperature.observedAt>=2017-12-24T12:00:00Z',
  'address[addressLocality]=="Berlin"',
  'sensor.rawdata[airquality.particulate]==40',
  '(a==1|b==2);c==3',
  'speed==50..80',
  'day==2024-01-01..2024-01-31',
  'name=="a","b,c",urn:x:y',
  'opens<08:30:00Z',
  's=="say \\"hi\\" \\\\ ;|()"',
  'name~=(?i)^tom',
  '(name!~=^(a|b)x;c)',
  '!speed',
  'https://example.org/ns/speed.accuracy>1',
  'NO2>40;PM10<=50|!temperature',
];

/** q expressions built from the grammar, so deep and valid ones are common too. */
const { expr: generatedQ } = fc.letrec<{ expr: string; term: string }>((tie) => ({
  term: fc.oneof(
    fc
      .tuple(
        fc.constantFrom('a', 'temperature', 'address[city]', 'x.observedAt', 'ex:n', '@id'),
        fc.constantFrom('==', '!=', '>', '>=', '<', '<=', '~=', '!~='),
        fc.oneof(
          fc.integer().map(String),
          fc.double({ noNaN: true }).map(String),
          fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
          fc.constantFrom('true', 'false', 'urn:a:b', '2024-01-01T00:00:00Z', '1..2', '"a","b"'),
        ),
      )
      .map(([a, op, v]) => `${a}${op}${v}`),
    fc.constantFrom('a', '!a', 'b.c'),
    tie('expr').map((e) => `(${e})`),
  ),
  expr: fc
    .array(fc.tuple(fc.constantFrom(';', '|'), tie('term')), { minLength: 1, maxLength: 4 })
    .map((parts) => parts.map(([sep, t], i) => (i === 0 ? t : `${sep}${t}`)).join('')),
}));

describe('q parser and compiler under fuzzing', () => {
  it('parses or cleanly rejects any q', () => {
    fc.assert(
      fc.property(fc.oneof(fuzzString(Q_SEEDS), generatedQ), (q) =>
        expectCleanRejection(() => compileQ(parseQ(q), ctx())),
      ),
      options,
    );
  });

  it('survives deep nesting and long input without a stack overflow', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.constantFrom('(', '!', '((a==1);'),
        (n, unit) => expectCleanRejection(() => compileQ(parseQ(unit.repeat(n)), ctx()), 1_000),
      ),
      { ...options, numRuns: Math.min(runs, 50) },
    );
  });
});

describe('scopeQ parser and compiler under fuzzing', () => {
  const seeds = ['/Madrid/Gardens', '/Madrid/#', '/#', '/a,/b;/c|(/d/+)', '/a/+/c'];
  it('parses or cleanly rejects any scopeQ', () => {
    fc.assert(
      fc.property(fuzzString(seeds), (s) =>
        expectCleanRejection(() => compileScopeQ(parseScopeQ(s), ctx())),
      ),
      options,
    );
  });
});

describe('geo-query parameters under fuzzing', () => {
  const georels = [
    'near;maxDistance==2000',
    'near;minDistance==10',
    'within',
    'contains',
    'intersects',
    'overlaps',
    'disjoint',
    'equals',
  ];
  const shapes: [string, unknown][] = [
    ['Point', [4.9, 52.37]],
    [
      'LineString',
      [
        [4.9, 52.37],
        [4.91, 52.38],
      ],
    ],
    [
      'Polygon',
      [
        [
          [4.8, 52.3],
          [5, 52.3],
          [5, 52.4],
          [4.8, 52.3],
        ],
      ],
    ],
    [
      'MultiPoint',
      [
        [1, 2],
        [3, 4],
      ],
    ],
    [
      'MultiPolygon',
      [
        [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 0],
          ],
        ],
      ],
    ],
    [
      'MultiLineString',
      [
        [
          [0, 0],
          [1, 1],
        ],
      ],
    ],
  ];
  const params = fc.record(
    {
      georel: fuzzString(georels),
      geometry: fuzzString(shapes.map(([g]) => g)),
      coordinates: fc.oneof(
        fc
          .constantFrom(...shapes)
          .chain(([, c]) => mutatedJson(c))
          .map((c) => JSON.stringify(c)),
        fuzzString(shapes.map(([, c]) => JSON.stringify(c))),
        nastyValue.map((v) => JSON.stringify(v) ?? ''),
      ),
      geoproperty: fuzzString(['location', 'ex:area', 'https://example.org/where']),
    },
    { requiredKeys: [] },
  );
  it('parses or cleanly rejects any combination of georel, geometry, coordinates, geoproperty', () => {
    fc.assert(
      fc.property(params, (p) =>
        expectCleanRejection(() => {
          const geo = parseGeoQuery(p);
          if (geo) compileGeoQuery(geo, ctx());
        }),
      ),
      options,
    );
  });
});
