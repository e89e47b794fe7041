/** SQL for @contexts kept by the node: hosted (added through /jsonldContexts) and cached remote ones. */
import type { Queryable } from '../../platform/db/database.js';

/** hosted: added by a client; cached: a fetched remote context; implicit: an inline context given a URL. */
export type ContextKind = 'hosted' | 'cached' | 'implicit';

export interface StoredContext {
  id: string;
  url: string;
  kind: ContextKind;
  body: unknown;
  createdAt: Date;
  fetchedAt: Date | null;
  lastUsedAt: Date | null;
  hits: number;
}

interface Row {
  id: string;
  url: string;
  kind: ContextKind;
  body: unknown;
  created_at: Date;
  fetched_at: Date | null;
  last_used_at: Date | null;
  hits: number;
}

const toStored = (r: Row): StoredContext => ({
  id: r.id,
  url: r.url,
  kind: r.kind,
  body: r.body,
  createdAt: r.created_at,
  fetchedAt: r.fetched_at,
  lastUsedAt: r.last_used_at,
  hits: r.hits,
});

export async function findContextByUrl(db: Queryable, url: string): Promise<StoredContext | null> {
  const { rows } = await db.query<Row>('SELECT * FROM ngsi_jsonld_contexts WHERE url = $1', [url]);
  return rows[0] ? toStored(rows[0]) : null;
}

export async function findContextById(db: Queryable, id: string): Promise<StoredContext | null> {
  const { rows } = await db.query<Row>('SELECT * FROM ngsi_jsonld_contexts WHERE id = $1', [id]);
  return rows[0] ? toStored(rows[0]) : null;
}

export async function listContexts(
  db: Queryable,
  kind: ContextKind | null,
): Promise<StoredContext[]> {
  const { rows } = await db.query<Row>(
    'SELECT * FROM ngsi_jsonld_contexts WHERE ($1::text IS NULL OR kind = $1) ORDER BY created_at, id',
    [kind],
  );
  return rows.map(toStored);
}

export async function saveContext(
  db: Queryable,
  c: { id: string; url: string; kind: ContextKind; body: unknown; at: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO ngsi_jsonld_contexts (id, url, kind, body, created_at, fetched_at)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $3 = 'cached' THEN $5::timestamptz END)
     ON CONFLICT (url) DO UPDATE SET body = EXCLUDED.body, fetched_at = EXCLUDED.fetched_at`,
    [c.id, c.url, c.kind, JSON.stringify(c.body), c.at],
  );
}

export async function touchContext(db: Queryable, url: string, at: Date): Promise<void> {
  await db.query(
    'UPDATE ngsi_jsonld_contexts SET hits = hits + 1, last_used_at = $2 WHERE url = $1',
    [url, at],
  );
}

export async function deleteContext(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM ngsi_jsonld_contexts WHERE id = $1', [id]);
  return rowCount > 0;
}
