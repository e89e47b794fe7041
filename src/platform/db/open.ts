import type { DatabaseTarget } from '../config.js';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export interface OpenDatabaseOptions {
  poolSize: number;
  onIdleError?: (error: Error) => void;
}

/** Opens the adapter the configuration names. The only place that chooses one. */
export function openDatabase(
  target: DatabaseTarget,
  options: OpenDatabaseOptions,
): Promise<Database> {
  return target.kind === 'postgres'
    ? openPostgres({
        url: target.url,
        poolSize: options.poolSize,
        onIdleError: options.onIdleError,
      })
    : openPglite(target.dataDir);
}
