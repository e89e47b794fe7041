/**
 * Fuzzing the subscription API: mutated subscriptions (selectors, q, scopeQ, geoQ,
 * notification parameters and endpoints, throttling, expiry, @context) are created and
 * patched through the real server and real SQL. Every answer must be a success or a 4xx
 * problem with a matching status — never a 5xx. OCP_FUZZ_RUNS sets the cases per property.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { mutatedSeed, mutatedString } from '../resilience/fuzz.js';

const runs = Number(process.env.OCP_FUZZ_RUNS ?? 100);
const options = {
  numRuns: runs,
  seed: process.env.OCP_FUZZ_SEED ? Number(process.env.OCP_FUZZ_SEED) : undefined,
};
const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld';

const seeds: Record<string, unknown>[] = [
  {
    type: 'Subscription',
    entities: [{ type: 'AirQualityObserved' }],
    watchedAttributes: ['NO2', 'PM10'],
    q: 'NO2>40;PM10<50',
    notification: {
      attributes: ['NO2'],
      format: 'keyValues',
      endpoint: { uri: 'http://receiver.fuzz.invalid/notify', accept: 'application/json' },
    },
    throttling: 5,
  },
  {
    id: 'urn:ngsi-ld:Subscription:fuzz',
    type: 'Subscription',
    entities: [{ idPattern: '^urn:ngsi-ld:Parking.*', type: 'ParkingSpot' }],
    geoQ: {
      geometry: 'Polygon',
      coordinates: [
        [
          [-4, 40],
          [-3, 40],
          [-3, 41],
          [-4, 40],
        ],
      ],
      georel: 'within',
    },
    scopeQ: '/Madrid/#',
    notificationTrigger: ['entityCreated', 'attributeUpdated'],
    expiresAt: '2099-01-01T00:00:00Z',
    notification: {
      endpoint: {
        uri: 'mqtt://broker.fuzz.invalid:1883/city/parking',
        receiverInfo: [{ key: 'X-Token', value: 's' }],
      },
      sysAttrs: true,
      showChanges: true,
    },
  },
  {
    type: 'Subscription',
    entities: [{ type: 'Streetlight' }],
    timeInterval: 60,
    lang: 'en',
    notification: { endpoint: { uri: 'https://receiver.fuzz.invalid/' }, format: 'concise' },
    '@context': [CORE],
  },
];

for (const backend of testBackends()) {
  describe(`subscription API under fuzzing (${backend})`, () => {
    let node: TestNode;
    let unique = 0;
    before(async () => {
      node = await startTestNode({
        backend,
        mqtt: 'off',
        env: {
          OCP_ANONYMOUS_ROLE: 'admin',
          OCP_RATE_LIMIT: 'off',
          OCP_FETCH_ALLOW_HOSTS: 'contexts.fuzz.invalid',
          OCP_FETCH_TIMEOUT_MS: '500',
          OCP_NOTIFY_WORKER: 'off',
        },
      });
    });
    after(() => node.close());

    async function send(request: InjectOptions): Promise<number> {
      const response = await node.app.inject(request);
      const describe = () =>
        `${request.method} ${request.url} ${String(request.payload ?? '').slice(0, 400)}\n→ ` +
        `${response.statusCode} ${response.body.slice(0, 400)}`;
      if (response.statusCode >= 500) {
        assert.ok(
          response.statusCode === 503 && /LdContextNotAvailable/.test(response.body),
          describe(),
        );
      }
      if (response.statusCode >= 400) {
        const problem = response.json() as { status?: unknown };
        assert.equal(problem.status, response.statusCode, describe());
      }
      return response.statusCode;
    }

    const fresh = (body: unknown) =>
      body && typeof body === 'object' && !Array.isArray(body) && 'id' in body
        ? { ...body, id: `urn:ngsi-ld:Subscription:fuzz${unique++}` }
        : body;

    it('creates or refuses any mutated subscription', async () => {
      await fc.assert(
        fc.asyncProperty(mutatedSeed(seeds), fc.boolean(), async (body, ld) => {
          await send({
            method: 'POST',
            url: '/ngsi-ld/v1/subscriptions',
            headers: { 'content-type': ld ? 'application/ld+json' : 'application/json' },
            payload: JSON.stringify(fresh(body)) ?? 'null',
          });
        }),
        options,
      );
    });

    it('patches or refuses any mutated fragment, and answers raw bodies', async () => {
      const created = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/subscriptions',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ ...seeds[0], id: 'urn:ngsi-ld:Subscription:target' }),
      });
      assert.equal(created.statusCode, 201, created.body);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            mutatedSeed(seeds).map((b) => JSON.stringify(b) ?? 'null'),
            fc.constantFrom(...seeds.map((s) => JSON.stringify(s))).chain(mutatedString),
          ),
          fc.constantFrom('PATCH', 'POST'),
          async (payload, method) => {
            await send({
              method: method as 'PATCH',
              url:
                method === 'PATCH'
                  ? '/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:target'
                  : '/ngsi-ld/v1/subscriptions',
              headers: { 'content-type': 'application/json' },
              payload,
            });
          },
        ),
        options,
      );
    });
  });
}
