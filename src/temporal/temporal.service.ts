/**
 * Temporal representation of entities: reads select entities with the entity query
 * compiler (same filters, same visibility as /entities) and then read each selected
 * attribute's history; writes append to or edit the history, and go through the entity
 * service where the entity itself changes, with the extra history rows written in the
 * same transaction (an `onChange` listener picks them up).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { EntityInput, Instance, StoredEntity } from '../context/entities/entity.model.js';
import type { EntityQuery } from '../context/entities/entity.query.js';
import {
  appendHistory,
  visibleTo,
  type HistoryRow,
  type Visibility,
} from '../context/entities/entity.repository.js';
import type { EntityService, WriteScope } from '../context/entities/entity.service.js';
import { attributeViews } from '../governance/read-scope.js';
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import { alreadyExists, notFound } from '../platform/http/errors.js';
import {
  aggregateInstances,
  deleteAttributeHistory,
  deleteEntityHistory,
  deleteInstance,
  DEFAULT_ORIGIN,
  latestKinds,
  selectInstances,
  updateInstance,
  type AggregateRow,
  type AttrPair,
  type InstanceRow,
} from './history.repository.js';
import type { TemporalQuery, TemporalOptions } from './temporal.params.js';
import type { TemporalEntityData } from './temporal.render.js';

/** Most instances returned per attribute in one response (then 206 + Content-Range). */
export const INSTANCE_LIMIT = 1000;

export interface TemporalRead {
  query: EntityQuery;
  page: { limit: number; offset: number; count: boolean };
  temporal: TemporalQuery;
  options: TemporalOptions;
  /** Expanded attribute IRIs asked for (attrs); undefined: all. */
  attrs?: string[] | undefined;
  datasetIds?: string[] | undefined;
}

export interface TemporalResult {
  entities: TemporalEntityData[];
  total: number | null;
  /** Set when some attribute was cut at INSTANCE_LIMIT: the range the response covers. */
  range: { start: Date; end: Date; size: number | '*' } | null;
}

/** Extra work to do inside an entity-service write transaction. */
type Pending = (tx: Queryable, at: Date) => Promise<void>;

const key = (entityId: string, attr: string) => `${entityId}\u0000${attr}`;

/**
 * The attributes of an entity a reader may see history of: those the current entity
 * shows them (already cut to what governance lets them read), or for node-wide readers
 * any attribute they name. Every temporal read decides here.
 */
export function readableAttributes(
  entity: StoredEntity,
  visibility: Visibility,
  requested: readonly string[] | undefined,
): string[] {
  const present = Object.keys(entity.attrs);
  if (!requested) return present;
  if (visibility.all) return [...requested];
  return requested.filter((a) => present.includes(a));
}

export class TemporalService {
  private readonly pending = new AsyncLocalStorage<Pending[]>();

  constructor(
    private readonly db: Database,
    private readonly entities: EntityService,
    private readonly clock: Clock,
  ) {
    entities.onChange(async (tx, _changes, at) => {
      for (const work of this.pending.getStore() ?? []) await work(tx, at);
    });
  }

  async query(read: TemporalRead): Promise<TemporalResult> {
    const { entities, total } = await this.entities.query(read.query, read.page);
    const pairs: AttrPair[] = [];
    for (const e of entities) {
      for (const attr of readableAttributes(e, read.query.visibility, read.attrs)) {
        pairs.push({ entityId: e.id, attr });
      }
    }
    const { tenant } = read.query;
    await this.applyViews(read.query.visibility, tenant, pairs);
    const t = read.temporal;
    let instances: InstanceRow[] = [];
    let aggregates: AggregateRow[] = [];
    let kinds = new Map<string, string>();
    let range: TemporalResult['range'] = null;
    if (read.options.representation === 'aggregatedValues') {
      const origin = t.timerel === 'after' || t.timerel === 'between' ? t.timeAt! : DEFAULT_ORIGIN;
      [aggregates, kinds] = await Promise.all([
        aggregateInstances(
          this.db,
          tenant,
          pairs,
          t,
          read.options.aggrMethods,
          read.options.aggrPeriod,
          origin,
          read.datasetIds,
        ),
        latestKinds(this.db, tenant, pairs),
      ]);
    } else {
      const wanted = t.lastN !== undefined ? Math.min(t.lastN, INSTANCE_LIMIT) : INSTANCE_LIMIT;
      const rows = await selectInstances(this.db, tenant, pairs, t, wanted + 1, read.datasetIds);
      const byPair = new Map<string, InstanceRow[]>();
      for (const r of rows) {
        const k = key(r.entity_id, r.attr);
        const list = byPair.get(k);
        if (list) list.push(r);
        else byPair.set(k, [r]);
      }
      // Truncated attributes bound the range every attribute is complete for.
      let end = NaN;
      let start = NaN;
      for (const list of byPair.values()) {
        const cut = list.length > wanted;
        if (cut) list.length = wanted;
        const asc = t.lastN !== undefined ? list.reverse() : list;
        // lastN itself is no truncation; the server limit cutting a series is.
        const paged = cut && (t.lastN === undefined || t.lastN > INSTANCE_LIMIT);
        if (!paged || asc.length === 0) continue;
        const first = asc[0]!.t.getTime();
        const last = asc[asc.length - 1]!.t.getTime();
        if (t.lastN !== undefined) {
          // Newest first: the range runs from the newest instance back to the oldest one
          // every truncated attribute still covers.
          start = Number.isNaN(start) ? last : Math.max(start, last);
          end = Number.isNaN(end) ? first : Math.max(end, first);
        } else {
          start = Number.isNaN(start) ? first : Math.min(start, first);
          end = Number.isNaN(end) ? last : Math.min(end, last);
        }
      }
      if (!Number.isNaN(start)) {
        range = { start: new Date(start), end: new Date(end), size: t.lastN ?? '*' };
      }
      instances = [...byPair.values()].flat();
    }
    const instancesOf = groupByEntity(instances);
    const aggregatesOf = groupByEntity(aggregates);
    return {
      entities: entities.map((entity) => ({
        entity,
        instances: instancesOf.get(entity.id) ?? [],
        aggregates: aggregatesOf.get(entity.id) ?? [],
        kinds: new Map(
          [...kinds].flatMap(([k, v]) => {
            const [id, attr] = k.split('\u0000') as [string, string];
            return id === entity.id ? [[attr, v] as const] : [];
          }),
        ),
      })),
      total,
      range,
    };
  }

  /**
   * POST /temporal/entities: creates the entity (its current state being the latest
   * instance of each attribute) with all instances as history, or — when it exists —
   * appends the instances to its history. Returns whether the entity was created.
   */
  async upsertTemporal(
    scope: WriteScope,
    input: EntityInput & { id: string; types: string[] },
    instances: Record<string, Instance[]>,
  ): Promise<boolean> {
    const existing = await this.owned(scope, input.id, 'maybe');
    if (existing === 'not-owned') {
      throw alreadyExists(`Entity ${input.id} already exists`);
    }
    if (existing) {
      await this.appendInstances(scope, existing, instances);
      return false;
    }
    // The current state gets the latest instance per attribute and dataset; the others
    // become history in the same transaction.
    const latest: Record<string, Instance[]> = {};
    const older: { attr: string; inst: Instance }[] = [];
    for (const [attr, list] of Object.entries(instances)) {
      const byDataset = new Map<string, Instance>();
      for (const inst of list) {
        const d = inst.datasetId ?? '';
        const prev = byDataset.get(d);
        if (!prev || timeOf(inst) >= timeOf(prev)) {
          if (prev) older.push({ attr, inst: prev });
          byDataset.set(d, inst);
        } else older.push({ attr, inst });
      }
      latest[attr] = [...byDataset.values()];
    }
    await this.withPending(
      async (tx, at) => {
        await appendHistory(
          tx,
          scope.tenant,
          older.map(({ attr, inst }) => this.historyRow(input.id, input.types, attr, inst, at)),
        );
      },
      () => this.entities.create(scope, { ...input, attrs: latest }),
    );
    return true;
  }

  /** POST /temporal/entities/{id}/attrs: appends instances to an entity's history. */
  async appendAttrs(
    scope: WriteScope,
    id: string,
    instances: Record<string, Instance[]>,
  ): Promise<void> {
    const entity = await this.owned(scope, id, 'required');
    await this.appendInstances(scope, entity, instances);
  }

  /** DELETE /temporal/entities/{id}: the entity and its whole history. */
  async deleteEntity(scope: WriteScope, id: string): Promise<void> {
    await this.owned(scope, id, 'required');
    await this.withPending(
      async (tx) => {
        await deleteEntityHistory(tx, scope.tenant, id);
      },
      () => this.entities.delete(scope, id),
    );
  }

  /** DELETE /temporal/entities/{id}/attrs/{attr}: one dataset's instances, or all. */
  async deleteAttr(
    scope: WriteScope,
    id: string,
    attr: string,
    datasetId: string | null,
  ): Promise<void> {
    await this.owned(scope, id, 'required');
    const n = await deleteAttributeHistory(this.db, scope.tenant, id, attr, datasetId);
    if (n === 0) throw notFound(`Attribute ${attr} has no temporal instances`);
  }

  async updateInstance(
    scope: WriteScope,
    id: string,
    attr: string,
    instanceId: string,
    instance: Instance,
  ): Promise<void> {
    await this.owned(scope, id, 'required');
    const now = this.clock.now();
    const found = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ instance: Instance; created_at: Date }>(
        `SELECT instance, created_at FROM ngsi_attribute_history
          WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4
            AND op <> 'delete' FOR UPDATE`,
        [scope.tenant, id, attr, instanceId],
      );
      const old = rows[0];
      if (!old) return false;
      const next: Instance = {
        ...instance,
        createdAt: old.instance.createdAt ?? old.created_at.toISOString(),
        modifiedAt: now.toISOString(),
      };
      if (old.instance.datasetId !== undefined) next.datasetId = old.instance.datasetId;
      else delete next.datasetId;
      return updateInstance(tx, scope.tenant, id, attr, instanceId, next, now);
    });
    if (!found) throw notFound(`Instance ${instanceId} not found`);
  }

  async deleteInstance(
    scope: WriteScope,
    id: string,
    attr: string,
    instanceId: string,
  ): Promise<void> {
    await this.owned(scope, id, 'required');
    if (!(await deleteInstance(this.db, scope.tenant, id, attr, instanceId))) {
      throw notFound(`Instance ${instanceId} not found`);
    }
  }

  // --- helpers ---------------------------------------------------------------------------

  /**
   * Gives each pair the privacy transforms its reader sees it through (the same choice
   * of dataset as the current-state view), so history instances and aggregates are
   * coarsened exactly like /entities; pairs the reader may not read are removed.
   */
  private async applyViews(v: Visibility, tenant: string, pairs: AttrPair[]): Promise<void> {
    if (v.all || pairs.length === 0) return;
    const scope = { org: v.org, purpose: v.purpose ?? null, at: v.at ?? this.clock.now() };
    const views = new Map(
      (await attributeViews(this.db, scope, tenant, pairs)).map((w) => [
        key(w.entityId, w.attr),
        w,
      ]),
    );
    let kept = 0;
    for (const pair of pairs) {
      const w = views.get(key(pair.entityId, pair.attr));
      if (!w) continue;
      pairs[kept++] = { ...pair, grid: w.grid, bucket: w.bucket, k: w.k, group: w.datasetId };
    }
    pairs.length = kept;
  }

  private async withPending<T>(work: Pending, run: () => Promise<T>): Promise<T> {
    return this.pending.run([work], run);
  }

  /**
   * The entity when the caller may change it. Entities others own look absent (404), as
   * on /entities — except for create, where the id is taken ('not-owned').
   */
  private async owned(scope: WriteScope, id: string, mode: 'required'): Promise<StoredEntity>;
  private async owned(
    scope: WriteScope,
    id: string,
    mode: 'maybe',
  ): Promise<StoredEntity | 'not-owned' | null>;
  private async owned(
    scope: WriteScope,
    id: string,
    mode: 'required' | 'maybe',
  ): Promise<StoredEntity | 'not-owned' | null> {
    await this.entities.assertTenant(scope.tenant).catch((error: unknown) => {
      if (mode === 'maybe') return;
      throw error;
    });
    const { rows } = await this.db.query<{
      id: string;
      types: string[];
      scopes: string[] | null;
      attrs: StoredEntity['attrs'];
      created_at: Date;
      modified_at: Date;
      owner_org: string | null;
    }>(
      `SELECT id, types, scopes, attrs, created_at, modified_at, owner_org
         FROM ngsi_entities WHERE tenant = $1 AND id = $2`,
      [scope.tenant, id],
    );
    const r = rows[0];
    const entity: StoredEntity | null = r
      ? {
          id: r.id,
          types: r.types,
          scopes: r.scopes,
          attrs: r.attrs,
          createdAt: r.created_at,
          modifiedAt: r.modified_at,
          ownerOrg: r.owner_org,
        }
      : null;
    if (entity && visibleTo(scope.visibility, entity)) return entity;
    if (mode === 'required') throw notFound(`Entity ${id} not found`);
    return entity ? 'not-owned' : null;
  }

  private async appendInstances(
    scope: WriteScope,
    entity: StoredEntity,
    instances: Record<string, Instance[]>,
  ): Promise<void> {
    const at = this.clock.now();
    const rows = Object.entries(instances).flatMap(([attr, list]) =>
      list.map((inst) => this.historyRow(entity.id, entity.types, attr, inst, at)),
    );
    await this.db.transaction((tx) => appendHistory(tx, scope.tenant, rows));
  }

  private historyRow(
    entityId: string,
    types: string[],
    attr: string,
    inst: Instance,
    at: Date = this.clock.now(),
  ): HistoryRow {
    const now = at.toISOString();
    return {
      entityId,
      attr,
      datasetId: inst.datasetId ?? '',
      instanceId: `urn:ngsi-ld:attribute:instance:${randomUUID()}`,
      op: 'create',
      instance: { ...inst, createdAt: now, modifiedAt: now },
      entityTypes: types,
      observedAt: typeof inst.observedAt === 'string' ? inst.observedAt : null,
      createdAt: now,
      modifiedAt: now,
      deletedAt: null,
    };
  }
}

const timeOf = (inst: Instance) =>
  typeof inst.observedAt === 'string' ? Date.parse(inst.observedAt) : -Infinity;

function groupByEntity<T extends { entity_id: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.entity_id);
    if (list) list.push(r);
    else out.set(r.entity_id, [r]);
  }
  return out;
}
