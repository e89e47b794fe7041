/** SQL for device dead letters (migration 0060). */
import type { Queryable } from '../platform/db/database.js';
import type { DeadLetterReason } from './payload.js';

export interface NewDeadLetter {
  receivedAt: Date;
  topic: string;
  tenant: string | null;
  clientId: string | null;
  entityId: string | null;
  reason: DeadLetterReason;
  detail: string;
  payload: Buffer;
  payloadBytes: number;
  truncated: boolean;
}

export interface DeadLetter extends NewDeadLetter {
  id: number;
}

interface Row {
  id: number;
  received_at: Date;
  topic: string;
  tenant: string | null;
  client_id: string | null;
  entity_id: string | null;
  reason: DeadLetterReason;
  detail: string;
  payload: Uint8Array;
  payload_bytes: number;
  truncated: boolean;
}

const toDeadLetter = (r: Row): DeadLetter => ({
  id: r.id,
  receivedAt: r.received_at,
  topic: r.topic,
  tenant: r.tenant,
  clientId: r.client_id,
  entityId: r.entity_id,
  reason: r.reason,
  detail: r.detail,
  payload: Buffer.from(r.payload),
  payloadBytes: r.payload_bytes,
  truncated: r.truncated,
});

export interface DeadLetterFilter {
  reason?: DeadLetterReason | undefined;
  clientId?: string | undefined;
  /** Only letters received before this instant. */
  before?: Date | undefined;
}

function where(filter: DeadLetterFilter, params: unknown[]): string {
  const parts: string[] = [];
  if (filter.reason !== undefined) {
    params.push(filter.reason);
    parts.push(`reason = $${params.length}`);
  }
  if (filter.clientId !== undefined) {
    params.push(filter.clientId);
    parts.push(`client_id = $${params.length}`);
  }
  if (filter.before !== undefined) {
    params.push(filter.before);
    parts.push(`received_at < $${params.length}`);
  }
  return parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '';
}

export const deadLetterRepository = {
  async insertMany(q: Queryable, letters: readonly NewDeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const columns = [
      'received_at',
      'topic',
      'tenant',
      'client_id',
      'entity_id',
      'reason',
      'detail',
      'payload',
      'payload_bytes',
      'truncated',
    ] as const;
    // One multi-row INSERT per batch (parameter count stays far below 65535).
    const params: unknown[] = [];
    const rows = letters.map((l) => {
      const values = [
        l.receivedAt,
        l.topic,
        l.tenant,
        l.clientId,
        l.entityId,
        l.reason,
        l.detail,
        l.payload,
        l.payloadBytes,
        l.truncated,
      ];
      const placeholders = values.map((v) => {
        params.push(v);
        return `$${params.length}`;
      });
      return `(${placeholders.join(', ')})`;
    });
    await q.query(
      `INSERT INTO device_dead_letters (${columns.join(', ')}) VALUES ${rows.join(', ')}`,
      params,
    );
  },

  /** Newest first; `beforeId` pages further back. */
  async list(
    q: Queryable,
    filter: DeadLetterFilter,
    page: { limit: number; beforeId?: number | undefined },
  ): Promise<DeadLetter[]> {
    const params: unknown[] = [];
    let clause = where(filter, params);
    if (page.beforeId !== undefined) {
      params.push(page.beforeId);
      clause += `${clause ? ' AND' : 'WHERE'} id < $${params.length}`;
    }
    params.push(page.limit);
    const { rows } = await q.query<Row>(
      `SELECT * FROM device_dead_letters ${clause} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toDeadLetter);
  },

  async count(q: Queryable, filter: DeadLetterFilter): Promise<number> {
    const params: unknown[] = [];
    const { rows } = await q.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM device_dead_letters ${where(filter, params)}`,
      params,
    );
    return rows[0]!.n;
  },

  async get(q: Queryable, id: number): Promise<DeadLetter | null> {
    const { rows } = await q.query<Row>('SELECT * FROM device_dead_letters WHERE id = $1', [id]);
    return rows[0] ? toDeadLetter(rows[0]) : null;
  },

  async delete(q: Queryable, id: number): Promise<boolean> {
    const { rowCount } = await q.query('DELETE FROM device_dead_letters WHERE id = $1', [id]);
    return rowCount > 0;
  },

  async purge(q: Queryable, filter: DeadLetterFilter): Promise<number> {
    const params: unknown[] = [];
    const { rowCount } = await q.query(
      `DELETE FROM device_dead_letters ${where(filter, params)}`,
      params,
    );
    return rowCount;
  },
};
