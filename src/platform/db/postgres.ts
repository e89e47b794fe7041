import pg from 'pg';
import { assertChannelName, typeParsers, type Database, type Queryable } from './database.js';

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
      const result = await client.query(sql, params as unknown[] | undefined);
      return { rows: result.rows as never[], rowCount: result.rowCount ?? result.rows.length };
    },
  });
  let listener: pg.Client | null = null;
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let closed = false;

  async function listenerClient(): Promise<pg.Client> {
    if (listener) return listener;
    const client = new pg.Client({ connectionString: options.url });
    await client.connect();
    client.on('notification', (message) => {
      for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', (error) => {
      options.onIdleError?.(error);
      listener = null;
    });
    listener = client;
    return client;
  }

  return {
    kind: 'postgres',
    query: (sql, params) => wrap(pool).query(sql, params),
    exec: (sql) => wrap(pool).exec(sql),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
          client.release();
        } catch (rollbackError) {
          // The connection is unusable; drop it from the pool.
          client.release(rollbackError as Error);
        }
        throw error;
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
      await pool.query('SELECT 1');
    },
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      if (closed) return;
      closed = true;
      await listener?.end().catch(() => undefined);
      await pool.end();
    },
  };
}
