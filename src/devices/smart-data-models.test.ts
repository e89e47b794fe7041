/**
 * Every Smart Data Models NGSI-LD example in ../shared/fixtures (normalized and keyValues
 * `.jsonld`) published by a device to …/entities over a real broker: valid ones become
 * entities owned by the device's organisation, invalid ones (the same list the HTTP test
 * keeps, plus the file that is not JSON) become dead letters. Remote @contexts are stood
 * in for in the node's context cache, as in src/context/entities/smart-data-models.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { testBackends } from '../platform/testing/database.js';
import {
  INVALID_SMART_DATA_MODEL_EXAMPLES,
  smartDataModelExamples,
} from '../platform/testing/smart-data-models.js';
import {
  connectDevice,
  createPublisher,
  deadLetters,
  startDeviceNode,
  testBrokers,
  waitFor,
  type DeviceNode,
  type Publisher,
} from './devices.testing.js';
import { deviceTopic } from './topics.js';

const INVALID = new Set(Object.keys(INVALID_SMART_DATA_MODEL_EXAMPLES));

const all = smartDataModelExamples();
const contextUrls = (body: Record<string, unknown>) => {
  const ctx = body['@context'];
  return (Array.isArray(ctx) ? ctx : [ctx]).filter(
    (c): c is string =>
      typeof c === 'string' && /^https?:/.test(c) && !c.startsWith('https://uri.etsi.org/'),
  );
};

for (const backend of testBackends()) {
  for (const broker of testBrokers()) {
    describe(`Smart Data Models over MQTT (${backend}, ${broker} broker)`, () => {
      let node: DeviceNode;
      let p: Publisher;
      let device: MqttClient;
      before(async () => {
        node = await startDeviceNode(backend, broker);
        p = await createPublisher(node);
        device = await connectDevice(node, p);
        const urls = new Set(all.flatMap((e) => (e.body ? contextUrls(e.body) : [])));
        for (const url of urls) {
          await node.platform.db.query(
            `INSERT INTO ngsi_jsonld_contexts (id, url, kind, body, created_at, fetched_at)
             VALUES ($1, $1, 'cached', '{"@context": {}}', now(), now() + interval '1 day')`,
            [url],
          );
        }
      });
      after(async () => {
        await device?.endAsync();
        await node?.close();
      });

      it(
        'writes every valid example and dead-letters every invalid one',
        { skip: all.length === 0 && 'fixtures not present' },
        async () => {
          assert.ok(all.length > 150, `${all.length} examples`);
          const topic = deviceTopic({ kind: 'entities', tenant: '', clientId: p.clientId });
          for (const example of all) await device.publishAsync(topic, example.text, { qos: 1 });
          const valid = all.filter((e) => e.body && !INVALID.has(e.file));
          const ids = new Set(valid.map((e) => e.body!.id as string));
          const invalid = all.length - valid.length;
          const letters = await waitFor(
            'every example handled',
            async () => {
              const { rows } = await node.platform.db.query<{ n: number }>(
                'SELECT count(*)::int8 AS n FROM ngsi_entities WHERE owner_org = $1',
                [p.organisationId],
              );
              const dead = await deadLetters(node);
              return rows[0]!.n === ids.size && dead.length === invalid ? dead : false;
            },
            30_000,
          );
          assert.deepEqual(
            letters.map((l) => l.reason).sort(),
            [
              'malformed_json',
              ...Array.from({ length: invalid - 1 }, () => 'invalid_payload'),
            ].sort(),
          );
          // Spot-check one valid example of each kind by type.
          for (const example of valid.slice(0, 20)) {
            const { rows } = await node.platform.db.query<{ types: string[] }>(
              'SELECT types FROM ngsi_entities WHERE id = $1',
              [example.body!.id],
            );
            assert.equal(rows.length, 1, example.file);
            assert.ok(
              rows[0]!.types.some((t) => t.endsWith(`/${String(example.body!.type)}`)),
              `${example.file}: ${rows[0]!.types.join(',')}`,
            );
          }
        },
      );
    });
  }
}
