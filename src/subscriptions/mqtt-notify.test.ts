/**
 * MQTT notifications (NGSI-LD MQTT binding): the node publishes { metadata, body } to the
 * endpoint's topic, on the embedded broker and on Mosquitto when OCP_TEST_MQTT_URL is set.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { contextFeature } from '../context/context.feature.js';
import { testBackends, testMqttUrl } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { eventually } from './receiver.testing.js';
import { subscriptionsFeature } from './subscriptions.feature.js';

interface MqttMessage {
  topic: string;
  message: {
    metadata: Record<string, string>;
    body: Record<string, unknown> & { data: { id: string }[] };
  };
}

for (const backend of testBackends()) {
  describe(`MQTT notifications (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({
        backend,
        features: [contextFeature, subscriptionsFeature],
        mqtt: 'embedded',
        env: {
          OCP_ANONYMOUS_ROLE: 'admin',
          OCP_FETCH_ALLOW_PRIVATE: 'true',
          OCP_NOTIFY_RETRY_BASE_MS: '100',
          OCP_NOTIFY_RETRY_MAX_MS: '300',
        },
      });
    });
    after(() => node.close());

    const call = (method: string, url: string, payload: unknown) =>
      node.app.inject({
        method: method as 'POST',
        url: `/ngsi-ld/v1${url}`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });

    // The embedded broker (Aedes) speaks MQTT 3.1.1; Mosquitto both versions.
    const brokers: [string, () => string, string[]][] = [
      ['embedded broker', () => node.platform.bus.brokerUrl!, ['mqtt3.1.1']],
      ...(testMqttUrl
        ? [
            ['Mosquitto', () => testMqttUrl, ['mqtt3.1.1', 'mqtt5.0']] as [
              string,
              () => string,
              string[],
            ],
          ]
        : []),
    ];

    for (const [name, brokerUrl, versions] of brokers) {
      for (const version of versions) {
        it(`publishes notifications to ${name} with ${version}`, async () => {
          const broker = new URL(brokerUrl());
          const topic = `ocp-test/${randomBytes(4).toString('hex')}/notifications`;
          const client = await mqtt.connectAsync(brokerUrl());
          const received: MqttMessage[] = [];
          client.on('message', (t, payload) =>
            received.push({ topic: t, message: JSON.parse(payload.toString()) }),
          );
          await client.subscribeAsync(topic, { qos: 1 });
          try {
            const res = await call('POST', '/subscriptions', {
              type: 'Subscription',
              entities: [{ type: 'Vehicle' }],
              watchedAttributes: ['speed'],
              notification: {
                format: 'concise',
                endpoint: {
                  uri: `mqtt://${broker.host}/${topic}`,
                  accept: 'application/json',
                  receiverInfo: [{ key: 'X-Fleet', value: 'buses' }],
                  notifierInfo: [
                    { key: 'MQTT-Version', value: version },
                    { key: 'MQTT-QoS', value: '1' },
                  ],
                },
              },
            });
            assert.equal(res.statusCode, 201, res.body);
            const id = `urn:ngsi-ld:Vehicle:${version}:${name.length}`;
            // Payloads show the entity as it is when delivered: wait for each one.
            for (const [i, speed] of [10, 20, 30].entries()) {
              const write = await call('POST', '/entityOperations/upsert', [
                { id, type: 'Vehicle', speed: { type: 'Property', value: speed } },
              ]);
              assert.ok(write.statusCode < 300, write.body);
              await eventually(
                () => (received.length > i ? true : undefined),
                10_000,
                `MQTT notification ${i + 1}`,
              );
            }
            const got = received;
            const first = got[0]!;
            assert.equal(first.topic, topic);
            assert.equal(first.message.metadata['Content-Type'], 'application/json');
            assert.match(first.message.metadata.Link!, /ngsi-ld-core-context/);
            assert.equal(first.message.metadata['X-Fleet'], 'buses');
            assert.equal(first.message.body.type, 'Notification');
            assert.deepEqual(first.message.body.data, [{ id, type: 'Vehicle', speed: 10 }]);
            assert.deepEqual(
              got.map((m) => (m.message.body.data[0] as unknown as { speed: number }).speed),
              [10, 20, 30],
              'in order',
            );
            const location = res.headers.location!;
            const status = await eventually(async () => {
              const s = (await node.app.inject({ method: 'GET', url: location })).json();
              return s.notification.timesSent === 3 ? s : undefined;
            });
            assert.equal(status.notification.status, 'ok');
          } finally {
            await client.endAsync();
          }
        });
      }
    }

    it('resumes soon after a lost broker comes back, whatever the backoff', async () => {
      // First retry only after 8-12 s: resuming sooner shows the reconnect retried at once.
      const slow = await startTestNode({
        backend,
        features: [contextFeature, subscriptionsFeature],
        mqtt: 'off',
        env: {
          OCP_ANONYMOUS_ROLE: 'admin',
          OCP_FETCH_ALLOW_PRIVATE: 'true',
          OCP_NOTIFY_RETRY_BASE_MS: '10000',
        },
      });
      const start = async (port: number) => {
        const broker = await Aedes.createBroker();
        const server: Server = createServer(broker.handle);
        await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
        return {
          port: (server.address() as AddressInfo).port,
          async stop() {
            await new Promise<void>((resolve) => broker.close(() => resolve()));
            await new Promise<void>((resolve) => server.close(() => resolve()));
          },
        };
      };
      const upsert = (id: string) =>
        slow.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/entityOperations/upsert',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify([{ id, type: 'Tram', a: 1 }]),
        });
      let broker = await start(0);
      const port = broker.port;
      const topic = 'ocp-test/outage';
      const received: unknown[] = [];
      const listen = async () => {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
        c.on('message', (_t, payload) => received.push(JSON.parse(payload.toString())));
        await c.subscribeAsync(topic, { qos: 1 });
        return c;
      };
      let client = await listen();
      try {
        const res = await slow.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/subscriptions',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({
            type: 'Subscription',
            entities: [{ type: 'Tram' }],
            notification: {
              format: 'keyValues',
              endpoint: {
                uri: `mqtt://127.0.0.1:${port}/${topic}`,
                notifierInfo: [{ key: 'MQTT-QoS', value: '1' }],
              },
            },
          }),
        });
        assert.equal(res.statusCode, 201);
        await upsert('urn:ngsi-ld:Tram:1');
        await eventually(() => (received.length === 1 ? true : undefined), 10_000, 'first');
        await client.endAsync(true);
        await broker.stop();
        await upsert('urn:ngsi-ld:Tram:2');
        await eventually(async () => {
          const { rows } = await slow.platform.db.query<{ n: number }>(
            'SELECT count(*)::int8 AS n FROM ngsi_notification_outbox WHERE attempts > 0',
          );
          return rows[0]!.n > 0 ? true : undefined;
        }, 10_000);
        broker = await start(port);
        client = await listen();
        const backAt = Date.now();
        await eventually(() => (received.length >= 2 ? true : undefined), 15_000, 'resumed');
        assert.ok(Date.now() - backAt < 6000, `resumed ${Date.now() - backAt} ms after`);
      } finally {
        await client.endAsync(true);
        await broker.stop();
        await slow.close();
      }
    });

    it('counts a failure for an unreachable broker and keeps the notification', async () => {
      const res = await call('POST', '/subscriptions', {
        type: 'Subscription',
        entities: [{ type: 'Bus' }],
        notification: { endpoint: { uri: 'mqtt://127.0.0.1:1/nowhere' } },
      });
      assert.equal(res.statusCode, 201);
      await call('POST', '/entityOperations/upsert', [
        { id: 'urn:ngsi-ld:Bus:1', type: 'Bus', a: 1 },
      ]);
      const status = await eventually(async () => {
        const s = (await node.app.inject({ method: 'GET', url: res.headers.location! })).json();
        return s.notification.timesFailed > 0 ? s : undefined;
      });
      assert.equal(status.notification.status, 'failed');
      const pending = await node.platform.db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM ngsi_notification_outbox WHERE subscription_id = $1',
        [decodeURIComponent(res.headers.location!.split('/subscriptions/')[1]!)],
      );
      assert.equal(pending.rows[0]!.n, 1);
    });
  });
}
