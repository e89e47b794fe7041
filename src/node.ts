/**
 * Assembles a node from its configuration: storage (migrated), MQTT, the HTTP server and
 * every feature; and takes it apart again in the reverse order.
 */
import { features as defaultFeatures } from './features.js';
import { systemClock, type Clock } from './platform/clock.js';
import { describeConfig, type Config } from './platform/config.js';
import { lockDataDir } from './platform/data-dir-lock.js';
import type { Database } from './platform/db/database.js';
import { migrate, type MigrationReport } from './platform/db/migrate.js';
import { openDatabase } from './platform/db/open.js';
import { buildServer, type App, type Feature } from './platform/http/server.js';
import { createLogger, type Logger } from './platform/logging.js';
import { createMetrics } from './platform/metrics.js';
import { openMessageBus, PortInUseError, type MessageBus } from './platform/mqtt/message-bus.js';
import type { Platform } from './platform/platform.js';

export interface RunningNode {
  app: App;
  platform: Platform;
  /** Base URL the HTTP server listens on (loopback form of the bound address). */
  url: string;
  migrations: MigrationReport;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: Clock;
  features?: readonly Feature[];
  /** Skip binding a port: for tests that use `app.inject`. */
  listen?: boolean;
  /** An already opened and migrated database the caller owns (tests); not closed by the node. */
  db?: Database;
}

/** Opens storage (locking an embedded data directory) and applies migrations. */
export async function openStorage(
  config: Config,
  logger: Logger,
): Promise<{ db: Database; release: () => Promise<void> }> {
  const unlock =
    config.database.kind === 'pglite' && config.database.dataDir
      ? lockDataDir(config.dataDir)
      : () => undefined;
  try {
    const db = await openDatabase(config.database, {
      poolSize: config.databasePoolSize,
      onIdleError: (error) => logger.warn({ err: error }, 'database connection error'),
    });
    return {
      db,
      release: async () => {
        await db.close();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

export async function startNode(config: Config, options: StartOptions = {}): Promise<RunningNode> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const cleanup: (() => Promise<void>)[] = [];
  const unwind = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    const storage = options.db
      ? { db: options.db, release: async () => undefined }
      : await openStorage(config, logger);
    cleanup.push(storage.release);
    const migrations = await migrate(storage.db);
    if (migrations.applied.length > 0) {
      logger.info({ applied: migrations.applied }, 'applied database migrations');
    }

    const bus: MessageBus = await openMessageBus(config.mqtt, {
      onStateChange: (state, detail) =>
        state === 'connected'
          ? logger.info({ broker: config.mqtt.kind }, 'MQTT connected')
          : logger.warn({ broker: config.mqtt.kind, detail }, `MQTT ${state}`),
    });
    cleanup.push(() => bus.close());

    const platform: Platform = {
      config,
      db: storage.db,
      bus,
      logger,
      metrics: createMetrics(storage.db, bus),
      clock: options.clock ?? systemClock,
    };
    if (config.anonymousRole) {
      logger.warn(
        { role: config.anonymousRole },
        `OCP_ANONYMOUS_ROLE is set: every anonymous caller acts as ${config.anonymousRole}. Never use this in production.`,
      );
    }
    const app = await buildServer(platform, options.features ?? defaultFeatures);
    cleanup.push(() => app.close());

    let url = config.publicUrl;
    if (options.listen !== false) {
      await app
        .listen({ host: config.host, port: config.port })
        .catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'EADDRINUSE') throw new PortInUseError(config.port, 'OCP_PORT', '');
          throw error;
        });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      const where = describeConfig(config);
      logger.info(
        { url, publicUrl: config.publicUrl, storage: where.storage, mqtt: bus.brokerUrl ?? 'off' },
        `ocp listening on ${url}`,
      );
    } else {
      await app.ready();
    }

    return {
      app,
      platform,
      url,
      migrations,
      // HTTP first (stop accepting, let in-flight requests finish), then MQTT, then storage.
      close: unwind,
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}
