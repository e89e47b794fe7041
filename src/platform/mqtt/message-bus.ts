/**
 * The MQTT port. Both modes talk to a broker through the same `mqtt` client: in
 * embedded mode the node first starts an in-process Aedes broker on OCP_MQTT_PORT and
 * connects to it over loopback, so devices and the node use one code path. The client
 * reconnects by itself and re-subscribes after a broker restart.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { isPublishableTopic, topicMatches } from './topics.js';

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface PublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

export interface MessageBus {
  readonly mode: 'embedded' | 'external' | 'off';
  /** Where devices connect (embedded: the local broker's URL), credentials removed. */
  readonly brokerUrl: string | null;
  /** The in-process broker (embedded mode only), for features that install auth hooks. */
  readonly embeddedBroker?: Aedes;
  connected(): boolean;
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  subscribe(
    filter: string,
    handler: MessageHandler,
    options?: { qos?: 0 | 1 | 2 },
  ): Promise<() => Promise<void>>;
  /** Resolves once connected, or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export class MqttUnavailableError extends Error {
  constructor(message = 'MQTT broker is not connected') {
    super(message);
    this.name = 'MqttUnavailableError';
  }
}

export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly variable: string,
    hint: string,
  ) {
    super(`port ${port} is already in use: set ${variable} to a free port${hint}`);
    this.name = 'PortInUseError';
  }
}

export type MqttTarget =
  | { kind: 'embedded'; host: string; port: number }
  | { kind: 'external'; url: string }
  | { kind: 'off' };

export interface MessageBusOptions {
  onStateChange?: (state: 'connected' | 'disconnected' | 'error', detail?: string) => void;
  /** How long start-up waits for the first connection before going on disconnected. */
  connectWaitMs?: number;
  /** How long a QoS 1/2 publish may wait for the broker's acknowledgement. */
  publishTimeoutMs?: number;
}

export async function openMessageBus(
  target: MqttTarget,
  options: MessageBusOptions = {},
): Promise<MessageBus> {
  if (target.kind === 'off') return offBus();
  let broker: Aedes | null = null;
  let server: Server | null = null;
  let url: string;
  if (target.kind === 'embedded') {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    const port = await listen(server, target.host, target.port).catch(async (error: unknown) => {
      await new Promise<void>((resolve) => broker!.close(() => resolve()));
      throw error;
    });
    const connectHost =
      target.host === '0.0.0.0' || target.host === '::' ? '127.0.0.1' : target.host;
    url = `mqtt://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}`;
  } else {
    url = target.url;
  }
  const bus = await clientBus(url, target.kind, options);
  if (!broker || !server) return bus;
  const embeddedServer = server;
  const embeddedBroker = broker;
  return {
    ...bus,
    embeddedBroker,
    async close() {
      await bus.close();
      await new Promise<void>((resolve) => embeddedBroker.close(() => resolve()));
      await new Promise<void>((resolve) => embeddedServer.close(() => resolve()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new PortInUseError(
              port,
              'OCP_MQTT_PORT',
              ', or OCP_MQTT_URL to an external broker (or "none" to run without MQTT)',
            )
          : error,
      );
    });
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

async function clientBus(
  url: string,
  mode: 'embedded' | 'external',
  options: MessageBusOptions,
): Promise<MessageBus> {
  const client: MqttClient = mqtt.connect(url, {
    clientId: `ocp-${randomBytes(6).toString('hex')}`,
    reconnectPeriod: 1_000,
    connectTimeout: 5_000,
    clean: true,
    resubscribe: true,
    // Do not queue while offline: callers (the outbox) retry durable work themselves.
    queueQoSZero: false,
  });
  const handlers = new Map<string, Set<MessageHandler>>();
  client.on('message', (topic, payload) => {
    for (const [filter, set] of handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of set) handler(topic, payload);
    }
  });
  client.on('connect', () => options.onStateChange?.('connected'));
  client.on('close', () => options.onStateChange?.('disconnected'));
  client.on('error', (error) => options.onStateChange?.('error', error.message));

  const waitConnected = (timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (client.connected) return resolve();
      const timer = setTimeout(() => {
        client.off('connect', onConnect);
        reject(new MqttUnavailableError(`no connection to ${redact(url)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('connect', onConnect);
    });

  // An external broker that is down at start-up should not stop the node from serving
  // HTTP: we report it on /ready and keep reconnecting.
  await waitConnected(options.connectWaitMs ?? 5_000).catch(() => undefined);

  return {
    mode,
    brokerUrl: redact(url),
    connected: () => client.connected,
    waitConnected,
    async publish(topic, payload, publishOptions = {}) {
      if (!isPublishableTopic(topic)) throw new Error(`invalid MQTT topic "${topic}"`);
      if (!client.connected) throw new MqttUnavailableError();
      // A broker that vanished mid-publish never acknowledges; give up after a bound so
      // callers (the outbox) can retry instead of waiting forever.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new MqttUnavailableError('MQTT publish was not acknowledged in time')),
          options.publishTimeoutMs ?? 5_000,
        );
      });
      try {
        await Promise.race([
          client.publishAsync(topic, payload, {
            qos: publishOptions.qos ?? 1,
            retain: publishOptions.retain ?? false,
          }),
          timeout,
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async subscribe(filter, handler, subscribeOptions = {}) {
      let set = handlers.get(filter);
      if (!set) {
        if (!client.connected) throw new MqttUnavailableError();
        await client.subscribeAsync(filter, { qos: subscribeOptions.qos ?? 1 });
        set = handlers.get(filter) ?? new Set();
        handlers.set(filter, set);
      }
      set.add(handler);
      return async () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(filter) === set) {
          handlers.delete(filter);
          if (client.connected) await client.unsubscribeAsync(filter);
        }
      };
    },
    async close() {
      await client.endAsync();
    },
  };
}

function offBus(): MessageBus {
  const unavailable = () =>
    Promise.reject(new MqttUnavailableError('MQTT is switched off (OCP_MQTT_URL=none)'));
  return {
    mode: 'off',
    brokerUrl: null,
    connected: () => false,
    waitConnected: unavailable,
    publish: unavailable,
    subscribe: unavailable,
    close: async () => undefined,
  };
}
