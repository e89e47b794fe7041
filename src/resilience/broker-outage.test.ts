/**
 * Broker outage: Mosquitto (a private one, on its own port) is stopped and started again.
 * The node's message bus must notice, fail publishes fast while the broker is away,
 * reconnect and re-subscribe by itself within 10 s; the node keeps serving HTTP writes
 * throughout and reports the broker on /ready.
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
  });
});
