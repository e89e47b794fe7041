/**
 * Every Smart Data Models NGSI-LD example in ../shared/fixtures (normalized and keyValues
 * `.jsonld`) published by a device to …/entities over a real broker: valid ones become
 * entities owned by the device's organisation, invalid ones (the same list the HTTP test
 * keeps, plus the file that is not JSON) become dead letters. Remote @contexts are stood
 * in for in the node's context cache, as in src/context/entities/smart-data-models.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { testBackends } from '../platform/testing/database.js';
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

const root = new URL('../../../shared/fixtures/smart-data-models/', import.meta.url).pathname;

/** Examples that are not valid NGSI-LD (see src/context/entities/smart-data-models.test.ts). */
const INVALID = new Set([
  'Environment/FloodMonitoring/example-normalized.jsonld',
  'Environment/NightSkyQuality/example-normalized.jsonld',
  'Environment/NightSkyQuality/example.jsonld',
  'Environment/PhreaticObserved/example-normalized.jsonld',
  'Environment/WaterObserved/example-normalized.jsonld',
  'Transportation/AnprFlowObserved/example.jsonld',
  'Transportation/CityWork/example-normalized.jsonld',
  'Transportation/EVChargingStation/example.jsonld',
  'Transportation/RestrictionException/example-normalized.jsonld',
  'Transportation/RoadAccident/example.jsonld',
  'Transportation/SpecialRestriction/example-normalized.jsonld',
  'Transportation/TransportStation/example-normalized.jsonld',
  'Transportation/TransportStation/example.jsonld',
  'UrbanMobility/TransitManagement/example.jsonld',
  'Weather/WeatherAlert/example.jsonld',
  'Weather/WeatherForecast/example-normalized.jsonld',
  'Weather/WeatherForecast/example.jsonld',
]);

interface Example {
  file: string;
  text: string;
  body: Record<string, unknown> | null;
}

function examples(): Example[] {
  const out: Example[] = [];
  if (!existsSync(root)) return out;
  for (const repo of readdirSync(root).sort()) {
    if (repo.includes('.')) continue;
    for (const model of readdirSync(`${root}${repo}`).sort()) {
      for (const name of ['example-normalized.jsonld', 'example.jsonld']) {
        const file = `${repo}/${model}/${name}`;
        if (!existsSync(`${root}${file}`)) continue;
        const text = readFileSync(`${root}${file}`, 'utf8');
        let body: Record<string, unknown> | null = null;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = null;
        }
        out.push({ file, text, body });
      }
    }
  }
  return out;
}

const all = examples();
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
