/**
 * Fuzzing the NGSI-LD HTTP API through the real server and real SQL: JSON bodies of the
 * entity, attribute and batch routes (Smart Data Models examples, mutated), raw bodies
 * that are not JSON, every query parameter (type expressions, q, scopeQ, geo, attrs,
 * pick/omit, paging, options, idPattern…), the Link, NGSILD-Tenant, OCP-Purpose, Accept
 * and Content-Type headers, and @context values. The node must answer every request
 * with a problem (4xx) or a success — never a 5xx (except 503 LdContextNotAvailable,
 * the answer NGSI-LD prescribes for a context it cannot fetch) — and its heap must not
 * grow with the number of requests. OCP_FUZZ_RUNS sets the cases per property.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import {
  fuzzString,
  heapAfterGc,
  mutatedJson,
  mutatedSeed,
  mutatedString,
  nastyValue,
  seedContextUrls,
  smartDataModelSeeds,
} from '../resilience/fuzz.js';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';

const runs = Number(process.env.OCP_FUZZ_RUNS ?? 100);
const seed = process.env.OCP_FUZZ_SEED ? Number(process.env.OCP_FUZZ_SEED) : undefined;
const options = { numRuns: runs, seed };

const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld';
const LINK = (url: string) =>
  `<${url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`;

const seeds = smartDataModelSeeds();
const bodies = seeds.filter((s) => s.body && typeof s.body === 'object').map((s) => s.body);
const withoutContext = bodies.map((b) => {
  const copy = { ...(b as Record<string, unknown>) };
  delete copy['@context'];
  return copy;
});
/** Deep nesting inside a valid entity: parsers, renderers and SQL must not blow the stack. */
const deep = (n: number) =>
  `{"id":"urn:ngsi-ld:Fuzz:deep${n}","type":"T","p":{"type":"Property","value":${'['.repeat(n)}${']'.repeat(n)}}}`;
const texts = [...seeds.map((s) => s.text), deep(1_000), deep(10_000), deep(200_000)];

/** Header values a client can actually send (HTTP forbids control characters). */
const headerValue = (seedValues: string[]) =>
  fuzzString(seedValues).filter((v) => /^[\t\x20-\x7e]*$/.test(v) && v.length < 4_000);

const contextValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(CORE, [CORE], 'https://contexts.fuzz.invalid/ctx.jsonld', 'urn:x', ''),
  mutatedJson({
    '@vocab': 'https://example.org/',
    ex: 'https://example.org/ns#',
    speed: 'ex:speed',
  }),
  mutatedJson([{ temperature: { '@id': 'https://example.org/t', '@type': '@id' } }, CORE]),
  nastyValue,
);

const ids = fc.oneof(
  fc.constantFrom(
    'urn:ngsi-ld:Fuzz:base',
    'urn:ngsi-ld:Fuzz:none',
    'urn:ngsi-ld:null',
    'urn:',
    '\ud800',
    '\u0000',
  ),
  fuzzString(['urn:ngsi-ld:Fuzz:base', 'https://example.org/e/1', 'urn:ngsi-ld:Fuzz:%2F..%2F']),
);

/** Percent-encodes an id; unpaired surrogates go out as the invalid UTF-8 a client could send. */
const pathSegment = (id: string) =>
  id
    .split(/([\ud800-\udfff])/)
    .map((part) => (/^[\ud800-\udfff]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');

const queryParams = fc.record(
  {
    id: fuzzString(['urn:ngsi-ld:Fuzz:base', 'urn:a,urn:b']),
    type: fuzzString([
      'AirQualityObserved',
      'A,B',
      'A|B',
      'A;B',
      '(A|B);C',
      'ex:T',
      'https://x.org/T',
    ]),
    idPattern: fuzzString(['^urn:ngsi-ld:Fuzz:.*', '.*', '[a-z]+', '(a|b)*c']),
    attrs: fuzzString(['NO2,PM10', 'location', 'temperature']),
    pick: fuzzString(['id,type,NO2', 'location']),
    omit: fuzzString(['NO2', 'type']),
    q: fuzzString([
      'NO2>40',
      'name~=(?i)^par',
      'name~=[',
      'dateObserved>=2016-03-15T11:00:00Z',
      'NO2==1..2',
      'address[streetAddress]=="x"',
      'temperature.observedAt<2030-01-01T00:00:00Z',
      'x==99999999999999999999999999999',
      'at>9999-99-99T99:99:99Z',
    ]),
    scopeQ: fuzzString(['/Madrid/#', '/a/+/c', '/a,/b']),
    georel: fuzzString([
      'near;maxDistance==2000',
      'within',
      'intersects',
      'near;minDistance==1e400',
    ]),
    geometry: fuzzString(['Point', 'Polygon', 'LineString']),
    coordinates: fuzzString([
      '[-3.7,40.4]',
      '[[[-4,40],[-3,40],[-3,41],[-4,40]]]',
      '[[0,0],[1,1]]',
      '[1e309,0]',
    ]),
    geoproperty: fuzzString(['location', 'ex:area']),
    limit: fuzzString(['20', '0', '1000', '-1', '1e3']),
    offset: fuzzString(['0', '10', '99999999999999999999']),
    count: fc.constantFrom('true', 'false', 'yes', ''),
    options: fuzzString(['keyValues', 'concise,sysAttrs', 'count', 'normalized,keyValues']),
    format: fuzzString(['simplified', 'normalized', 'concise']),
    lang: fuzzString(['en', 'nl,en;q=0.5', '*']),
    datasetId: fuzzString(['urn:ngsi-ld:Dataset:1', '@none']),
    local: fc.constantFrom('true', 'false', 'x'),
  },
  { requiredKeys: [] },
);

for (const backend of testBackends()) {
  describe(
    `NGSI-LD API under fuzzing (${backend})`,
    { skip: bodies.length === 0 && 'fixtures not present' },
    () => {
      let node: TestNode;
      let unique = 0;
      const statuses = new Map<number, number>();

      before(async () => {
        node = await startTestNode({
          backend,
          mqtt: 'off',
          env: {
            OCP_ANONYMOUS_ROLE: 'admin',
            OCP_RATE_LIMIT: 'off',
            // Offline: any remote @context other than the stand-ins below is refused at once.
            OCP_FETCH_ALLOW_HOSTS: 'contexts.fuzz.invalid',
            OCP_FETCH_TIMEOUT_MS: '500',
          },
        });
        for (const url of seedContextUrls().filter((u) => !u.startsWith('https://uri.etsi.org/'))) {
          await node.platform.db.query(
            `INSERT INTO ngsi_jsonld_contexts (id, url, kind, body, created_at, fetched_at)
           VALUES ($1, $1, 'cached', '{"@context": {}}', now(), now() + interval '1 day')
           ON CONFLICT DO NOTHING`,
            [url],
          );
        }
        const base = await node.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/entities',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({
            id: 'urn:ngsi-ld:Fuzz:base',
            type: 'AirQualityObserved',
            NO2: { type: 'Property', value: 22 },
            location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [-3.7, 40.4] } },
          }),
        });
        assert.equal(base.statusCode, 201, base.body);
      });
      after(async () => {
        process.stdout.write(
          `# fuzz (${backend}) statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}\n`,
        );
        await node.close();
      });

      /** Sends one request; anything but a success or a 4xx problem fails the property. */
      async function send(request: InjectOptions): Promise<void> {
        const response = await node.app.inject(request);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        const describe = () =>
          `${request.method} ${request.url} ${JSON.stringify(request.headers)} ` +
          `${String(request.payload ?? '').slice(0, 400)}\n→ ${response.statusCode} ${response.body.slice(0, 400)}`;
        if (response.statusCode >= 500) {
          const contextUnavailable =
            response.statusCode === 503 && /LdContextNotAvailable/.test(response.body);
          assert.ok(contextUnavailable, describe());
        }
        if (response.statusCode >= 400) {
          let problem: { status?: unknown; type?: unknown };
          try {
            problem = response.json();
          } catch {
            assert.fail(`problem is not JSON: ${describe()}`);
          }
          assert.equal(problem.status, response.statusCode, describe());
          assert.equal(typeof problem.type, 'string', describe());
        }
      }

      /** Gives some mutated entities a fresh id, so creation paths run, not only 409s. */
      const freshId = (body: unknown, fresh: boolean) => {
        if (fresh && body && typeof body === 'object' && !Array.isArray(body) && 'id' in body)
          return { ...body, id: `urn:ngsi-ld:Fuzz:${unique++}` };
        return body;
      };
      const contentType = fc.constantFrom(
        'application/json',
        'application/ld+json',
        'application/merge-patch+json',
        'text/plain',
        'application/json; charset=latin1',
        '',
      );

      it('creates from any mutated Smart Data Models example', async () => {
        await fc.assert(
          fc.asyncProperty(
            mutatedSeed(bodies),
            fc.boolean(),
            fc.boolean(),
            async (body, fresh, ld) => {
              const payload = JSON.stringify(freshId(body, fresh)) ?? 'null';
              await send({
                method: 'POST',
                url: '/ngsi-ld/v1/entities',
                headers: { 'content-type': ld ? 'application/ld+json' : 'application/json' },
                payload,
              });
            },
          ),
          options,
        );
      });

      it('answers raw bodies that are not JSON, or not what the media type says', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(fc.constantFrom(...texts), fc.constantFrom(...texts).chain(mutatedString)),
            contentType,
            fc.constantFrom(
              '/entities',
              '/entityOperations/upsert',
              '/entities/urn:ngsi-ld:Fuzz:base/attrs',
            ),
            fc.constantFrom('POST', 'PATCH', 'PUT'),
            async (payload, type, path, method) => {
              await send({
                method: method as 'POST',
                url: `/ngsi-ld/v1${path}`,
                headers: type ? { 'content-type': type } : {},
                payload,
              });
            },
          ),
          options,
        );
      });

      it('runs batch operations on arrays of mutated entities', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(mutatedSeed(withoutContext), fc.boolean()), {
              minLength: 1,
              maxLength: 4,
            }),
            fc.constantFrom('create', 'upsert', 'update', 'merge', 'delete', 'query'),
            fc.constantFrom(
              '',
              '?options=update',
              '?options=replace',
              '?options=noOverwrite',
              '?options=x',
            ),
            async (items, operation, query) => {
              const batch =
                operation === 'delete'
                  ? items.map(([b]) => (b as { id?: unknown } | null)?.id ?? b)
                  : operation === 'query'
                    ? items[0]![0]
                    : items.map(([b, fresh]) => freshId(b, fresh));
              await send({
                method: 'POST',
                url: `/ngsi-ld/v1/entityOperations/${operation}${query}`,
                headers: { 'content-type': 'application/json' },
                payload: JSON.stringify(batch) ?? 'null',
              });
            },
          ),
          options,
        );
      });

      it('appends, updates and merges mutated attribute fragments', async () => {
        const fragments = withoutContext.map((b) => {
          const copy = { ...(b as Record<string, unknown>) };
          delete copy.id;
          delete copy.type;
          return copy;
        });
        await fc.assert(
          fc.asyncProperty(
            mutatedSeed(fragments),
            fc.constantFrom(
              ['POST', '/entities/urn:ngsi-ld:Fuzz:base/attrs'],
              ['POST', '/entities/urn:ngsi-ld:Fuzz:base/attrs?options=noOverwrite'],
              ['PATCH', '/entities/urn:ngsi-ld:Fuzz:base/attrs'],
              ['PATCH', '/entities/urn:ngsi-ld:Fuzz:base'],
              ['PUT', '/entities/urn:ngsi-ld:Fuzz:base'],
              ['PATCH', '/entities/urn:ngsi-ld:Fuzz:base/attrs/NO2'],
              ['PUT', '/entities/urn:ngsi-ld:Fuzz:base/attrs/NO2'],
            ),
            contentType,
            async (fragment, [method, url], type) => {
              const payload =
                url.endsWith('/NO2') && fragment && typeof fragment === 'object'
                  ? (Object.values(fragment)[0] ?? fragment)
                  : fragment;
              await send({
                method: method as 'POST',
                url: `/ngsi-ld/v1${url}`,
                headers: type ? { 'content-type': type } : {},
                payload: JSON.stringify(payload) ?? 'null',
              });
            },
          ),
          options,
        );
      });

      it('answers any combination of query parameters', async () => {
        await fc.assert(
          fc.asyncProperty(
            queryParams,
            fc.constantFrom(
              '/entities',
              '/entities/urn:ngsi-ld:Fuzz:base',
              '/types',
              '/attributes',
            ),
            async (params, path) => {
              const query = new URLSearchParams(params as Record<string, string>).toString();
              await send({ method: 'GET', url: `/ngsi-ld/v1${path}?${query}` });
            },
          ),
          options,
        );
      });

      it('answers any entity id in the path', async () => {
        await fc.assert(
          fc.asyncProperty(ids, fc.constantFrom('GET', 'DELETE', 'PATCH'), async (id, method) => {
            await send({
              method: method as 'GET',
              url: `/ngsi-ld/v1/entities/${pathSegment(id)}${method === 'PATCH' ? '/attrs' : ''}`,
              ...(method === 'PATCH'
                ? {
                    headers: { 'content-type': 'application/json' },
                    payload: '{"NO2":{"type":"Property","value":1}}',
                  }
                : {}),
            });
          }),
          options,
        );
      });

      it('answers any Link, NGSILD-Tenant, OCP-Purpose and Accept header', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.record(
              {
                link: headerValue([
                  LINK(CORE),
                  LINK('https://contexts.fuzz.invalid/c.jsonld'),
                  `${LINK(CORE)}, ${LINK(CORE)}`,
                ]),
                'ngsild-tenant': headerValue(['city', 'urn:tenant:a', 'a/b', '']),
                'ocp-purpose': headerValue(['traffic research', '']),
                accept: headerValue([
                  'application/json',
                  'application/ld+json',
                  'application/geo+json',
                  '*/*;q=0.1',
                  'text/html',
                ]),
              },
              { requiredKeys: [] },
            ),
            fc.boolean(),
            async (headers, write) => {
              await send(
                write
                  ? {
                      method: 'POST',
                      url: '/ngsi-ld/v1/entities',
                      headers: { ...headers, 'content-type': 'application/json' },
                      payload: JSON.stringify({ id: `urn:ngsi-ld:Fuzz:h${unique++}`, type: 'T' }),
                    }
                  : { method: 'GET', url: '/ngsi-ld/v1/entities?type=AirQualityObserved', headers },
              );
            },
          ),
          options,
        );
      });

      it('answers any @context value, in bodies and as a stored context', async () => {
        await fc.assert(
          fc.asyncProperty(contextValue, fc.boolean(), async (context, store) => {
            await send(
              store
                ? {
                    method: 'POST',
                    url: '/ngsi-ld/v1/jsonldContexts',
                    headers: { 'content-type': 'application/json' },
                    payload: JSON.stringify({ '@context': context }),
                  }
                : {
                    method: 'POST',
                    url: '/ngsi-ld/v1/entities',
                    headers: { 'content-type': 'application/ld+json' },
                    payload: JSON.stringify({
                      '@context': context,
                      id: `urn:ngsi-ld:Fuzz:c${unique++}`,
                      type: 'T',
                      speed: { type: 'Property', value: 1 },
                    }),
                  },
            );
          }),
          options,
        );
      });

      it('does not grow its heap with the number of bad requests', async () => {
        const mix = fc.oneof(
          mutatedSeed(bodies).map((b) => ({
            method: 'POST' as const,
            url: '/ngsi-ld/v1/entities',
            headers: { 'content-type': 'application/ld+json' },
            payload: JSON.stringify(b) ?? 'null',
          })),
          queryParams.map((p) => ({
            method: 'GET' as const,
            url: `/ngsi-ld/v1/entities?${new URLSearchParams(p as Record<string, string>)}`,
          })),
          contextValue.map((c) => ({
            method: 'POST' as const,
            url: '/ngsi-ld/v1/entities',
            headers: { 'content-type': 'application/ld+json' },
            payload: JSON.stringify({ '@context': c, id: 'urn:ngsi-ld:Fuzz:base', type: 'T' }),
          })),
        );
        const batch = async (n: number, offset: number) => {
          for (const request of fc.sample(mix, { numRuns: n, seed: (seed ?? 42) + offset }))
            await send(request);
        };
        const n = Math.max(200, runs * 2);
        await batch(n, 0); // warm-up: caches, JIT, pools
        const before = heapAfterGc();
        await batch(n, 1);
        await batch(n, 2);
        const grown = heapAfterGc() - before;
        process.stdout.write(
          `# fuzz (${backend}) heap growth over ${2 * n} requests: ${(grown / 1e6).toFixed(1)} MB\n`,
        );
        assert.ok(grown < 32e6, `heap grew ${(grown / 1e6).toFixed(1)} MB over ${2 * n} requests`);
      });
    },
  );
}
