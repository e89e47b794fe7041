import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import {
  assertChannelName,
  typeParsers,
  wakeUps,
  type Database,
  type Queryable,
} from './database.js';

/**
 * Embedded PostgreSQL (compiled to WASM) for one-process nodes and tests. PGlite has a
 * single connection; it serialises queries and transactions itself, so a query issued
 * while a transaction runs waits for it rather than joining it.
 */
export interface PgliteDatabase extends Database {
  /** A snapshot of the data directory that `loadDataDir` can start from. */
  dump(): Promise<Blob>;
}

/**
 * PGlite runs no autovacuum, so nothing would ever gather planner statistics and every
 * query would be planned on default guesses (on PostgreSQL, a geo `near` query over
 * 100,000 entities ran 8 × slower without them). The adapter gathers them itself: a
 * minute after opening, then every ten minutes. ANALYZE samples a bounded number of rows
 * per table, so a run takes the single connection for a bounded time.
 */
const ANALYZE_FIRST_MS = 60_000;
const ANALYZE_EVERY_MS = 10 * 60_000;

export async function openPglite(
  dataDir: string | null,
  options: { loadDataDir?: Blob; analyzeFirstMs?: number; analyzeEveryMs?: number } = {},
): Promise<PgliteDatabase> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const parsers = Object.fromEntries(
    Object.entries(typeParsers).map(([oid, parse]) => [oid, (value: string) => parse(value)]),
  );
  const pg = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    parsers: { ...parsers, [types.INT8]: typeParsers[20]! },
  });

  const wrap = (target: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async exec(sql) {
      await target.exec(sql);
    },
    async query(sql, params) {
      const result = await target.query(sql, params as unknown[] | undefined);
      return {
        rows: result.rows as never[],
        // PGlite reports affectedRows 0 for SELECT; pg reports the rows returned.
        rowCount: result.fields.length > 0 ? result.rows.length : (result.affectedRows ?? 0),
      };
    },
  });
  const root = wrap(pg);
  let closed = false;
  let analyzer: NodeJS.Timeout | null = null;
  const analyze = (delay: number) => {
    analyzer = setTimeout(() => {
      if (closed) return;
      pg.exec('ANALYZE').then(
        () => analyze(options.analyzeEveryMs ?? ANALYZE_EVERY_MS),
        () => analyze(options.analyzeEveryMs ?? ANALYZE_EVERY_MS), // closing, or busy: next time
      );
    }, delay);
    analyzer.unref();
  };
  analyze(options.analyzeFirstMs ?? ANALYZE_FIRST_MS);
  const wake = wakeUps((channel) =>
    pg.query("SELECT pg_notify($1, '')", [channel]).then(
      () => undefined,
      () => undefined, // closed meanwhile: listeners poll
    ),
  );

  return {
    kind: 'pglite',
    query: root.query,
    exec: root.exec,
    async transaction(fn) {
      const channels = new Set<string>();
      const result = await pg.transaction((tx) =>
        fn({ ...wrap(tx), notifyOnCommit: (channel) => channels.add(channel) }),
      );
      for (const channel of channels) wake(channel);
      return result;
    },
    async listen(channel, onPayload) {
      assertChannelName(channel);
      const unlisten = await pg.listen(channel, onPayload);
      return () => unlisten();
    },
    async ping() {
      if (closed) throw new Error('database is closed');
      await pg.query('SELECT 1');
    },
    stats: () => ({ total: 1, idle: 1, waiting: 0 }),
    dump: () => pg.dumpDataDir('none') as Promise<Blob>,
    async close() {
      if (closed) return;
      closed = true;
      if (analyzer) clearTimeout(analyzer);
      await pg.close();
    },
  };
}
