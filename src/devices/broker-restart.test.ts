/**
 * A broker restart in the middle of a stream of device messages: the node reconnects,
 * subscribes again and goes on writing by itself. Against a private Mosquitto (when the
 * binary is installed) that is killed with SIGKILL and started again on the same port,
 * and against an Aedes broker used as an external MQTT 3.1.1 broker (the node falls back
 * from MQTT 5 and from the shared subscription).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import { testBackends } from '../platform/testing/database.js';
import { freePort } from '../platform/testing/ports.js';
import {
  createPublisher,
  hasMosquitto,
  startAedes,
  startDeviceNode,
  startMosquitto,
  waitFor,
  type TestBroker,
} from './devices.testing.js';
import { deviceTopic } from './topics.js';

const kinds: { name: string; start(port: number): Promise<TestBroker>; skip: string | false }[] = [
  { name: 'Mosquitto', start: startMosquitto, skip: !hasMosquitto && 'mosquitto is not installed' },
  { name: 'Aedes (MQTT 3.1.1)', start: startAedes, skip: false },
];

for (const backend of testBackends()) {
  for (const kind of kinds) {
    describe(`broker restart (${backend}, ${kind.name})`, { skip: kind.skip }, () => {
      it('resumes ingestion by itself after the broker comes back', async () => {
        const port = await freePort();
        let broker = await kind.start(port);
        const url = `mqtt://127.0.0.1:${port}`;
        const node = await startDeviceNode(backend, 'embedded', { OCP_MQTT_URL: url });
        const device = mqtt.connect(url, { reconnectPeriod: 100, protocolVersion: 4 });
        device.on('error', () => undefined);
        try {
          const ingestion = node.app.deviceIngestion!;
          if (kind.name.startsWith('Aedes')) assert.equal(ingestion.subscription(), 'ocp/v1/#');
          else assert.match(ingestion.subscription()!, /^\$share\//);
          const p = await createPublisher(node, ['publisher']);
          const id = 'urn:ngsi-ld:Counter:restart';
          const topic = deviceTopic({
            kind: 'measurements',
            tenant: '',
            clientId: p.clientId,
            entityId: id,
          });
          const count = async () =>
            (
              await node.platform.db.query<{ n: number }>(
                'SELECT count(*)::int8 AS n FROM ngsi_attribute_history WHERE entity_id = $1',
                [id],
              )
            ).rows[0]!.n;
          await waitFor('the device connection', async () => device.connected);
          for (let i = 0; i < 50; i++) {
            await device.publishAsync(topic, JSON.stringify({ type: 'Counter', n: i }), { qos: 1 });
          }
          await waitFor('the first 50', async () => (await count()) === 50);

          await broker.stop();
          await waitFor('the node to notice', async () => !ingestion.connected());
          broker = await kind.start(port);
          const restartedAt = Date.now();
          await waitFor('the node to reconnect', async () => ingestion.connected(), 15_000);
          await waitFor('the device to reconnect', async () => device.connected, 15_000);
          // The broker lost every subscription: only the node's own re-subscription brings
          // these to it.
          for (let i = 50; i < 100; i++) {
            await device.publishAsync(topic, JSON.stringify({ n: i }), { qos: 1 });
          }
          await waitFor('all 100', async () => (await count()) === 100, 15_000);
          assert.ok(Date.now() - restartedAt < 10_000, 'resumed within 10 s');
          const { rows } = await node.platform.db.query<{ v: number }>(
            `SELECT (attrs->'${'https://uri.etsi.org/ngsi-ld/default-context/n'}'->0->>'value')::int AS v
             FROM ngsi_entities WHERE id = $1`,
            [id],
          );
          assert.equal(rows[0]!.v, 99);
        } finally {
          device.end(true);
          await node.close();
          await broker.stop();
        }
      });
    });
  }
}
