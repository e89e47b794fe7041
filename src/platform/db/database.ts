/**
 * The storage port. Everything above this file speaks PostgreSQL-dialect SQL with bound
 * parameters through `Queryable`; the two adapters (PGlite, node-postgres) make the same
 * SQL behave the same, including how values come back (see `typeParsers`).
 */

import { CoalescedRun } from '../coalesced.js';

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
  /**
   * Inside a transaction: wake the listeners of `channel` once the transaction has
   * committed (see `notifyOnCommit`). Absent outside transactions.
   */
  notifyOnCommit?(channel: string): void;
}

/**
 * Wakes every process LISTENing on `channel` once `q`'s transaction has committed, or at
 * once when `q` is not a transaction. A wake-up is a hint, never the data: whoever listens
 * also polls. It is sent after the commit, outside the transaction and without waiting
 * for durability, because a NOTIFY inside a write transaction makes PostgreSQL serialise
 * the commits of all such transactions — each one's WAL flush included — on one global
 * lock, which caps every notifying write path at one commit per flush.
 */
export async function notifyOnCommit(q: Queryable, channel: string): Promise<void> {
  assertChannelName(channel);
  if (q.notifyOnCommit) q.notifyOnCommit(channel);
  else await q.query('SELECT pg_notify($1, $2)', [channel, '']);
}

/**
 * Sends wake-ups after commits, at most one in flight per channel: a request made while
 * one is in flight is folded into one more sent right after it, so the last commit is
 * always followed by a wake-up. `send` must not throw.
 */
export function wakeUps(send: (channel: string) => Promise<void>): (channel: string) => void {
  const runs = new Map<string, CoalescedRun>();
  return (channel) => {
    let run = runs.get(channel);
    if (!run) {
      run = new CoalescedRun(
        () => send(channel),
        () => undefined,
      );
      runs.set(channel, run);
    }
    run.wake();
  };
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

/**
 * The database could not be reached or dropped the connection (server restarting,
 * network down, too many connections). Nothing about the request's own data is wrong:
 * callers get 503 and may retry. The driver's error stays in `cause` for the logs.
 */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the database is unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

// SQLSTATE class 08 (connection exception), shutdown and start-up states, too many
// connections; and the socket-level failures of a connection that went away.
const UNAVAILABLE_SQLSTATES = /^(08...|57P0[1-3]|53300)$/;
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const UNAVAILABLE_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable)/;

/** Whether a driver error means "the database is not reachable" rather than "bad SQL". */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (UNAVAILABLE_SQLSTATES.test(code) || UNAVAILABLE_ERRNOS.has(code))
  )
    return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  return UNAVAILABLE_MESSAGES.test(error.message);
}
