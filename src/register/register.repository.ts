/** SQL of the registers: one table for both kinds, the published fields as JSON. */
import type { Queryable } from '../platform/db/database.js';

export type RegisterKind = 'technology' | 'algorithm';

export interface RegisterRecord {
  id: string;
  kind: RegisterKind;
  organisationId: string;
  entry: Record<string, unknown>;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  kind: RegisterKind;
  organisation_id: string;
  entry: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, kind, organisation_id, entry, version, created_at, updated_at';

const toRecord = (r: Row): RegisterRecord => ({
  id: r.id,
  kind: r.kind,
  organisationId: r.organisation_id,
  entry: r.entry,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Escapes LIKE wildcards so a search for `50%` means the text `50%`. */
const likePattern = (q: string) => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export const registerRepository = {
  async insert(
    db: Queryable,
    r: Omit<RegisterRecord, 'version' | 'updatedAt'>,
    searchText: string,
  ): Promise<RegisterRecord> {
    const { rows } = await db.query<Row>(
      `INSERT INTO register_entries (id, kind, organisation_id, entry, search_text, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ${COLUMNS}`,
      [r.id, r.kind, r.organisationId, JSON.stringify(r.entry), searchText, r.createdAt],
    );
    return toRecord(rows[0]!);
  },

  async get(db: Queryable, kind: RegisterKind, id: string, forUpdate = false) {
    const { rows } = await db.query<Row>(
      `SELECT ${COLUMNS} FROM register_entries WHERE kind = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
      [kind, id],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  },

  async list(
    db: Queryable,
    kind: RegisterKind,
    options: { q?: string; limit: number; offset: number },
  ): Promise<{ items: RegisterRecord[]; total: number }> {
    const params: unknown[] = [kind];
    let where = 'kind = $1';
    if (options.q) {
      params.push(likePattern(options.q));
      where += ` AND search_text LIKE $${params.length} ESCAPE '\\'`;
    }
    const total = await db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM register_entries WHERE ${where}`,
      params,
    );
    const { rows } = await db.query<Row>(
      `SELECT ${COLUMNS} FROM register_entries WHERE ${where}
       ORDER BY updated_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, options.limit, options.offset],
    );
    return { items: rows.map(toRecord), total: Number(total.rows[0]!.n) };
  },

  async update(
    db: Queryable,
    kind: RegisterKind,
    id: string,
    entry: Record<string, unknown>,
    searchText: string,
    at: Date,
  ): Promise<RegisterRecord> {
    const { rows } = await db.query<Row>(
      `UPDATE register_entries SET entry = $3, search_text = $4, updated_at = $5, version = version + 1
       WHERE kind = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [kind, id, JSON.stringify(entry), searchText, at],
    );
    return toRecord(rows[0]!);
  },

  async remove(db: Queryable, kind: RegisterKind, id: string): Promise<void> {
    await db.query('DELETE FROM register_entries WHERE kind = $1 AND id = $2', [kind, id]);
  },
};
