import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { Logger } from './logging.js';
import type { Metrics } from './metrics.js';
import type { MessageBus } from './mqtt/message-bus.js';

/** The shared machinery every feature receives: its only way to reach I/O and settings. */
export interface Platform {
  readonly config: Config;
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
}
