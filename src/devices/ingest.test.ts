/**
 * MQTT ingestion end to end: devices publish to a real broker (the embedded Aedes broker,
 * and Mosquitto when OCP_TEST_MQTT_URL is set), the node writes through the entity
 * service into PGlite or PostgreSQL, refused messages land in the dead-letter table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { testBackends } from '../platform/testing/database.js';
import {
  connectDevice,
  createPublisher,
  deadLetters,
  entity,
  startDeviceNode,
  testBrokers,
  waitFor,
  type DeviceNode,
  type Publisher,
} from './devices.testing.js';
import { deviceTopic } from './topics.js';

const CORE = 'https://uri.etsi.org/ngsi-ld/';
const CONTEXT_URL = 'https://contexts.example.org/weather.jsonld';

async function publish(
  device: MqttClient,
  topic: string,
  payload: unknown,
  properties?: Record<string, string>,
): Promise<void> {
  const body =
    typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  await device.publishAsync(topic, body, {
    qos: 1,
    ...(properties ? { properties: { userProperties: properties } } : {}),
  });
}

for (const backend of testBackends()) {
  for (const broker of testBrokers()) {
    describe(`MQTT ingestion (${backend}, ${broker} broker)`, () => {
      let node: DeviceNode;
      let p: Publisher;
      let device: MqttClient;
      before(async () => {
        node = await startDeviceNode(backend, broker, { OCP_DEVICES_MAX_PAYLOAD_BYTES: '2048' });
        p = await createPublisher(node);
        device = await connectDevice(node, p);
        // A remote @context stood in for in the node's context cache (the suite runs offline).
        await node.platform.db.query(
          `INSERT INTO ngsi_jsonld_contexts (id, url, kind, body, created_at, fetched_at)
           VALUES ($1, $1, 'cached', $2, now(), now() + interval '1 day')`,
          [CONTEXT_URL, JSON.stringify({ '@context': { temp: 'https://example.org/ns/temp' } })],
        );
      });
      after(async () => {
        await device?.endAsync();
        await node?.close();
      });

      it('is subscribed, shared where the broker supports it', () => {
        const subscription = node.app.deviceIngestion!.subscription();
        if (broker === 'external')
          assert.match(subscription!, /^\$share\/test-[0-9a-f]+\/ocp\/v1\/#$/);
        else assert.equal(subscription, 'ocp/v1/#');
      });

      it('writes entities, NGSI-LD fragments and compact measurements, owned by the client organisation', async () => {
        const id = 'urn:ngsi-ld:AirQualityObserved:mqtt-1';
        await publish(device, deviceTopic({ kind: 'entities', tenant: '', clientId: p.clientId }), {
          id,
          type: 'AirQualityObserved',
          NO2: { type: 'Property', value: 22, unitCode: 'GQ' },
        });
        // Concise fragment with observedAt.
        await publish(
          device,
          deviceTopic({ kind: 'attrs', tenant: '', clientId: p.clientId, entityId: id }),
          { NO2: { value: 25, observedAt: '2026-03-01T10:05:00Z' }, PM10: 14 },
        );
        await publish(
          device,
          deviceTopic({ kind: 'measurements', tenant: '', clientId: p.clientId, entityId: id }),
          { t: '2026-03-01T10:10:00Z', temperature: 21.3, humidity: 40 },
        );
        const got = await waitFor('all three messages', async () => {
          const e = await entity(node, id);
          return e && 'temperature' in e && (e.NO2 as { value: number }).value === 25 ? e : false;
        });
        assert.deepEqual(got.type, 'AirQualityObserved');
        assert.equal((got.NO2 as { observedAt: string }).observedAt, '2026-03-01T10:05:00Z');
        assert.equal((got.PM10 as { value: number }).value, 14);
        assert.deepEqual(got.temperature, {
          type: 'Property',
          value: 21.3,
          observedAt: '2026-03-01T10:10:00Z',
        });
        const { rows } = await node.platform.db.query<{ owner_org: string }>(
          'SELECT owner_org FROM ngsi_entities WHERE id = $1',
          [id],
        );
        assert.equal(rows[0]!.owner_org, p.organisationId);
        // Every message became history, like an HTTP write.
        const history = await node.platform.db.query<{ n: number }>(
          `SELECT count(*)::int8 AS n FROM ngsi_attribute_history WHERE entity_id = $1 AND attr = $2`,
          [id, `${CORE}default-context/NO2`],
        );
        assert.equal(history.rows[0]!.n, 2);
      });

      it('creates an entity from measurements when a type is given, in a named tenant', async () => {
        const id = 'urn:ngsi-ld:WeatherObserved:district-7';
        const topic = deviceTopic({
          kind: 'measurements',
          tenant: 'district7',
          clientId: p.clientId,
          entityId: id,
        });
        await publish(device, topic, { type: 'WeatherObserved', t: 1772359200000, windSpeed: 3.5 });
        await publish(device, topic, { t: '2026-03-01T10:01:00Z', windSpeed: 4 });
        const got = await waitFor('the measurements', async () => {
          const e = await entity(node, id, { tenant: 'district7' });
          return e && (e.windSpeed as { value: number }).value === 4 ? e : false;
        });
        assert.equal(got.type, 'WeatherObserved');
        assert.equal(await entity(node, id), null, 'not in the default tenant');
      });

      it('expands terms with the @context the payload declares', async () => {
        const id = 'urn:ngsi-ld:Thermometer:ctx';
        await publish(device, deviceTopic({ kind: 'entities', tenant: '', clientId: p.clientId }), {
          '@context': [CONTEXT_URL],
          id,
          type: 'Thermometer',
          temp: 19,
        });
        const got = await waitFor('the entity', () => entity(node, id).then((e) => e ?? false));
        assert.deepEqual(got['https://example.org/ns/temp'], { type: 'Property', value: 19 });
      });

      it(
        'takes the @context from the ngsi-ld-context user property (MQTT 5)',
        { skip: broker === 'embedded' && 'the embedded broker speaks MQTT 3.1.1' },
        async () => {
          const id = 'urn:ngsi-ld:Thermometer:prop';
          await publish(
            device,
            deviceTopic({ kind: 'measurements', tenant: '', clientId: p.clientId, entityId: id }),
            { type: 'Thermometer', temp: 7 },
            { 'ngsi-ld-context': CONTEXT_URL },
          );
          const got = await waitFor('the entity', () => entity(node, id).then((e) => e ?? false));
          assert.equal((got['https://example.org/ns/temp'] as { value: number }).value, 7);
        },
      );

      it('sends what it cannot write to the dead-letter table and keeps going', async () => {
        const before = (await deadLetters(node)).length;
        const base = { tenant: '', clientId: p.clientId };
        const measurements = (entityId: string) =>
          deviceTopic({ kind: 'measurements', ...base, entityId });
        await publish(device, measurements('urn:ngsi-ld:X:1'), '{"t": "2026-03-01T10:00:00Z", ');
        await publish(device, measurements('not an id'), { temperature: 1 });
        await publish(device, deviceTopic({ kind: 'entities', ...base }), { id: 'x', type: 'T' });
        await publish(device, measurements('urn:ngsi-ld:X:2'), { temperature: { nested: true } });
        await publish(device, `ocp/v1/_default/${p.clientId}/something/else`, { a: 1 });
        await publish(device, measurements('urn:ngsi-ld:X:3'), 'x'.repeat(5000));
        await publish(device, measurements('urn:ngsi-ld:X:4'), { t: 'yesterday', temperature: 1 });
        // Not JSON, and the parser's message quotes a NUL that PostgreSQL cannot store.
        await publish(device, measurements('urn:ngsi-ld:X:5'), '{"temperature": \u0000}');
        // Still alive: a good message after the bad ones is written.
        await publish(device, measurements('urn:ngsi-ld:X:ok'), { type: 'X', temperature: 2 });
        await waitFor('the good message', () => entity(node, 'urn:ngsi-ld:X:ok').then((e) => !!e));
        const letters = await waitFor('eight dead letters', async () => {
          const all = await deadLetters(node);
          return all.length >= before + 8 ? all.slice(before) : false;
        });
        assert.deepEqual(
          letters.map((l) => l.reason),
          [
            'malformed_json',
            'invalid_payload',
            'invalid_payload',
            'invalid_payload',
            'invalid_topic',
            'payload_too_large',
            'invalid_payload',
            'malformed_json',
          ],
        );
        assert.ok(letters.every((l) => l.clientId === p.clientId));
        const { rows } = await node.platform.db.query<{
          payload_bytes: number;
          truncated: boolean;
          n: number;
        }>(
          `SELECT payload_bytes, truncated, length(payload) AS n FROM device_dead_letters
           WHERE reason = 'payload_too_large'`,
        );
        assert.deepEqual(rows, [{ payload_bytes: 5000, truncated: true, n: 4096 }]);
      });

      it('refuses clients without the publisher role, unknown clients, and entities of other organisations', async () => {
        const consumer = await createPublisher(node, ['consumer']);
        const other = await createPublisher(node);
        const before = (await deadLetters(node)).length;
        const consumerDevice = await connectDevice(node, consumer);
        const otherDevice = await connectDevice(node, other);
        try {
          await publish(
            consumerDevice,
            deviceTopic({
              kind: 'measurements',
              tenant: '',
              clientId: consumer.clientId,
              entityId: 'urn:ngsi-ld:C:1',
            }),
            { type: 'C', temperature: 1 },
          );
          // Entity created by p's organisation above; another organisation may not write it.
          await publish(
            otherDevice,
            deviceTopic({
              kind: 'measurements',
              tenant: '',
              clientId: other.clientId,
              entityId: 'urn:ngsi-ld:AirQualityObserved:mqtt-1',
            }),
            { NO2: 999 },
          );
          const letters = await waitFor('two dead letters', async () => {
            const all = await deadLetters(node);
            return all.length >= before + 2 ? all.slice(before) : false;
          });
          assert.deepEqual(letters.map((l) => l.reason).sort(), ['forbidden', 'unauthorized']);
          assert.equal(await entity(node, 'urn:ngsi-ld:C:1'), null);
          const kept = await entity(node, 'urn:ngsi-ld:AirQualityObserved:mqtt-1');
          assert.notEqual((kept!.NO2 as { value: number }).value, 999);
        } finally {
          await consumerDevice.endAsync();
          await otherDevice.endAsync();
        }
      });

      it('refuses a topic naming another client', async () => {
        const other = await createPublisher(node);
        const before = (await deadLetters(node)).length;
        // p publishes under other's client id (and, on Mosquitto, under a client that does
        // not exist): the embedded broker refuses it, Mosquitto's ACL would.
        const spoof = await connectDevice(node, p);
        const topic = deviceTopic({
          kind: 'measurements',
          tenant: '',
          clientId: broker === 'embedded' ? other.clientId : 'cli_doesnotexist',
          entityId: 'urn:ngsi-ld:Spoof:1',
        });
        spoof.on('error', () => undefined);
        spoof.publish(topic, JSON.stringify({ type: 'Spoof', temperature: 1 }), { qos: 1 });
        const letters = await waitFor('a dead letter', async () => {
          const all = await deadLetters(node);
          return all.length > before ? all.slice(before) : false;
        });
        assert.equal(letters[0]!.reason, 'unauthorized');
        assert.equal(await entity(node, 'urn:ngsi-ld:Spoof:1'), null);
        await spoof.endAsync(true);
      });

      it(
        'authenticates devices and keeps device data from other connections (embedded broker)',
        { skip: broker === 'external' && "an external broker's own ACL decides this" },
        async () => {
          await assert.rejects(
            connectDevice(node, { clientId: p.clientId, secret: 'wrong' }),
            /Bad username or password|Not authorized/i,
          );
          const eavesdropper = await connectDevice(node, null);
          const overheard: string[] = [];
          eavesdropper.on('message', (topic) => overheard.push(topic));
          await eavesdropper.subscribeAsync('#', { qos: 1 });
          await eavesdropper.subscribeAsync('ocp/v1/#', { qos: 1 });
          const id = 'urn:ngsi-ld:Private:1';
          await publish(
            device,
            deviceTopic({ kind: 'measurements', tenant: '', clientId: p.clientId, entityId: id }),
            { type: 'Private', temperature: 3 },
          );
          await waitFor('the entity', () => entity(node, id).then((e) => !!e));
          // Something the eavesdropper may hear proves its subscription works.
          await eavesdropper.publishAsync('other/topic', 'hello', { qos: 1 });
          await waitFor('the other topic', async () => overheard.includes('other/topic'));
          assert.deepEqual(overheard, ['other/topic']);
          await eavesdropper.endAsync();
        },
      );

      it('reports its work in Prometheus metrics', async () => {
        const text = await node.platform.metrics.registry.metrics();
        const value = (name: string) => {
          const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
          return m ? Number(m[1]) : NaN;
        };
        assert.ok(value('ocp_mqtt_ingest_messages_received_total') >= 15);
        assert.ok(value('ocp_mqtt_ingest_messages_written_total') >= 6);
        assert.ok(value('ocp_mqtt_ingest_attribute_updates_total') >= 8);
        assert.match(text, /ocp_mqtt_ingest_dead_letters_total\{reason="malformed_json"\} 2/);
        assert.match(text, /ocp_mqtt_ingest_batch_size_count \d+/);
      });
    });
  }
}
