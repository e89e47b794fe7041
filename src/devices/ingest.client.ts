/**
 * The node's MQTT connection for device data. It is separate from the platform message
 * bus because it acknowledges differently: a QoS 1 message is acknowledged (PUBACK) only
 * after the batch that holds it has been committed, so a message the broker considers
 * delivered is always in the database.
 *
 * mqtt.js sends the PUBACK when `handleMessage` calls back, and reads no further packet
 * until then. We call back at once with a marker error (which skips mqtt.js's PUBACK but
 * keeps reading) and send the PUBACK ourselves after the commit. When too many messages
 * are waiting for a commit we hold the callback instead, which stops reading from the
 * socket: TCP back-pressure reaches the broker rather than memory filling up.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { INGEST_FILTER } from './topics.js';

export interface IngestMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  /** The `ngsi-ld-context` MQTT 5 user property, if sent. */
  contextProperty: string | undefined;
  /** The client id the embedded broker authenticated (embedded mode), else undefined. */
  receivedAt: Date;
  /** Acknowledges to the broker (no-op for QoS 0 or after a reconnect). Call once committed. */
  ack(): void;
}

export interface IngestClientOptions {
  url: string;
  /** 5 for external brokers (shared subscriptions), 4 for the embedded Aedes broker. */
  protocolVersion: 4 | 5;
  /** Share group name; null subscribes plainly. */
  shareGroup: string | null;
  /** A persistent session name (client id), or null for a clean session. */
  sessionName: string | null;
  username?: string;
  password?: string;
  /** Messages received but not yet acknowledged before reading pauses. */
  highWater: number;
  onMessage(message: IngestMessage): void;
  onState?(state: 'connected' | 'disconnected' | 'subscribed', detail?: string): void;
  clock(): Date;
}

export interface IngestClient {
  /** The filter in use once subscribed ($share/… or plain), null before. */
  subscription(): string | null;
  connected(): boolean;
  waitSubscribed(timeoutMs: number): Promise<void>;
  /** Called by the batcher as acknowledged messages leave memory. */
  released(count: number): void;
  close(): Promise<void>;
}

class DeferredAck extends Error {
  constructor() {
    super('acknowledged after commit');
  }
}
const DEFERRED = new DeferredAck();

type PacketSender = {
  _sendPacket(
    packet: { cmd: 'puback'; messageId: number; reasonCode?: number },
    cb: () => void,
  ): void;
};

export async function openIngestClient(options: IngestClientOptions): Promise<IngestClient> {
  let version = options.protocolVersion;
  const clientOptions = (): IClientOptions => ({
    clientId: options.sessionName ?? `ocp-ingest-${randomBytes(6).toString('hex')}`,
    protocolVersion: version,
    clean: options.sessionName === null,
    reconnectPeriod: 1_000,
    connectTimeout: 5_000,
    resubscribe: true,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(version === 5
      ? {
          properties: {
            // How many unacknowledged messages the broker may send us: enough for a full
            // batch while the previous one commits.
            receiveMaximum: Math.min(65535, options.highWater),
            ...(options.sessionName !== null ? { sessionExpiryInterval: 86_400 } : {}),
          },
        }
      : {}),
  });
  let client: MqttClient;
  let everConnected = false;
  let generation = 0;
  let subscription: string | null = null;
  let pending = 0;
  const held: (() => void)[] = [];
  const subscribedWaiters: (() => void)[] = [];

  function open(): void {
    client = mqtt.connect(options.url, clientOptions());
    client.handleMessage = handleMessage;
    client.on('connect', (connack) => {
      everConnected = true;
      generation++;
      options.onState?.('connected');
      // A persistent session keeps the subscription; a clean one is (re)subscribed here
      // and by mqtt.js's resubscribe on later reconnects.
      if (subscription !== null) return;
      void subscribe(connack.properties?.sharedSubscriptionAvailable !== false);
    });
    client.on('close', () => options.onState?.('disconnected'));
    client.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      // A broker that speaks only MQTT 3.1.1 refuses an MQTT 5 CONNECT: speak 3.1.1
      // (and so subscribe plainly) from then on.
      if (version === 5 && !everConnected && (code === 1 || code === 132)) {
        version = 4;
        options.onState?.('disconnected', 'the broker does not speak MQTT 5; using 3.1.1');
        client.end(true);
        open();
        return;
      }
      options.onState?.('disconnected', error.message);
    });
  }

  async function subscribe(shareAvailable: boolean): Promise<void> {
    const shared =
      options.shareGroup !== null && version === 5 && shareAvailable
        ? `$share/${options.shareGroup}/${INGEST_FILTER}`
        : null;
    try {
      if (shared) {
        const granted = await client.subscribeAsync(shared, { qos: 1 }).catch(() => null);
        if (granted && granted.every((g) => g.qos < 128)) {
          subscription = shared;
        }
      }
      if (subscription === null) {
        const granted = await client.subscribeAsync(INGEST_FILTER, { qos: 1 });
        if (granted.some((g) => g.qos >= 128)) throw new Error('subscription refused');
        subscription = INGEST_FILTER;
      }
      options.onState?.('subscribed', subscription);
      for (const waiter of subscribedWaiters.splice(0)) waiter();
    } catch (error) {
      options.onState?.('disconnected', `subscribe failed: ${(error as Error).message}`);
    }
  }

  function handleMessage(packet: IPublishPacket, callback: (error?: Error) => void): void {
    const at = generation;
    const qos = packet.qos;
    const messageId = packet.messageId;
    let acked = false;
    const userProperties = packet.properties?.userProperties;
    const rawContext = userProperties?.['ngsi-ld-context'];
    pending++;
    options.onMessage({
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos,
      contextProperty: Array.isArray(rawContext) ? rawContext[0] : rawContext,
      receivedAt: options.clock(),
      ack() {
        if (acked) return;
        acked = true;
        // After a reconnect the message id belongs to the old connection: the broker
        // redelivers unacknowledged messages of a persistent session, and a clean
        // session dropped them (they are committed either way).
        if (qos !== 1 || messageId === undefined || at !== generation || !client.connected) return;
        (client as unknown as PacketSender)._sendPacket(
          { cmd: 'puback', messageId, reasonCode: 0 },
          () => undefined,
        );
      },
    });
    const proceed = () => callback(qos === 1 ? DEFERRED : undefined);
    if (pending < options.highWater) proceed();
    else held.push(proceed);
  }

  open();

  return {
    subscription: () => subscription,
    connected: () => client.connected,
    waitSubscribed(timeoutMs) {
      if (subscription !== null && client.connected) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`not subscribed within ${timeoutMs} ms`)),
          timeoutMs,
        );
        subscribedWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    released(count) {
      pending -= count;
      while (held.length > 0 && pending < options.highWater) held.shift()!();
    },
    async close() {
      for (const proceed of held.splice(0)) proceed();
      await client.endAsync();
    },
  };
}
