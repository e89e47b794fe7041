/**
 * SQL for NGSI-LD entities. Writes are set-based: a batch of any size is a fixed number
 * of statements (jsonb_to_recordset over the whole set), never a loop of single-row
 * statements. Every write also refreshes the geo index and appends history in the
 * caller's transaction.
 */
import type { Queryable } from '../../platform/db/database.js';
import { readScopeSql, readViewSql } from '../../governance/read-scope.js';
import { boundingBox, type Instance, type StoredEntity } from './entity.model.js';

/**
 * Who may see which rows: admins everything; others their organisation's entities plus
 * what datasets make readable to them (open data, and grants of their organisation for
 * the stated purpose in force at `at`) — see src/governance/read-scope.ts.
 */
export type Visibility =
  | { all: true }
  | {
      all: false;
      org: string | null;
      purpose?: string | null;
      at?: Date;
      /** Told what a read returned (metering); must not throw or block. */
      onRead?: (tenant: string, entities: readonly StoredEntity[]) => void;
    };

interface EntityRow {
  id: string;
  types: string[];
  scopes: string[] | null;
  attrs: Record<string, Instance[]>;
  created_at: Date;
  modified_at: Date;
  owner_org: string | null;
}

export const toEntity = (r: EntityRow): StoredEntity => ({
  id: r.id,
  types: r.types,
  scopes: r.scopes,
  attrs: r.attrs,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
  ownerOrg: r.owner_org,
});

/** Whether the caller owns (may change) an entity; reads are scoped in SQL instead. */
export function visibleTo(v: Visibility, e: { ownerOrg: string | null }): boolean {
  return v.all || (v.org !== null && e.ownerOrg === v.org);
}

/** SQL predicate for visibility; pushes parameters through `param`. */
export function visibilitySql(
  v: Visibility,
  alias: string,
  param: (value: unknown) => string,
): string {
  if (v.all) return 'TRUE';
  return readScopeSql(scopeOf(v), alias, param);
}

const scopeOf = (v: { org: string | null; purpose?: string | null; at?: Date }) => ({
  org: v.org,
  purpose: v.purpose ?? null,
  at: v.at ?? new Date(),
});

/**
 * The caller's view of raw row `s` — the select-list fragment for `attrs`, `created_at`
 * and `modified_at` — or undefined for admins.
 */
export function entityViewSql(
  v: Visibility,
  param: (value: unknown) => string,
): string | undefined {
  return v.all ? undefined : readViewSql(scopeOf(v), 's', param);
}

/**
 * The entity rows a reader selects from: for non-admins, `ngsi_entities` with each row's
 * attributes cut down to what the caller may read, so filters on hidden attributes match
 * nothing and counts stay exact.
 */
export function entitySourceSql(v: Visibility, param: (value: unknown) => string): string {
  if (v.all) return 'ngsi_entities';
  return `(SELECT s.tenant, s.id, s.types, s.scopes, ${readViewSql(scopeOf(v), 's', param)},
      s.owner_org FROM ngsi_entities s)`;
}

export async function tenantExists(db: Queryable, tenant: string): Promise<boolean> {
  if (tenant === '') return true;
  const { rows } = await db.query('SELECT 1 FROM ngsi_tenants WHERE name = $1', [tenant]);
  return rows.length > 0;
}

export async function ensureTenant(tx: Queryable, tenant: string, at: Date): Promise<void> {
  await tx.query(
    'INSERT INTO ngsi_tenants (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [tenant, at],
  );
}

export async function listTenants(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM ngsi_tenants ORDER BY name');
  return rows.map((r) => r.name);
}

/** Locks and returns the existing entities among `ids`. */
export async function lockEntities(
  tx: Queryable,
  tenant: string,
  ids: readonly string[],
): Promise<Map<string, StoredEntity>> {
  const { rows } = await tx.query<EntityRow>(
    `SELECT id, types, scopes, attrs, created_at, modified_at, owner_org
       FROM ngsi_entities WHERE tenant = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE`,
    [tenant, ids],
  );
  return new Map(rows.map((r) => [r.id, toEntity(r)]));
}

const recordset = (entities: readonly StoredEntity[]) =>
  JSON.stringify(
    entities.map((e) => ({
      id: e.id,
      types: e.types,
      scopes: e.scopes,
      attrs: e.attrs,
      created_at: e.createdAt.toISOString(),
      modified_at: e.modifiedAt.toISOString(),
      owner_org: e.ownerOrg,
    })),
  );

const RECORD_COLUMNS =
  'r(id text, types text[], scopes text[], attrs jsonb, created_at timestamptz, modified_at timestamptz, owner_org text)';

export async function insertEntities(
  tx: Queryable,
  tenant: string,
  entities: readonly StoredEntity[],
): Promise<void> {
  if (entities.length === 0) return;
  await tx.query(
    `INSERT INTO ngsi_entities (tenant, id, types, scopes, attrs, created_at, modified_at, owner_org)
     SELECT $1, r.id, r.types, r.scopes, r.attrs, r.created_at, r.modified_at, r.owner_org
       FROM jsonb_to_recordset($2::jsonb) AS ${RECORD_COLUMNS}`,
    [tenant, recordset(entities)],
  );
}

export async function updateEntities(
  tx: Queryable,
  tenant: string,
  entities: readonly StoredEntity[],
): Promise<void> {
  if (entities.length === 0) return;
  await tx.query(
    `UPDATE ngsi_entities e
        SET types = r.types, scopes = r.scopes, attrs = r.attrs, modified_at = r.modified_at
       FROM jsonb_to_recordset($2::jsonb) AS ${RECORD_COLUMNS}
      WHERE e.tenant = $1 AND e.id = r.id`,
    [tenant, recordset(entities)],
  );
}

export async function deleteEntities(
  tx: Queryable,
  tenant: string,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  await tx.query('DELETE FROM ngsi_entities WHERE tenant = $1 AND id = ANY($2::text[])', [
    tenant,
    ids,
  ]);
}

/** Rebuilds the geo index rows of the given (inserted or updated) entities. */
export async function replaceGeo(
  tx: Queryable,
  tenant: string,
  entities: readonly StoredEntity[],
): Promise<void> {
  if (entities.length === 0) return;
  await tx.query('DELETE FROM ngsi_entity_geo WHERE tenant = $1 AND entity_id = ANY($2::text[])', [
    tenant,
    entities.map((e) => e.id),
  ]);
  const rows: {
    entity_id: string;
    attr: string;
    dataset_id: string;
    geom: unknown;
    bbox: string;
  }[] = [];
  for (const e of entities) {
    for (const [attr, instances] of Object.entries(e.attrs)) {
      for (const inst of instances) {
        if (inst.type !== 'GeoProperty') continue;
        const geom = inst.value as { coordinates: unknown };
        const [minX, minY, maxX, maxY] = boundingBox(geom);
        rows.push({
          entity_id: e.id,
          attr,
          dataset_id: inst.datasetId ?? '',
          geom,
          bbox: `((${minX},${minY}),(${maxX},${maxY}))`,
        });
      }
    }
  }
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ngsi_entity_geo (tenant, entity_id, attr, dataset_id, geom, bbox)
     SELECT $1, r.entity_id, r.attr, r.dataset_id, r.geom, r.bbox::box
       FROM jsonb_to_recordset($2::jsonb) AS r(entity_id text, attr text, dataset_id text, geom jsonb, bbox text)`,
    [tenant, JSON.stringify(rows)],
  );
}

export interface HistoryRow {
  entityId: string;
  attr: string;
  datasetId: string;
  instanceId: string;
  op: 'create' | 'update' | 'delete';
  instance: Instance | null;
  entityTypes: string[];
  observedAt: string | null;
  createdAt: string;
  modifiedAt: string;
  deletedAt: string | null;
}

export async function appendHistory(
  tx: Queryable,
  tenant: string,
  rows: readonly HistoryRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ngsi_attribute_history
       (tenant, entity_id, attr, dataset_id, instance_id, op, instance, entity_types, observed_at, created_at, modified_at, deleted_at)
     SELECT $1, r.entity_id, r.attr, r.dataset_id, r.instance_id, r.op, r.instance, r.entity_types,
            r.observed_at, r.created_at, r.modified_at, r.deleted_at
       FROM jsonb_to_recordset($2::jsonb) AS r(entity_id text, attr text, dataset_id text, instance_id text, op text,
            instance jsonb, entity_types text[], observed_at timestamptz, created_at timestamptz,
            modified_at timestamptz, deleted_at timestamptz)`,
    [
      tenant,
      JSON.stringify(
        rows.map((h) => ({
          entity_id: h.entityId,
          attr: h.attr,
          dataset_id: h.datasetId,
          instance_id: h.instanceId,
          op: h.op,
          instance: h.instance,
          entity_types: h.entityTypes,
          observed_at: h.observedAt,
          created_at: h.createdAt,
          modified_at: h.modifiedAt,
          deleted_at: h.deletedAt,
        })),
      ),
    ],
  );
}

export interface EntityQuerySql {
  where: string;
  params: unknown[];
  /** Row source aliased `e` (entitySourceSql); `ngsi_entities` when absent. */
  from?: string;
  /**
   * The caller's view (attributes and system times) of a raw `ngsi_entities` row aliased
   * `s` (entityViewSql), computed only for the rows of the page.
   */
  viewSql?: string;
  /** How many of `params` the WHERE and row source use (the rest are viewSql's). */
  whereParams?: number;
}

export async function selectEntities(
  db: Queryable,
  q: EntityQuerySql,
  limit: number,
  offset: number,
): Promise<StoredEntity[]> {
  const n = q.params.length;
  // With governance the page is chosen first and the (costlier) attribute view computed
  // for its rows only.
  const sql = q.viewSql
    ? `SELECT s.id, s.types, s.scopes, ${q.viewSql}, s.owner_org
         FROM (SELECT e.tenant, e.id FROM ${q.from ?? 'ngsi_entities'} e WHERE ${q.where}
                ORDER BY e.id LIMIT $${n + 1} OFFSET $${n + 2}) AS p
         JOIN ngsi_entities s ON s.tenant = p.tenant AND s.id = p.id ORDER BY s.id`
    : `SELECT e.id, e.types, e.scopes, e.attrs, e.created_at, e.modified_at, e.owner_org
       FROM ${q.from ?? 'ngsi_entities'} e WHERE ${q.where} ORDER BY e.id LIMIT $${n + 1} OFFSET $${n + 2}`;
  const { rows } = await db.query<EntityRow>(sql, [...q.params, limit, offset]);
  return rows.map(toEntity);
}

export async function countEntities(db: Queryable, q: EntityQuerySql): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int8 AS n FROM ${q.from ?? 'ngsi_entities'} e WHERE ${q.where}`,
    q.params.slice(0, q.whereParams ?? q.params.length),
  );
  return rows[0]?.n ?? 0;
}

/** Types present among visible entities, with the attribute names per type. */
export async function typeSummary(
  db: Queryable,
  tenant: string,
  v: Visibility,
  type: string | null,
): Promise<{ type: string; attrs: string[]; count: number }[]> {
  const params: unknown[] = [tenant];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const vis = visibilitySql(v, 'e', param);
  const source = entitySourceSql(v, param);
  const typeFilter = type === null ? '' : `AND t.type = ${param(type)}`;
  const { rows } = await db.query<{ type: string; attrs: string[] | null; n: number }>(
    `SELECT t.type, count(DISTINCT e.id)::int8 AS n,
            array_remove(array_agg(DISTINCT k.key), NULL) AS attrs
       FROM ${source} e
       CROSS JOIN LATERAL unnest(e.types) AS t(type)
       LEFT JOIN LATERAL jsonb_object_keys(e.attrs) AS k(key) ON TRUE
      WHERE e.tenant = $1 AND ${vis} ${typeFilter}
      GROUP BY t.type ORDER BY t.type`,
    params,
  );
  return rows.map((r) => ({ type: r.type, attrs: r.attrs ?? [], count: r.n }));
}

/** Attributes present among visible entities, with their kinds and the types using them. */
export async function attributeSummary(
  db: Queryable,
  tenant: string,
  v: Visibility,
  attr: string | null,
  type: string | null = null,
): Promise<{ attr: string; kinds: string[]; types: string[]; count: number }[]> {
  const params: unknown[] = [tenant];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const vis = visibilitySql(v, 'e', param);
  const source = entitySourceSql(v, param);
  const attrFilter =
    (attr === null ? '' : `AND a.key = ${param(attr)}`) +
    (type === null ? '' : ` AND e.types @> ARRAY[${param(type)}::text]`);
  const { rows } = await db.query<{ attr: string; kinds: string[]; types: string[]; n: number }>(
    `SELECT a.key AS attr, count(DISTINCT e.id)::int8 AS n,
            array_agg(DISTINCT i.inst->>'type') AS kinds,
            array_agg(DISTINCT t.type) AS types
       FROM ${source} e
       CROSS JOIN LATERAL jsonb_each(e.attrs) AS a(key, value)
       CROSS JOIN LATERAL jsonb_array_elements(a.value) AS i(inst)
       CROSS JOIN LATERAL unnest(e.types) AS t(type)
      WHERE e.tenant = $1 AND ${vis} ${attrFilter}
      GROUP BY a.key ORDER BY a.key`,
    params,
  );
  return rows.map((r) => ({ attr: r.attr, kinds: r.kinds, types: r.types, count: r.n }));
}
