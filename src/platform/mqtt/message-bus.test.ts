import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { Aedes } from 'aedes';
import { testMqttUrl } from '../testing/database.js';
import {
  MqttUnavailableError,
  openMessageBus,
  PortInUseError,
  type MessageBus,
} from './message-bus.js';
import { topicMatches } from './topics.js';

function nextMessage(bus: MessageBus, filter: string): Promise<{ topic: string; payload: string }> {
  return new Promise((resolve, reject) => {
    bus
      .subscribe(filter, (topic, payload) => resolve({ topic, payload: payload.toString() }))
      .catch(reject);
  });
}

async function startBroker(port = 0): Promise<{ port: number; stop(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    port: bound,
    async stop() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('topic filters', () => {
  it('match MQTT wildcards and shared subscriptions', () => {
    assert.ok(topicMatches('ocp/+/attrs/#', 'ocp/t1/attrs/a/b'));
    assert.ok(topicMatches('ocp/#', 'ocp'));
    assert.ok(topicMatches('$share/nodes/ocp/+/in', 'ocp/x/in'));
    assert.ok(!topicMatches('ocp/+', 'ocp/a/b'));
    assert.ok(!topicMatches('ocp/a', 'ocp/b'));
    assert.ok(!topicMatches('#', '$SYS/broker/load'));
  });
});

const targets: { name: string; open(): Promise<MessageBus> }[] = [
  {
    name: 'embedded broker',
    open: () => openMessageBus({ kind: 'embedded', host: '127.0.0.1', port: 0 }),
  },
];
if (testMqttUrl) {
  targets.push({
    name: 'external broker',
    open: () => openMessageBus({ kind: 'external', url: testMqttUrl! }),
  });
}

for (const target of targets) {
  describe(`message bus (${target.name})`, () => {
    it('delivers published messages to matching subscriptions only', async () => {
      const bus = await target.open();
      const prefix = `ocp-test/${randomBytes(4).toString('hex')}`;
      try {
        assert.ok(bus.connected());
        const wildcard = nextMessage(bus, `${prefix}/+/state`);
        const other: string[] = [];
        await bus.subscribe(`${prefix}/other`, (topic) => other.push(topic));
        await bus.publish(`${prefix}/lamp-1/state`, JSON.stringify({ on: true }));
        assert.deepEqual(await wildcard, {
          topic: `${prefix}/lamp-1/state`,
          payload: '{"on":true}',
        });
        assert.deepEqual(other, []);
        await assert.rejects(bus.publish(`${prefix}/#`, 'x'), /invalid MQTT topic/);
      } finally {
        await bus.close();
      }
    });

    it('stops delivering after unsubscribe', async () => {
      const bus = await target.open();
      const topic = `ocp-test/${randomBytes(4).toString('hex')}/u`;
      try {
        const seen: string[] = [];
        const unsubscribe = await bus.subscribe(topic, (_t, payload) =>
          seen.push(payload.toString()),
        );
        const first = nextMessage(bus, topic);
        await bus.publish(topic, 'one');
        await first;
        await unsubscribe();
        // A second subscriber proves the later message was delivered while the first heard nothing.
        const witness = nextMessage(bus, topic);
        await bus.publish(topic, 'two');
        assert.equal((await witness).payload, 'two');
        assert.deepEqual(seen, ['one']);
      } finally {
        await bus.close();
      }
    });
  });
}

describe('message bus resilience', () => {
  it('reconnects and re-subscribes after the broker restarts', async () => {
    const broker = await startBroker();
    let onDisconnect = () => {};
    const disconnected = new Promise<void>((resolve) => (onDisconnect = resolve));
    const bus = await openMessageBus(
      { kind: 'external', url: `mqtt://127.0.0.1:${broker.port}` },
      {
        onStateChange: (state) => state === 'disconnected' && onDisconnect(),
        publishTimeoutMs: 500,
      },
    );
    let restarted: Awaited<ReturnType<typeof startBroker>> | null = null;
    try {
      const received: string[] = [];
      await bus.subscribe('ocp-test/restart', (_t, payload) => received.push(payload.toString()));
      await broker.stop();
      await disconnected;
      await assert.rejects(bus.publish('ocp-test/restart', 'lost'), MqttUnavailableError);
      restarted = await startBroker(broker.port);
      await bus.waitConnected(10_000);
      const after = nextMessage(bus, 'ocp-test/restart');
      await bus.publish('ocp-test/restart', 'after restart');
      await after;
      assert.ok(
        received.includes('after restart'),
        'the original subscription survived the restart',
      );
    } finally {
      await bus.close();
      await restarted?.stop();
    }
  });

  it('names the variable to set when the embedded broker port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      await assert.rejects(
        openMessageBus({ kind: 'embedded', host: '127.0.0.1', port }),
        (error: unknown) =>
          error instanceof PortInUseError && /set OCP_MQTT_PORT/.test(error.message),
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('rejects work when MQTT is off', async () => {
    const bus = await openMessageBus({ kind: 'off' });
    assert.equal(bus.connected(), false);
    await assert.rejects(bus.publish('a/b', 'x'), /switched off/);
  });
});
