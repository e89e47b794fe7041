/**
 * Test support for the query compilers: the two storage tables of the NGSI-LD storage
 * contract (created here only when the entity-storage migration has not created them),
 * rows in the contract's shape, and a runner that returns the ids a filter selects.
 */
import type { Database } from '../../platform/db/database.js';
import { parameterList } from './compile-context.js';

export const NS = 'https://example.org/';

/** Test @context: bare terms live in https://example.org/, IRIs and CURIEs stay as they are. */
export const expand = (term: string) => (term.includes(':') ? term : NS + term);

export async function ensureContextTables(db: Database): Promise<void> {
  const { rows } = await db.query<{ geo: string | null }>(
    "SELECT to_regclass('ngsi_entity_geo')::text AS geo",
  );
  if (rows[0]?.geo) return;
  await db.exec(`
    CREATE TABLE ngsi_entities (
      tenant text NOT NULL DEFAULT '', id text NOT NULL, types text[] NOT NULL,
      scopes text[], attrs jsonb NOT NULL, created_at timestamptz NOT NULL,
      modified_at timestamptz NOT NULL, owner_org text, PRIMARY KEY (tenant, id));
    CREATE TABLE ngsi_entity_geo (
      tenant text NOT NULL, entity_id text NOT NULL, attr text NOT NULL,
      dataset_id text NOT NULL DEFAULT '', geom jsonb NOT NULL, bbox box NOT NULL,
      PRIMARY KEY (tenant, entity_id, attr, dataset_id),
      FOREIGN KEY (tenant, entity_id) REFERENCES ngsi_entities (tenant, id) ON DELETE CASCADE);
    CREATE INDEX ngsi_entity_geo_bbox ON ngsi_entity_geo USING gist (bbox);`);
}

export interface TestEntity {
  id: string;
  types: string[];
  tenant?: string;
  scopes?: string[] | null;
  attrs?: Record<string, unknown[]>;
  createdAt?: string;
}

export async function insertEntity(db: Database, entity: TestEntity): Promise<void> {
  const at = entity.createdAt ?? '2024-01-01T00:00:00Z';
  await db.query(
    `INSERT INTO ngsi_entities (tenant, id, types, scopes, attrs, created_at, modified_at)
     VALUES ($1, $2, $3::text[], $4::text[], $5::jsonb, $6, $6)`,
    [
      entity.tenant ?? '',
      entity.id,
      entity.types,
      entity.scopes ?? null,
      JSON.stringify(entity.attrs ?? {}),
      at,
    ],
  );
}

/** Adds a geo row the way the entity writer maintains ngsi_entity_geo. */
export async function insertGeo(
  db: Database,
  entityId: string,
  attr: string,
  geom: { type: string; coordinates: unknown },
  datasetId = '',
  tenant = '',
): Promise<void> {
  const flat: number[][] = [];
  const walk = (c: unknown) => {
    if (Array.isArray(c) && typeof c[0] === 'number') flat.push(c as number[]);
    else if (Array.isArray(c)) c.forEach(walk);
  };
  walk(geom.coordinates);
  const xs = flat.map((p) => p[0]!);
  const ys = flat.map((p) => p[1]!);
  await db.query(
    `INSERT INTO ngsi_entity_geo (tenant, entity_id, attr, dataset_id, geom, bbox)
     VALUES ($1, $2, $3, $4, $5::jsonb, box(point($6, $7), point($8, $9)))`,
    [
      tenant,
      entityId,
      attr,
      datasetId,
      JSON.stringify(geom),
      Math.min(...xs),
      Math.min(...ys),
      Math.max(...xs),
      Math.max(...ys),
    ],
  );
}

/** Ids of the entities (default tenant unless given) for which `build(ctx)` is true. */
export async function selectIds(
  db: Database,
  build: (ctx: ReturnType<typeof parameterList>) => string,
  tenant = '',
): Promise<string[]> {
  const ctx = parameterList('e', expand);
  const where = build(ctx);
  const tenantParam = ctx.param(tenant);
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id FROM ngsi_entities e WHERE e.tenant = ${tenantParam} AND ${where} ORDER BY e.id`,
    ctx.params,
  );
  return rows.map((row) => row.id);
}
