/**
 * Broker outage: Mosquitto (a private one, on its own port) is stopped and started again.
 * The node's message bus must notice, fail publishes fast while the broker is away,
 * reconnect and re-subscribe by itself within 10 s; the node keeps serving HTTP writes
 * throughout and reports the broker on /ready; and a device measurement published after
 * the restart is ingested and notified to an MQTT subscription within 10 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import {
  MqttUnavailableError,
  openMessageBus,
  type MessageBus,
} from '../platform/mqtt/message-bus.js';
import { startWriteLoad } from './load.js';
import {
  privateMosquittoUnavailable,
  startChildNode,
  startPrivateMosquitto,
  until,
  type ChildNode,
  type PrivateMosquitto,
} from './servers.js';

const skip = privateMosquittoUnavailable();
const RESUME_BOUND_MS = 10_000;

describe('broker outage', { skip: skip ?? false }, () => {
  let broker: PrivateMosquitto;
  before(async () => {
    broker = await startPrivateMosquitto();
  });
  after(() => broker?.destroy());

  it('the message bus reconnects, re-subscribes and publishes again within 10 s', async () => {
    const bus: MessageBus = await openMessageBus({ kind: 'external', url: broker.url });
    const device = await mqtt.connectAsync(broker.url, { reconnectPeriod: 200 });
    try {
      const received: string[] = [];
      await bus.subscribe('ocp/resilience/+', (_topic, payload) =>
        received.push(payload.toString()),
      );
      await device.publishAsync('ocp/resilience/a', 'before', { qos: 1 });
      await until('message before the outage', () => received.includes('before'));

      await broker.stop();
      await until('bus notices the broker is gone', () => !bus.connected(), RESUME_BOUND_MS);
      const started = Date.now();
      await assert.rejects(bus.publish('ocp/resilience/b', 'while down'), MqttUnavailableError);
      assert.ok(Date.now() - started < 1_000, 'a publish while disconnected fails fast');

      await broker.start();
      const restarted = Date.now();
      await until('bus connected again', () => bus.connected(), RESUME_BOUND_MS);
      // The subscription made before the outage delivers again without being renewed.
      await until(
        'a device message after the restart reaches the old subscription',
        async () => {
          if (device.connected)
            await device.publishAsync('ocp/resilience/a', 'after', { qos: 1 }).catch(() => {});
          return received.includes('after');
        },
        RESUME_BOUND_MS,
        200,
      );
      await bus.publish('ocp/resilience/c', 'published after');
      const resumedIn = Date.now() - restarted;
      assert.ok(resumedIn < RESUME_BOUND_MS, `resumed in ${resumedIn} ms`);
      process.stdout.write(`# broker outage: bus resumed ${resumedIn} ms after the restart\n`);
    } finally {
      await device.endAsync(true).catch(() => undefined);
      await bus.close();
    }
  });

  describe('a running node', () => {
    let node: ChildNode;
    before(async () => {
      node = await startChildNode({
        OCP_DATABASE_URL: 'memory:',
        OCP_MQTT_URL: broker.url,
        // The subscription's MQTT endpoint is this machine's broker.
        OCP_FETCH_ALLOW_PRIVATE: 'true',
        OCP_FETCH_TIMEOUT_MS: '2000',
        OCP_NOTIFY_RETRY_BASE_MS: '200',
        OCP_NOTIFY_RETRY_MAX_MS: '1000',
      });
    });
    after(() => node?.kill('SIGKILL'));

    const readiness = async () => {
      const response = await fetch(`${node.url}/ready`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json()) as { checks: { mqtt: { status: string } } };
      return { status: response.status, mqtt: body.checks.mqtt.status };
    };

    it('reports the broker on /ready, keeps accepting writes, and is ready again within 10 s', async () => {
      await broker.start();
      await until('node connected to the broker', async () => (await readiness()).mqtt === 'up');
      const load = startWriteLoad(node.url, { prefix: 'broker', workers: 2, batchSize: 10 });
      try {
        await load.acknowledgedMore(3);
        await broker.stop();
        await until('node reports the broker down', async () => {
          const r = await readiness();
          return r.status === 503 && r.mqtt === 'down';
        });
        // Writes do not depend on the broker.
        await load.acknowledgedMore(3);
        await broker.start();
        const waited = await until(
          'node ready again',
          async () => (await readiness()).status === 200,
          RESUME_BOUND_MS,
          100,
        );
        process.stdout.write(`# broker outage: node ready ${waited} ms after the restart\n`);
        await load.acknowledgedMore(3);
      } finally {
        await load.stop();
      }
      const failed = load.outcomes.filter((o) => !(o.status === 201 || o.status === 204));
      assert.deepEqual(failed, [], 'no write failed because of the broker');
      assert.equal(node.process.exitCode, null);
    });

    it('resumes device ingestion and MQTT notifications within 10 s of a broker restart', async () => {
      await broker.start();
      await until('node connected to the broker', async () => (await readiness()).mqtt === 'up');
      const api = (path: string, body: unknown) =>
        fetch(`${node.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then(async (r) => {
          const text = await r.text();
          return {
            status: r.status,
            body: (text ? JSON.parse(text) : {}) as Record<string, string>,
          };
        });
      // A publisher for the device, and a subscription notifying over MQTT on this broker.
      const org = await api('/api/v1/organisations', { name: 'Sensors', kind: 'city_department' });
      assert.equal(org.status, 201);
      const client = await api('/api/v1/clients', {
        organisationId: org.body.id,
        name: 'air sensors',
        roles: ['publisher'],
      });
      assert.equal(client.status, 201, JSON.stringify(client.body));
      const clientId = (client.body as unknown as { client: { id: string } }).client.id;
      const subscription = await api('/ngsi-ld/v1/subscriptions', {
        type: 'Subscription',
        entities: [{ type: 'AirQualityObserved' }],
        watchedAttributes: ['NO2'],
        notification: {
          attributes: ['NO2'],
          endpoint: { uri: `${broker.url}/city/air`, accept: 'application/json' },
        },
      });
      assert.equal(subscription.status, 201, JSON.stringify(subscription.body));

      const consumer = await mqtt.connectAsync(broker.url, { reconnectPeriod: 200 });
      const device = await mqtt.connectAsync(broker.url, { reconnectPeriod: 200 });
      try {
        const notified: number[] = [];
        await consumer.subscribeAsync('city/air', { qos: 1 });
        consumer.on('message', (_topic, payload) => {
          const body = JSON.parse(payload.toString()) as {
            body?: { data?: { NO2?: { value: number } }[] };
            data?: { NO2?: { value: number } }[];
          };
          for (const e of body.body?.data ?? body.data ?? []) {
            if (typeof e.NO2?.value === 'number') notified.push(e.NO2.value);
          }
        });
        // Device measurement → ingestion → entity change → MQTT notification: the whole path.
        const topic = `ocp/v1/_default/${clientId}/measurements/urn:ngsi-ld:AirQualityObserved:mqtt-1`;
        const measure = async (value: number) => {
          if (device.connected)
            await device
              .publishAsync(topic, JSON.stringify({ type: 'AirQualityObserved', NO2: value }), {
                qos: 1,
              })
              .catch(() => undefined);
          return notified.includes(value);
        };
        await until('first measurement notified', () => measure(1), 20_000, 250);

        await broker.stop();
        await until(
          'node reports the broker down',
          async () => (await readiness()).mqtt === 'down',
        );
        await broker.start();
        const restarted = Date.now();
        const resumed = await until(
          'measurement notified after the restart',
          () => measure(2),
          10_000,
          250,
        );
        process.stdout.write(
          `# broker outage: ingestion and MQTT notification resumed ${resumed} ms after the restart\n`,
        );
        assert.ok(Date.now() - restarted < 10_000);
        const entity = await fetch(
          `${node.url}/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:mqtt-1`,
        ).then((r) => r.json() as Promise<{ NO2: { value: number } }>);
        assert.equal(entity.NO2.value, 2);
      } finally {
        await consumer.endAsync(true).catch(() => undefined);
        await device.endAsync(true).catch(() => undefined);
      }
    });
  });
});
