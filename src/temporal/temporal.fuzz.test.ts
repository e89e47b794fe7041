/**
 * Fuzzing the temporal API: ISO 8601 durations and the temporal query parameters
 * (timerel, timeAt, endTimeAt, timeproperty, lastN, options, aggrMethods,
 * aggrPeriodDuration) as pure parsers and through the real server on stored history;
 * temporal entity bodies and `temporalQ` query bodies mutated from valid ones. Parsers
 * return or refuse with a 4xx error; the server answers a success or a 4xx problem —
 * never a 5xx. OCP_FUZZ_RUNS sets the cases per property.
 */
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import {
  assertCleanAnswer,
  expectCleanRejection,
  fuzzString,
  mutatedSeed,
} from '../resilience/fuzz.js';
import { parseDuration, parseTemporalOptions, parseTemporalQuery } from './temporal.params.js';

const runs = Number(process.env.OCP_FUZZ_RUNS ?? 100);
const options = {
  numRuns: runs,
  seed: process.env.OCP_FUZZ_SEED ? Number(process.env.OCP_FUZZ_SEED) : undefined,
};

const DURATIONS = ['PT1H', 'P1D', 'P1W', 'P1M', 'P1Y', 'P1DT12H', 'PT0.5S', 'P0D', 'PT1M30S'];
const DATES = [
  '2026-01-01T00:00:00Z',
  '2026-01-01T06:00:00.123+02:00',
  '1970-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
];

const params = fc.record(
  {
    timerel: fuzzString(['before', 'after', 'between']),
    timeAt: fuzzString(DATES),
    endTimeAt: fuzzString(DATES),
    timeproperty: fuzzString(['observedAt', 'createdAt', 'modifiedAt']),
    lastN: fuzzString(['1', '10', '0', '999999999', '1e3']),
    options: fuzzString(['temporalValues', 'aggregatedValues', 'sysAttrs', 'normalized']),
    format: fuzzString(['simplified', 'temporalValues', 'aggregatedValues']),
    aggrMethods: fuzzString(['avg', 'min,max', 'totalCount,distinctCount,sum,sumsq,stddev']),
    aggrPeriodDuration: fuzzString(DURATIONS),
    attrs: fuzzString(['no2', 'no2,status']),
    q: fuzzString(['no2>20', 'status=="ok"']),
    type: fuzzString(['AirQualityObserved']),
  },
  { requiredKeys: [] },
);

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const sensor = {
  id: 'urn:ngsi-ld:AirQualityObserved:fuzz',
  type: 'AirQualityObserved',
  no2: Array.from({ length: 24 }, (_, i) => ({
    type: 'Property',
    value: 20 + i,
    observedAt: iso(T0 + i * 3_600_000),
  })),
  status: [
    { type: 'Property', value: 'ok', observedAt: iso(T0) },
    { type: 'Property', value: 'degraded', observedAt: iso(T0 + 7_200_000) },
  ],
};
const querySeed = {
  type: 'Query',
  entities: [{ type: 'AirQualityObserved' }],
  attrs: ['no2'],
  q: 'no2>20',
  temporalQ: {
    timerel: 'between',
    timeAt: DATES[0],
    endTimeAt: '2026-01-02T00:00:00Z',
    timeproperty: 'observedAt',
    lastN: 5,
  },
};

describe('temporal parameters under fuzzing', () => {
  it('parses or cleanly rejects any duration, temporal query and options', () => {
    fc.assert(
      fc.property(params, fuzzString(DURATIONS), (p, duration) => {
        expectCleanRejection(() => parseDuration(duration));
        expectCleanRejection(() => parseTemporalQuery(p));
        expectCleanRejection(() => parseTemporalOptions(p));
      }),
      { ...options, numRuns: runs * 3 },
    );
  });
});

for (const backend of testBackends()) {
  describe(`temporal API under fuzzing (${backend})`, () => {
    let node: TestNode;
    let unique = 0;
    before(async () => {
      node = await startTestNode({
        backend,
        mqtt: 'off',
        env: { OCP_ANONYMOUS_ROLE: 'admin', OCP_RATE_LIMIT: 'off' },
      });
      const created = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/temporal/entities',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(sensor),
      });
      assertCleanAnswer({ method: 'POST', url: 'seed' }, created);
    });
    after(() => node.close());

    const send = async (request: InjectOptions) =>
      assertCleanAnswer(
        request as { method?: string; url?: string },
        await node.app.inject(request),
      );

    it('answers any combination of temporal query parameters', async () => {
      await fc.assert(
        fc.asyncProperty(
          params,
          fc.constantFrom('/temporal/entities', `/temporal/entities/${sensor.id}`),
          async (p, path) => {
            const query = new URLSearchParams(p as Record<string, string>).toString();
            await send({ method: 'GET', url: `/ngsi-ld/v1${path}?${query}` });
          },
        ),
        options,
      );
    });

    it('answers mutated temporal entities and temporal query bodies', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            mutatedSeed([sensor]).map((body) => ({
              url: '/ngsi-ld/v1/temporal/entities',
              body:
                body && typeof body === 'object' && !Array.isArray(body) && 'id' in body
                  ? { ...body, id: `urn:ngsi-ld:AirQualityObserved:fuzz${unique++ % 5}` }
                  : body,
            })),
            mutatedSeed([querySeed]).map((body) => ({
              url: '/ngsi-ld/v1/temporal/entityOperations/query?options=aggregatedValues&aggrMethods=avg,max&aggrPeriodDuration=PT1H',
              body,
            })),
            mutatedSeed([querySeed]).map((body) => ({
              url: '/ngsi-ld/v1/temporal/entityOperations/query?options=temporalValues',
              body,
            })),
          ),
          async ({ url, body }) => {
            await send({
              method: 'POST',
              url,
              headers: { 'content-type': 'application/json' },
              payload: JSON.stringify(body) ?? 'null',
            });
          },
        ),
        options,
      );
    });
  });
}
