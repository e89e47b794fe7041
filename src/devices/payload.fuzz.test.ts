/**
 * Fuzzing device payloads: every message on every topic kind — Smart Data Models
 * examples and compact measurements, mutated, plus raw bytes — decodes to entity inputs
 * or to a dead-letter reason. Decoding never throws, never takes long, and never hands
 * the writer a string PostgreSQL cannot store (which would fail the whole write batch).
 * OCP_FUZZ_RUNS sets the cases per property (default 300).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ContextResolver, type RequestContext } from '../context/jsonld/context-resolver.js';
import { systemClock } from '../platform/clock.js';
import { createGuardedFetcher } from '../platform/http/guarded-fetch.js';
import { createTestDatabase, type TestDatabase } from '../platform/testing/database.js';
import { testConfig } from '../platform/testing/node.js';
import {
  mutatedJson,
  mutatedSeed,
  mutatedString,
  nastyValue,
  smartDataModelSeeds,
} from '../resilience/fuzz.js';
import { decodeMessage, deadLetterReasons } from './payload.js';
import type { DeviceTopic } from './topics.js';

const runs = Number(process.env.OCP_FUZZ_RUNS ?? 300);
const options = {
  numRuns: runs,
  seed: process.env.OCP_FUZZ_SEED ? Number(process.env.OCP_FUZZ_SEED) : undefined,
};

/** The node's own resolver, offline: every remote @context is refused at once. */
let resolver: ContextResolver;
let database: TestDatabase;
before(async () => {
  database = await createTestDatabase('pglite');
  const config = testConfig({ OCP_FETCH_ALLOW_HOSTS: 'contexts.fuzz.invalid' });
  resolver = new ContextResolver(
    database.db,
    createGuardedFetcher(config.fetch),
    systemClock,
    60,
    'http://ocp.test/ngsi-ld/v1/jsonldContexts/',
  );
});
after(() => database.close());
const resolve = (context: RequestContext | undefined) => resolver.resolve(context);

const seeds = smartDataModelSeeds()
  .map((s) => s.body)
  .filter((b) => b && typeof b === 'object');
const measurements = [
  { t: 1767225600000, NO2: 22.5, PM10: 11 },
  { t: '2026-01-01T00:00:00Z', on: true, mode: 'eco' },
  { location: { type: 'Point', coordinates: [-3.7, 40.4] }, level: 0.42 },
];
const topics: DeviceTopic[] = [
  { kind: 'entities', tenant: '', clientId: 'cli_fuzz' },
  { kind: 'attrs', tenant: '', clientId: 'cli_fuzz', entityId: 'urn:ngsi-ld:Fuzz:1' },
  { kind: 'measurements', tenant: '', clientId: 'cli_fuzz', entityId: 'urn:ngsi-ld:Fuzz:1' },
];

// eslint-disable-next-line no-control-regex -- NUL is one of the things looked for.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
function assertStorable(value: unknown): void {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string')
      assert.ok(!UNSTORABLE.test(item), `unstorable ${JSON.stringify(item)}`);
    else if (item && typeof item === 'object')
      for (const [k, v] of Object.entries(item)) stack.push(k, v);
  }
}

async function check(topic: DeviceTopic, payload: Buffer): Promise<void> {
  const started = performance.now();
  const decoded = await decodeMessage(topic, payload, undefined, resolve, new Date());
  const took = performance.now() - started;
  assert.ok(took < 500, `decoding took ${took.toFixed(0)} ms`);
  if (decoded.ok) {
    assert.ok(decoded.inputs.length > 0);
    assertStorable(decoded.inputs);
  } else {
    assert.ok(deadLetterReasons.includes(decoded.reason), decoded.reason);
    assert.equal(typeof decoded.detail, 'string');
  }
}

describe('device payloads under fuzzing', () => {
  it('decodes or dead-letters any mutated entity or fragment', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...topics),
        fc.oneof(
          mutatedSeed(seeds),
          mutatedSeed(measurements),
          fc.array(mutatedSeed(seeds), { maxLength: 3 }),
        ),
        async (topic, body) => check(topic, Buffer.from(JSON.stringify(body) ?? 'null')),
      ),
      options,
    );
  });

  it('dead-letters raw bytes that are not JSON', async () => {
    const texts = [
      ...smartDataModelSeeds().map((s) => s.text),
      ...measurements.map((m) => JSON.stringify(m)),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...topics),
        fc.oneof(
          fc
            .constantFrom(...texts)
            .chain(mutatedString)
            .map((s) => Buffer.from(s)),
          fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
          nastyValue.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
          mutatedJson({ NO2: 1, '@context': [{ NO2: 'https://example.org/no2' }] }).map((v) =>
            Buffer.from(JSON.stringify(v) ?? ''),
          ),
        ),
        async (topic, payload) => check(topic, payload),
      ),
      options,
    );
  });
});
