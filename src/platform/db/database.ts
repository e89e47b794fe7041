/**
 * The storage port. Everything above this file speaks PostgreSQL-dialect SQL with bound
 * parameters through `Queryable`; the two adapters (PGlite, node-postgres) make the same
 * SQL behave the same, including how values come back (see `typeParsers`).
 */

export type Row = Record<string, unknown>;

export interface QueryResult<R> {
  rows: R[];
  /** Rows affected by INSERT/UPDATE/DELETE, or returned by SELECT. */
  rowCount: number;
}

export interface Queryable {
  query<R = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations only). */
  exec(sql: string): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** LISTEN on a channel; resolves to a function that stops listening. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  stats(): PoolStats;
  close(): Promise<void>;
}

/**
 * Type OIDs whose JavaScript representation we pin so both adapters agree.
 * int8 → number (counts and sequence values stay far below 2^53; beyond that we throw
 * rather than lose precision), numeric and date → string (no silent rounding or
 * time-zone shifts), timestamptz → Date.
 */
export const typeParsers: Record<number, (value: string) => unknown> = {
  20: (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds 2^53`);
    return n;
  },
  1700: (value) => value,
  1082: (value) => value,
  1114: (value) => new Date(`${value.replace(' ', 'T')}Z`),
  1184: (value) => new Date(value),
};

/** Listen/notify channel names are identifiers; never splice anything else. */
export function assertChannelName(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) {
    throw new Error(`invalid channel name "${channel}"`);
  }
}
