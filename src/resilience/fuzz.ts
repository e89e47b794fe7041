/**
 * Inputs for the fuzz tests (`*.fuzz.test.ts`): real Smart Data Models examples from
 * ../shared/fixtures as seeds, fast-check arbitraries that mutate JSON documents and
 * strings the way broken clients and attackers do, and a heap check for "no unbounded
 * memory". The number of runs is chosen by each test file (OCP_FUZZ_RUNS).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { AppError } from '../platform/http/errors.js';
import { smartDataModelExamples } from '../platform/testing/smart-data-models.js';

export interface Seed {
  file: string;
  /** The file as it is (some fixtures are not even valid JSON). */
  text: string;
  body: unknown;
}

let cached: Seed[] | null = null;

/** Every Smart Data Models example (normalized and keyValues, .json and .jsonld). */
export function smartDataModelSeeds(): Seed[] {
  cached ??= smartDataModelExamples([
    'example-normalized.jsonld',
    'example-normalized.json',
    'example.jsonld',
    'example.json',
  ]).map((e) => ({ ...e, body: e.body ?? undefined }));
  return cached;
}

/** Remote @context URLs the seeds name (tests stand in for them, as the suite is offline). */
export function seedContextUrls(): string[] {
  const urls = new Set<string>();
  for (const seed of smartDataModelSeeds()) {
    const ctx = (seed.body as { '@context'?: unknown } | null)?.['@context'];
    for (const c of Array.isArray(ctx) ? ctx : [ctx]) {
      if (typeof c === 'string' && /^https?:/.test(c)) urls.add(c);
    }
  }
  return [...urls];
}

const NGSI_NAMES = [
  'id',
  'type',
  '@context',
  '@id',
  '@type',
  'value',
  'object',
  'objectList',
  'valueList',
  'languageMap',
  'vocab',
  'json',
  'observedAt',
  'createdAt',
  'modifiedAt',
  'datasetId',
  'unitCode',
  'location',
  'scope',
  'coordinates',
  'lang',
  '__proto__',
  'constructor',
  'a b',
  '',
];

const NGSI_TYPES = [
  'Property',
  'Relationship',
  'GeoProperty',
  'LanguageProperty',
  'VocabProperty',
  'ListProperty',
  'ListRelationship',
  'JsonProperty',
  'Feature',
  'FeatureCollection',
  'Point',
];

/** Values that have broken parsers before: edges of numbers, dates, geometry and text. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      null,
      '',
      'urn:ngsi-ld:null',
      'urn:',
      'x:',
      ...NGSI_TYPES,
      -0,
      1e308,
      -1e308,
      2 ** 53 + 1,
      0.1 + 0.2,
      '2024-02-30T25:61:00Z',
      '9999-12-31T23:59:59.999999999Z',
      '-000001-01-01T00:00:00Z',
      '\u0000',
      '\ud800',
      '%00',
      "' OR 1=1 --",
      'x'.repeat(5_000),
      { type: 'Point', coordinates: [181, 91] },
      { type: 'Point', coordinates: [] },
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 1],
            [0, 0],
          ],
        ],
      },
      { type: 'LineString', coordinates: [[0, 0]] },
      { type: 'GeometryCollection', geometries: [] },
      [[[[[]]]]],
      { '@id': 'x' },
      { '@value': 1, '@type': 'xsd:int' },
      { type: 'Property' },
      { type: 'Relationship', object: [] },
      { type: 'Property', value: null },
      { value: { value: { value: 1 } } },
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 1,
    // Deep nesting: recursive parsers and renderers must not blow the stack.
    arbitrary: fc.integer({ min: 50, max: 1_000 }).map((depth) => {
      let v: unknown = 1;
      for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { value: v };
      return v;
    }),
  },
);

export const nastyName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NGSI_NAMES, ...NGSI_TYPES),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('https://example.org/x', 'ex:term', 'schema:name', '@vocab', '@graph'),
);

type Op =
  | { kind: 'set'; pick: number; value: unknown }
  | { kind: 'delete'; pick: number }
  | { kind: 'rename'; pick: number; name: string }
  | { kind: 'add'; pick: number; name: string; value: unknown }
  | { kind: 'wrap'; pick: number }
  | { kind: 'type'; pick: number; value: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: nastyValue }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), name: nastyName }),
  fc.record({
    kind: fc.constant('add' as const),
    pick: fc.nat(),
    name: nastyName,
    value: nastyValue,
  }),
  fc.record({ kind: fc.constant('wrap' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('type' as const),
    pick: fc.nat(),
    value: fc.constantFrom(...NGSI_TYPES),
  }),
);

type Container = Record<string, unknown> | unknown[];

/** Every (container, key) slot in a document, depth first, the root container first. */
function slots(doc: unknown): [Container, string | number][] {
  const out: [Container, string | number][] = [];
  const visit = (value: unknown, depth: number) => {
    if (depth > 12 || value === null || typeof value !== 'object') return;
    const container = value as Container;
    for (const key of Array.isArray(container)
      ? container.map((_, i) => i)
      : Object.keys(container)) {
      out.push([container, key]);
      visit((container as Record<string | number, unknown>)[key], depth + 1);
    }
  };
  visit(doc, 0);
  return out;
}

/** Sets an own property even for names like __proto__ (as JSON.parse would). */
function define(target: Container, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function apply(doc: unknown, ops: Op[]): unknown {
  const copy = structuredClone(doc);
  for (const o of ops) {
    const all = slots(copy);
    if (all.length === 0) return o.kind === 'set' ? structuredClone(o.value) : copy;
    const [container, key] = all[o.pick % all.length]!;
    const current = (container as Record<string | number, unknown>)[key];
    switch (o.kind) {
      // Values are cloned: constants are shared between runs and must never be mutated.
      case 'set':
        define(container, key, structuredClone(o.value));
        break;
      case 'delete':
        if (Array.isArray(container)) container.splice(key as number, 1);
        else delete container[key as string];
        break;
      case 'rename':
        if (!Array.isArray(container)) {
          delete container[key as string];
          define(container, o.name, current);
        }
        break;
      case 'add':
        if (Array.isArray(container)) container.push(structuredClone(o.value));
        else define(container, o.name, structuredClone(o.value));
        break;
      case 'wrap':
        define(container, key, [current]);
        break;
      case 'type':
        if (current && typeof current === 'object' && !Array.isArray(current))
          define(current as Container, 'type', o.value);
        else define(container, key, { type: o.value, value: current });
        break;
    }
  }
  return copy;
}

/** A document derived from `seed` by one to four structural mutations. */
export function mutatedJson(seed: unknown): fc.Arbitrary<unknown> {
  return fc.array(op, { minLength: 1, maxLength: 4 }).map((ops) => apply(seed, ops));
}

/** Seeds and their mutations, with some untouched seeds mixed in. */
export function mutatedSeed(seeds: readonly unknown[]): fc.Arbitrary<unknown> {
  // Without the shared fixtures there may be no seeds: mutate a minimal entity instead.
  if (seeds.length === 0) seeds = [{ id: 'urn:ngsi-ld:Thing:1', type: 'Thing' }];
  return fc
    .nat({ max: seeds.length - 1 })
    .chain((i) =>
      fc.oneof(
        { weight: 1, arbitrary: fc.constant(seeds[i]) },
        { weight: 6, arbitrary: mutatedJson(seeds[i]) },
      ),
    );
}

const SPECIAL_CHARS = [
  ...'"\\\'()[]{},;|!=~<>.:@#%&*+-/?^$`\t\n\r \u0000\u00a0\u2028\ud800é漢',
  '..',
  '==',
  '!=',
  '~=',
  '!~=',
  '>=',
  '<=',
];

type StringOp = { at: number; kind: 'insert' | 'delete' | 'replace' | 'repeat'; text: string };

const stringOp: fc.Arbitrary<StringOp> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom(
    'insert' as const,
    'delete' as const,
    'replace' as const,
    'repeat' as const,
  ),
  text: fc.oneof(fc.constantFrom(...SPECIAL_CHARS), fc.string({ maxLength: 6 })),
});

/** A string derived from `seed` by a few character-level edits. */
export function mutatedString(seed: string): fc.Arbitrary<string> {
  return fc.array(stringOp, { minLength: 1, maxLength: 5 }).map((ops) => {
    let s = seed;
    for (const o of ops) {
      const at = s.length === 0 ? 0 : o.at % (s.length + 1);
      if (o.kind === 'insert') s = s.slice(0, at) + o.text + s.slice(at);
      else if (o.kind === 'delete') s = s.slice(0, at) + s.slice(at + 1 + (o.text.length % 4));
      else if (o.kind === 'replace') s = s.slice(0, at) + o.text + s.slice(at + o.text.length);
      else s = s.slice(0, at) + o.text.repeat(64) + s.slice(at);
    }
    return s;
  });
}

/** Seeds, their mutations and arbitrary strings. */
export function fuzzString(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 6, arbitrary: fc.constantFrom(...seeds).chain(mutatedString) },
    { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  );
}

/**
 * Calls `parse` and reports anything but a result or a 4xx AppError (the parser's way
 * of saying "bad input"): a TypeError, a RangeError (stack), a 5xx, or taking too long.
 */
export function expectCleanRejection(parse: () => unknown, boundMs = 250): void {
  const started = performance.now();
  try {
    parse();
  } catch (error) {
    if (!(error instanceof AppError) || error.status >= 500) throw error;
  }
  const took = performance.now() - started;
  if (took > boundMs) throw new Error(`took ${took.toFixed(0)} ms (bound ${boundMs} ms)`);
}

let gcFn: (() => void) | null = null;

/** Heap in use after a full garbage collection, in bytes. */
export function heapAfterGc(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

/**
 * The answer every fuzzed HTTP request must get: a success, or a 4xx problem whose
 * `status` matches — never a 5xx, except 503 LdContextNotAvailable (NGSI-LD's answer for
 * a remote @context that cannot be fetched; the fuzz tests run offline).
 */
export function assertCleanAnswer(
  request: { method?: string; url?: string; payload?: unknown },
  response: { statusCode: number; body: string },
): void {
  const describe = () =>
    `${request.method} ${request.url} ${String(request.payload ?? '').slice(0, 400)}\n→ ` +
    `${response.statusCode} ${response.body.slice(0, 400)}`;
  if (response.statusCode >= 500 && !/LdContextNotAvailable/.test(response.body)) {
    throw new Error(`server error: ${describe()}`);
  }
  if (response.statusCode >= 400) {
    let problem: { status?: unknown; type?: unknown };
    try {
      problem = JSON.parse(response.body) as typeof problem;
    } catch {
      throw new Error(`problem is not JSON: ${describe()}`);
    }
    if (problem.status !== response.statusCode || typeof problem.type !== 'string') {
      throw new Error(`not a problem matching the status: ${describe()}`);
    }
  }
}
