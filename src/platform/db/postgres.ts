import pg from 'pg';
import {
  assertChannelName,
  DatabaseUnavailableError,
  wakeUps,
  isConnectionError,
  typeParsers,
  type Database,
  type Queryable,
} from './database.js';

/** Driver errors that mean "unreachable" become DatabaseUnavailableError (HTTP 503). */
function unavailable(error: unknown): unknown {
  return isConnectionError(error) ? new DatabaseUnavailableError(error) : error;
}

const RELISTEN_MS = 1_000;

export interface PostgresOptions {
  url: string;
  poolSize: number;
  /** Called for errors on idle connections (server restart, network), which must not crash us. */
  onIdleError?: (error: Error) => void;
}

/** PostgreSQL through a node-postgres pool: the scale-out adapter. */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: 5_000,
    // JIT compilation costs 50–130 ms on the short, selective queries this node runs
    // (NGSI-LD q filters) and never pays back at our row counts.
    options: '-c jit=off',
    idleTimeoutMillis: 30_000,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        typeParsers[oid] ??
        pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (error) => options.onIdleError?.(error));
  // Fail fast on a wrong URL instead of at the first request.
  const probe = await pool.connect();
  probe.release();

  const wrap = (client: Pick<pg.PoolClient, 'query'>): Queryable => ({
    async exec(sql) {
      // Without parameters node-postgres uses the simple protocol, which runs scripts.
      await client.query(sql);
    },
    async query(sql, params) {
      const result = await client
        .query(sql, params as unknown[] | undefined)
        .catch((error: unknown) => Promise.reject(unavailable(error)));
      return { rows: result.rows as never[], rowCount: result.rowCount ?? result.rows.length };
    },
  });
  let listener: pg.Client | null = null;
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let closed = false;

  let relistenTimer: NodeJS.Timeout | null = null;

  async function listenerClient(): Promise<pg.Client> {
    if (listener) return listener;
    const client = new pg.Client({ connectionString: options.url });
    // Registered before connecting: a failed connect also emits 'error'.
    client.on('error', (error) => {
      options.onIdleError?.(error);
      if (listener === client) {
        listener = null;
        scheduleRelisten();
      }
    });
    await client.connect().catch((error: unknown) => {
      void client.end().catch(() => undefined);
      throw unavailable(error);
    });
    client.on('notification', (message) => {
      for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    listener = client;
    return client;
  }

  /**
   * After the listening connection is lost (server restart), reconnect and LISTEN again
   * on every channel until it works. Notifications sent while disconnected are lost, so
   * listeners must treat them as hints and poll as well (the ledger sequencer does).
   */
  function scheduleRelisten(): void {
    if (closed || relistenTimer || handlers.size === 0) return;
    relistenTimer = setTimeout(() => {
      relistenTimer = null;
      if (closed || listener) return;
      void (async () => {
        const client = await listenerClient();
        for (const channel of handlers.keys()) await client.query(`LISTEN ${channel}`);
      })().catch((error: unknown) => {
        options.onIdleError?.(error as Error);
        const failed = listener;
        listener = null;
        void failed?.end().catch(() => undefined);
        scheduleRelisten();
      });
    }, RELISTEN_MS);
    relistenTimer.unref();
  }

  // After the commit, in a statement of its own that does not wait for its WAL flush.
  const wake = wakeUps((channel) =>
    pool
      .query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')", [channel])
      .then(
        () => undefined,
        () => undefined, // a lost wake-up only delays delivery until the next poll
      ),
  );

  return {
    kind: 'postgres',
    query: (sql, params) => wrap(pool).query(sql, params),
    exec: (sql) => wrap(pool).exec(sql),
    async transaction(fn) {
      const channels = new Set<string>();
      const client = await pool
        .connect()
        .catch((error: unknown) => Promise.reject(unavailable(error)));
      // A checked-out client has no pool error listener: without one, a connection that
      // dies between two statements (server restart) would be an uncaught 'error' event
      // and take the process down. The failing statement reports it instead.
      let lost: Error | null = null;
      const onLost = (error: Error) => {
        lost = error;
      };
      client.on('error', onLost);
      try {
        await client.query('BEGIN');
        const result = await fn({
          ...wrap(client),
          notifyOnCommit: (channel) => channels.add(channel),
        });
        await client.query('COMMIT');
        client.off('error', onLost);
        client.release();
        for (const channel of channels) wake(channel);
        return result;
      } catch (error) {
        try {
          if (lost) throw lost;
          await client.query('ROLLBACK');
          client.off('error', onLost);
          client.release();
        } catch (rollbackError) {
          // The connection is unusable; drop it from the pool (onLost stays attached so
          // a late socket error on the discarded client cannot crash the process).
          client.release(rollbackError as Error);
        }
        throw unavailable(error);
      }
    },
    async listen(channel, onPayload) {
      assertChannelName(channel);
      const client = await listenerClient();
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await client.query(`LISTEN ${channel}`);
      }
      set.add(onPayload);
      return async () => {
        set.delete(onPayload);
        if (set.size === 0 && handlers.get(channel) === set) {
          handlers.delete(channel);
          await listener?.query(`UNLISTEN ${channel}`);
        }
      };
    },
    async ping() {
      if (closed) throw new Error('database is closed');
      await wrap(pool).query('SELECT 1');
    },
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      if (closed) return;
      closed = true;
      if (relistenTimer) clearTimeout(relistenTimer);
      await listener?.end().catch(() => undefined);
      await pool.end();
    },
  };
}
