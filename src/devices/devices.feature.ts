/**
 * Devices: MQTT ingestion of device data into the NGSI-LD entity service, the device
 * authorization rules of the embedded broker, and the admin API for dead letters.
 * See docs/mqtt.md.
 */
import { randomBytes } from 'node:crypto';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Feature } from '../platform/http/server.js';
import { RegistryService } from '../identity/registry.service.js';
import { registerDeadLetterRoutes } from './dead-letter.routes.js';
import { DevicePublishers, installBrokerAuth } from './device-auth.js';
import { openIngestClient, type IngestClient, type IngestMessage } from './ingest.client.js';
import { DeviceIngestor, type IngestMetrics } from './ingest.service.js';
import type { DeadLetterReason } from './payload.js';

/** Bytes of a refused payload kept in the dead-letter table. */
export const STORED_PAYLOAD_BYTES = 4096;

export interface DeviceIngestion {
  /** The subscription in use ($share/<group>/ocp/v1/# or ocp/v1/#), null before subscribing. */
  subscription(): string | null;
  waitSubscribed(timeoutMs: number): Promise<void>;
  /** Whether the ingestion connection to the broker is up. */
  connected(): boolean;
  /** Resolves once every message received so far is committed and acknowledged. */
  idle(): Promise<void>;
  pending(): number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** MQTT ingestion of this node; null when switched off or without MQTT. */
    deviceIngestion: DeviceIngestion | null;
  }
}

export const devicesFeature: Feature = {
  name: 'devices',
  async register(app, platform) {
    const { db, clock, config, logger, bus, metrics } = platform;
    registerDeadLetterRoutes(app, db);
    if (!config.devices.ingest || bus.mode === 'off') {
      app.decorate('deviceIngestion', null);
      return;
    }
    const registry = new RegistryService(db, clock);
    const ingestMetrics = createIngestMetrics(metrics.registry);
    let client: IngestClient | null = null;
    const publishers = new DevicePublishers(registry, clock);
    const lane = () =>
      new DeviceIngestor({
        db,
        entities: app.ngsiEntities,
        resolve: (context) => app.ngsiContexts.resolve(context),
        publishers,
        clock,
        logger,
        metrics: ingestMetrics,
        settings: {
          batchSize: config.devices.batchSize,
          batchWaitMs: config.devices.batchWaitMs,
          maxPayloadBytes: config.devices.maxPayloadBytes,
          storedPayloadBytes: STORED_PAYLOAD_BYTES,
        },
        released: (count) => client?.released(count),
      });

    // PostgreSQL can take several batches at once: messages go to a lane by tenant and
    // client, so the messages of one client are written in the order received. PGlite has
    // one connection: one lane.
    const lanes = Array.from(
      {
        length: db.kind === 'postgres' ? Math.max(1, Math.min(4, config.databasePoolSize - 1)) : 1,
      },
      lane,
    );
    const ingestor = lanes.length === 1 ? lanes[0]! : new Lanes(lanes);

    let url: string;
    let credentials: { username?: string; password?: string } = {};
    if (bus.mode === 'embedded' && bus.embeddedBroker && bus.brokerUrl) {
      // The embedded broker authenticates devices as API clients; the node's own
      // connection uses credentials that exist only in this process.
      const ingest = { username: 'ocp-node', password: randomBytes(24).toString('base64url') };
      installBrokerAuth(bus.embeddedBroker, {
        registry,
        ingest,
        onRefused: (topic, clientId, payload, detail) =>
          ingestor.refused(topic, clientId, payload, detail),
      });
      url = bus.brokerUrl;
      credentials = ingest;
    } else if (config.mqtt.kind === 'external') {
      url = config.mqtt.url;
    } else {
      app.decorate('deviceIngestion', null);
      return;
    }

    const embedded = bus.mode === 'embedded';
    client = await openIngestClient({
      url,
      // Aedes speaks MQTT 3.1.1 and has no shared subscriptions; external brokers get MQTT 5.
      protocolVersion: embedded ? 4 : 5,
      shareGroup: embedded ? null : config.devices.shareGroup,
      sessionName: config.devices.mqttSession,
      ...credentials,
      highWater: Math.max(2 * config.devices.batchSize * lanes.length, 100),
      onMessage: (message) => ingestor.accept(message),
      onState: (state, detail) => {
        if (state === 'subscribed') logger.info({ subscription: detail }, 'device ingestion ready');
        else if (state === 'disconnected') logger.warn({ detail }, 'device ingestion disconnected');
      },
      clock: () => clock.now(),
    });
    const ingestClient = client;
    new Gauge({
      name: 'ocp_mqtt_ingest_pending_messages',
      help: 'Device messages received and not yet committed.',
      registers: [metrics.registry],
      collect() {
        this.set(ingestor.pending());
      },
    });

    app.decorate('deviceIngestion', {
      subscription: () => ingestClient.subscription(),
      waitSubscribed: (timeoutMs: number) => ingestClient.waitSubscribed(timeoutMs),
      connected: () => ingestClient.connected(),
      idle: () => ingestor.idle(),
      pending: () => ingestor.pending(),
    });
    // Before MQTT and storage close: commit and acknowledge what was received.
    app.addHook('onClose', async () => {
      await ingestor.close();
      await ingestClient.close();
    });
  },
};

/** Several ingestors behind one face, each writing its own batches. */
class Lanes {
  constructor(private readonly lanes: DeviceIngestor[]) {}

  /** The lane of a topic's tenant and client: one client's messages keep their order. */
  private of(topic: string): DeviceIngestor {
    const key = topic.split('/', 4).slice(2).join('/');
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
    return this.lanes[Math.abs(h) % this.lanes.length]!;
  }

  accept(message: IngestMessage): void {
    this.of(message.topic).accept(message);
  }

  refused(topic: string, clientId: string | null, payload: Buffer, detail: string): void {
    this.of(topic).refused(topic, clientId, payload, detail);
  }

  pending(): number {
    return this.lanes.reduce((n, lane) => n + lane.pending(), 0);
  }

  async idle(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.idle()));
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.close()));
  }
}

function createIngestMetrics(registry: import('prom-client').Registry): IngestMetrics {
  const received = new Counter({
    name: 'ocp_mqtt_ingest_messages_received_total',
    help: 'Device messages received from the broker.',
    registers: [registry],
  });
  const written = new Counter({
    name: 'ocp_mqtt_ingest_messages_written_total',
    help: 'Device messages written to the entity store.',
    registers: [registry],
  });
  const attributes = new Counter({
    name: 'ocp_mqtt_ingest_attribute_updates_total',
    help: 'Attribute instances written from device messages.',
    registers: [registry],
  });
  const dead = new Counter({
    name: 'ocp_mqtt_ingest_dead_letters_total',
    help: 'Device messages sent to the dead-letter table, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'ocp_mqtt_ingest_batch_size',
    help: 'Messages per ingestion batch.',
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: 'ocp_mqtt_ingest_batch_duration_seconds',
    help: 'Time to check, write and acknowledge one ingestion batch.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'ocp_mqtt_ingest_batch_retries_total',
    help: 'Batch writes retried because the database was unreachable or failed.',
    registers: [registry],
  });
  return {
    received: (n) => received.inc(n),
    written: (messages, attrs) => {
      written.inc(messages);
      attributes.inc(attrs);
    },
    deadLettered: (reason: DeadLetterReason) => dead.inc({ reason }),
    batch: (size, seconds) => {
      batchSize.observe(size);
      batchSeconds.observe(seconds);
    },
    retried: () => retries.inc(),
  };
}
