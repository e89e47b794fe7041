/**
 * NGSI-LD entity operations. Every write — single or batch — goes through `mutate`:
 * lock the named entities, apply the operation in memory to each one (so one bad entity
 * fails alone in a batch, and a rejected single request changes nothing), then write the
 * whole result with set-based SQL, the geo index and the history in one transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Database, Queryable } from '../../platform/db/database.js';
import { AppError, alreadyExists, badRequest, notFound } from '../../platform/http/errors.js';
import type { Attrs, EntityInput, Instance, StoredEntity } from './entity.model.js';
import { VALUE_MEMBER } from './entity.model.js';
import { buildEntityWhere, type EntityQuery } from './entity.query.js';
import {
  attributeSummary,
  countEntities,
  selectEntities,
  typeSummary,
  appendHistory,
  deleteEntities,
  ensureTenant,
  insertEntities,
  lockEntities,
  replaceGeo,
  tenantExists,
  updateEntities,
  visibleTo,
  type HistoryRow,
  type Visibility,
} from './entity.repository.js';

export interface WriteScope {
  tenant: string;
  visibility: Visibility;
  /** Stored as owner_org on entities this request creates. */
  ownerOrg: string | null;
}

export const nonexistentTenant = (tenant: string) =>
  new AppError('nonexistent_tenant', `Tenant ${tenant} does not exist`);

/** Result of one entity in a batch. */
export type Outcome =
  { id: string; ok: true; created?: boolean } | { id: string; ok: false; error: AppError };

/** One entity changed by a committed-together write, for listeners in the same transaction. */
export interface EntityChange {
  tenant: string;
  entityId: string;
  kind: 'created' | 'updated' | 'deleted';
  before: StoredEntity | null;
  after: StoredEntity | null;
}

/**
 * Runs inside the write's transaction after the entity rows, geo index and history are
 * written (e.g. to queue notifications in an outbox); throwing rolls the write back.
 */
export type EntityChangeListener = (
  tx: Queryable,
  changes: readonly EntityChange[],
  at: Date,
) => Promise<void>;

export interface AttrUpdateResult {
  updated: string[];
  notUpdated: { attributeName: string; reason: string }[];
}

class WorkingSet {
  readonly changed = new Map<string, StoredEntity>();
  readonly created = new Set<string>();
  readonly deleted = new Map<string, StoredEntity>();
  readonly history: HistoryRow[] = [];

  constructor(
    private readonly existing: Map<string, StoredEntity>,
    private readonly visibility: Visibility,
    readonly now: Date,
  ) {}

  /** The entity as it stands in this transaction, or undefined (absent or not visible). */
  get(id: string): StoredEntity | undefined {
    if (this.deleted.has(id) && !this.changed.has(id)) return undefined;
    const e = this.changed.get(id) ?? this.existing.get(id);
    return e && visibleTo(this.visibility, e) ? e : undefined;
  }

  /** True when the id is taken, whether or not the caller may see it. */
  exists(id: string): boolean {
    if (this.changed.has(id)) return true;
    return this.existing.has(id) && !this.deleted.has(id);
  }

  put(entity: StoredEntity, created: boolean): void {
    if (created && !this.existing.has(entity.id)) this.created.add(entity.id);
    this.changed.set(entity.id, entity);
  }

  remove(entity: StoredEntity): void {
    this.changed.delete(entity.id);
    this.created.delete(entity.id);
    this.deleted.set(entity.id, entity);
    for (const [attr, instances] of Object.entries(entity.attrs)) {
      for (const inst of instances) this.recordDelete(entity, attr, inst);
    }
  }

  recordWrite(entity: StoredEntity, attr: string, inst: Instance, op: 'create' | 'update'): void {
    this.history.push({
      entityId: entity.id,
      attr,
      datasetId: inst.datasetId ?? '',
      instanceId: `urn:ngsi-ld:attribute:instance:${randomUUID()}`,
      op,
      instance: inst,
      entityTypes: entity.types,
      observedAt: typeof inst.observedAt === 'string' ? inst.observedAt : null,
      createdAt: String(inst.createdAt ?? this.now.toISOString()),
      modifiedAt: this.now.toISOString(),
      deletedAt: null,
    });
  }

  recordDelete(entity: StoredEntity, attr: string, inst: Instance): void {
    this.history.push({
      entityId: entity.id,
      attr,
      datasetId: inst.datasetId ?? '',
      instanceId: `urn:ngsi-ld:attribute:instance:${randomUUID()}`,
      op: 'delete',
      instance: null,
      entityTypes: entity.types,
      observedAt: null,
      createdAt: String(inst.createdAt ?? this.now.toISOString()),
      modifiedAt: this.now.toISOString(),
      deletedAt: this.now.toISOString(),
    });
  }
}

// --- pure helpers on the stored form ----------------------------------------------------

function stamp(inst: Instance, previous: Instance | undefined, now: string): Instance {
  const out: Instance = { ...inst, createdAt: previous?.createdAt ?? now, modifiedAt: now };
  for (const [name, value] of Object.entries(out)) {
    if (
      Array.isArray(value) &&
      name.includes(':') &&
      value.every((v) => v && typeof v === 'object' && 'type' in v)
    ) {
      out[name] = (value as Instance[]).map((s) => ({ ...s, createdAt: now, modifiedAt: now }));
    }
  }
  return out;
}

const sameDataset = (a: Instance, b: Instance) => (a.datasetId ?? '') === (b.datasetId ?? '');

/** Merges a patch instance into an existing one (merge-patch / partial update). */
function mergeInstance(old: Instance, patch: Instance): Instance {
  const out: Instance = { ...old };
  if (patch.type !== old.type) {
    delete out[VALUE_MEMBER[old.type]];
    out.type = patch.type;
  }
  for (const [k, v] of Object.entries(patch)) out[k] = v;
  return out;
}

function cloneEntity(e: StoredEntity): StoredEntity {
  return {
    ...e,
    attrs: { ...e.attrs },
    types: [...e.types],
    scopes: e.scopes ? [...e.scopes] : null,
  };
}

export class EntityService {
  private readonly listeners: EntityChangeListener[] = [];

  /** Registers a listener called in every write transaction with what changed. */
  onChange(listener: EntityChangeListener): void {
    this.listeners.push(listener);
  }

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  // --- reads (scoped by visibility in SQL) ------------------------------------------------

  /** One page of matching entities, and the total when asked for. */
  async query(
    query: EntityQuery,
    page: { limit: number; offset: number; count: boolean },
  ): Promise<{ entities: StoredEntity[]; total: number | null }> {
    await this.assertTenant(query.tenant);
    const sql = buildEntityWhere(query);
    const [entities, total] = await Promise.all([
      page.limit > 0 ? selectEntities(this.db, sql, page.limit, page.offset) : Promise.resolve([]),
      page.count ? countEntities(this.db, sql) : Promise.resolve(null),
    ]);
    if (!query.visibility.all) query.visibility.onRead?.(query.tenant, entities);
    return { entities, total };
  }

  /** The entity, or null when it does not exist or the caller may not see it. */
  async retrieve(
    query: Omit<EntityQuery, 'selectors' | 'ids'>,
    id: string,
  ): Promise<StoredEntity | null> {
    const { entities } = await this.query(
      { ...query, selectors: [], ids: [id] },
      { limit: 1, offset: 0, count: false },
    );
    return entities[0] ?? null;
  }

  async types(tenant: string, visibility: Visibility, type: string | null) {
    await this.assertTenant(tenant);
    return typeSummary(this.db, tenant, visibility, type);
  }

  async attributes(
    tenant: string,
    visibility: Visibility,
    attr: string | null,
    type: string | null = null,
  ) {
    await this.assertTenant(tenant);
    return attributeSummary(this.db, tenant, visibility, attr, type);
  }

  async assertTenant(tenant: string): Promise<void> {
    if (!(await tenantExists(this.db, tenant))) throw nonexistentTenant(tenant);
  }

  /** Runs `apply` over the locked entities and writes the result, all in one transaction. */
  private async mutate<T>(
    scope: WriteScope,
    ids: readonly string[],
    options: { createsTenant: boolean },
    apply: (w: WorkingSet) => T,
  ): Promise<T> {
    // Two writers creating the same new id race past the row lock; the loser retries and
    // then sees the row (AlreadyExists for create, an update for upsert).
    for (let attempt = 1; ; attempt++) {
      const now = this.clock.now();
      try {
        return await this.db.transaction(async (tx) => {
          if (options.createsTenant) await ensureTenant(tx, scope.tenant, now);
          else if (!(await tenantExists(tx, scope.tenant))) throw nonexistentTenant(scope.tenant);
          const existing = await lockEntities(tx, scope.tenant, [...new Set(ids)]);
          const w = new WorkingSet(existing, scope.visibility, now);
          const result = apply(w);
          await this.write(tx, scope.tenant, existing, w);
          return result;
        });
      } catch (error) {
        // 23505: lost a create race; 40P01: deadlock victim. Both are safe to run again.
        const code = (error as { code?: string }).code;
        if (code !== '23505' && code !== '40P01') throw error;
        if (attempt >= 3) {
          if (code === '23505')
            throw alreadyExists('An entity with this id was created concurrently');
          throw error;
        }
      }
    }
  }

  private async write(
    tx: Queryable,
    tenant: string,
    existing: Map<string, StoredEntity>,
    w: WorkingSet,
  ) {
    const deletes = [...w.deleted.keys()].filter((id) => existing.has(id));
    // An entity deleted and re-created in one batch is an update of the stored row.
    const inserts: StoredEntity[] = [];
    const updates: StoredEntity[] = [];
    for (const e of w.changed.values()) {
      if (existing.has(e.id)) updates.push(e);
      else inserts.push(e);
    }
    const reallyDeleted = deletes.filter((id) => !w.changed.has(id));
    // One lock order for every writer (ids sorted), so concurrent batches do not deadlock.
    const byId = (a: StoredEntity, b: StoredEntity) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    inserts.sort(byId);
    updates.sort(byId);
    await deleteEntities(tx, tenant, reallyDeleted);
    await insertEntities(tx, tenant, inserts);
    await updateEntities(tx, tenant, updates);
    await replaceGeo(tx, tenant, [...inserts, ...updates]);
    await appendHistory(tx, tenant, w.history);
    if (this.listeners.length === 0) return;
    const changes: EntityChange[] = [
      ...reallyDeleted.map((id) => ({
        tenant,
        entityId: id,
        kind: 'deleted' as const,
        before: existing.get(id) ?? null,
        after: null,
      })),
      ...inserts.map((e) => ({
        tenant,
        entityId: e.id,
        kind: 'created' as const,
        before: null,
        after: e,
      })),
      ...updates.map((e) => ({
        tenant,
        entityId: e.id,
        kind: 'updated' as const,
        before: existing.get(e.id) ?? null,
        after: e,
      })),
    ];
    for (const listener of this.listeners) await listener(tx, changes, w.now);
  }

  // --- building blocks applied inside mutate -------------------------------------------

  private createIn(w: WorkingSet, scope: WriteScope, input: EntityInput): StoredEntity {
    const id = input.id!;
    if (w.exists(id)) throw alreadyExists(`Entity ${id} already exists`);
    if (!input.types) throw badRequest('An entity requires a type');
    const now = w.now.toISOString();
    const entity: StoredEntity = {
      id,
      types: input.types,
      scopes: input.scopes ?? null,
      attrs: {},
      createdAt: w.now,
      modifiedAt: w.now,
      ownerOrg: scope.ownerOrg,
    };
    for (const [attr, instances] of Object.entries(input.attrs)) {
      entity.attrs[attr] = instances.map((i) => stamp(i, undefined, now));
      for (const inst of entity.attrs[attr]!) w.recordWrite(entity, attr, inst, 'create');
    }
    w.put(entity, true);
    return entity;
  }

  private requireIn(w: WorkingSet, id: string): StoredEntity {
    const e = w.get(id);
    if (!e) throw notFound(`Entity ${id} was not found`);
    return e;
  }

  /**
   * Adds attributes (instances per datasetId). overwrite=false leaves existing instances
   * alone and reports them as not updated.
   */
  private appendIn(
    w: WorkingSet,
    entity: StoredEntity,
    input: EntityInput,
    mode: 'append' | 'appendNoOverwrite' | 'updateExisting' | 'merge',
  ): AttrUpdateResult {
    const e = cloneEntity(entity);
    const now = w.now.toISOString();
    const result: AttrUpdateResult = { updated: [], notUpdated: [] };
    if (input.types) e.types = [...new Set([...e.types, ...input.types])];
    if (input.scopes !== undefined) {
      e.scopes =
        mode === 'merge' || mode === 'updateExisting'
          ? input.scopes
          : [...new Set([...(e.scopes ?? []), ...(input.scopes ?? [])])];
    }
    for (const attr of input.removals) {
      const old = e.attrs[attr];
      if (old) {
        for (const inst of old) w.recordDelete(e, attr, inst);
        delete e.attrs[attr];
        result.updated.push(attr);
      }
    }
    for (const [attr, instances] of Object.entries(input.attrs)) {
      const current = [...(e.attrs[attr] ?? [])];
      let changed = false;
      for (const inst of instances) {
        const idx = current.findIndex((c) => sameDataset(c, inst));
        const old = idx >= 0 ? current[idx] : undefined;
        if (old && mode === 'appendNoOverwrite') {
          result.notUpdated.push({
            attributeName: attr,
            reason: 'attribute exists and noOverwrite was requested',
          });
          continue;
        }
        if (!old && mode === 'updateExisting') {
          result.notUpdated.push({
            attributeName: attr,
            reason: 'attribute (or this datasetId) does not exist',
          });
          continue;
        }
        const next = stamp(mode === 'merge' && old ? mergeInstance(old, inst) : inst, old, now);
        if (idx >= 0) current[idx] = next;
        else current.push(next);
        w.recordWrite(e, attr, next, old ? 'update' : 'create');
        changed = true;
      }
      if (changed) {
        e.attrs[attr] = current;
        result.updated.push(attr);
      }
    }
    e.modifiedAt = w.now;
    w.put(e, false);
    return result;
  }

  private replaceIn(w: WorkingSet, entity: StoredEntity, input: EntityInput): void {
    const e = cloneEntity(entity);
    const now = w.now.toISOString();
    for (const [attr, instances] of Object.entries(e.attrs)) {
      if (!(attr in input.attrs)) for (const inst of instances) w.recordDelete(e, attr, inst);
    }
    if (input.types) e.types = input.types;
    e.scopes = input.scopes ?? null;
    e.attrs = {};
    for (const [attr, instances] of Object.entries(input.attrs)) {
      e.attrs[attr] = instances.map((i) => {
        const old = entity.attrs[attr]?.find((o) => sameDataset(o, i));
        const next = stamp(i, old, now);
        w.recordWrite(e, attr, next, old ? 'update' : 'create');
        return next;
      });
    }
    e.modifiedAt = w.now;
    w.put(e, false);
  }

  // --- single-entity operations ---------------------------------------------------------

  async create(scope: WriteScope, input: EntityInput): Promise<void> {
    await this.mutate(scope, [input.id!], { createsTenant: true }, (w) => {
      this.createIn(w, scope, input);
    });
  }

  async delete(scope: WriteScope, id: string): Promise<void> {
    await this.mutate(scope, [id], { createsTenant: false }, (w) =>
      w.remove(this.requireIn(w, id)),
    );
  }

  async replace(scope: WriteScope, id: string, input: EntityInput): Promise<void> {
    await this.mutate(scope, [id], { createsTenant: false }, (w) =>
      this.replaceIn(w, this.requireIn(w, id), input),
    );
  }

  async merge(scope: WriteScope, id: string, input: EntityInput): Promise<void> {
    await this.mutate(scope, [id], { createsTenant: false }, (w) => {
      this.appendIn(w, this.requireIn(w, id), input, 'merge');
    });
  }

  async appendAttrs(
    scope: WriteScope,
    id: string,
    input: EntityInput,
    noOverwrite: boolean,
  ): Promise<AttrUpdateResult> {
    return this.mutate(scope, [id], { createsTenant: false }, (w) =>
      this.appendIn(w, this.requireIn(w, id), input, noOverwrite ? 'appendNoOverwrite' : 'append'),
    );
  }

  async updateAttrs(scope: WriteScope, id: string, input: EntityInput): Promise<AttrUpdateResult> {
    return this.mutate(scope, [id], { createsTenant: false }, (w) =>
      this.appendIn(w, this.requireIn(w, id), { ...input, types: undefined }, 'updateExisting'),
    );
  }

  /** PATCH /attrs/{attr}: partial update of one instance; PUT: replacement. */
  async writeAttr(
    scope: WriteScope,
    id: string,
    attr: string,
    inst: Instance,
    mode: 'patch' | 'replace',
  ): Promise<void> {
    await this.mutate(scope, [id], { createsTenant: false }, (w) => {
      const entity = this.requireIn(w, id);
      const current = entity.attrs[attr];
      const old = current?.find((c) => sameDataset(c, inst));
      if (!current || !old) throw notFound(`Attribute ${attr} (with this datasetId) was not found`);
      this.appendIn(
        w,
        entity,
        { attrs: { [attr]: [mode === 'patch' ? mergeInstance(old, inst) : inst] }, removals: [] },
        'append',
      );
    });
  }

  async deleteAttr(
    scope: WriteScope,
    id: string,
    attr: string,
    datasetId: string | undefined,
    deleteAll: boolean,
  ): Promise<void> {
    await this.mutate(scope, [id], { createsTenant: false }, (w) => {
      const entity = this.requireIn(w, id);
      const current = entity.attrs[attr];
      const doomed = (current ?? []).filter(
        (i) => deleteAll || (i.datasetId ?? '') === (datasetId ?? ''),
      );
      if (doomed.length === 0)
        throw notFound(`Attribute ${attr} (with this datasetId) was not found`);
      const e = cloneEntity(entity);
      const rest = current!.filter((i) => !doomed.includes(i));
      if (rest.length === 0) delete e.attrs[attr];
      else e.attrs[attr] = rest;
      for (const inst of doomed) w.recordDelete(e, attr, inst);
      e.modifiedAt = w.now;
      w.put(e, false);
    });
  }

  // --- batch operations -----------------------------------------------------------------

  /**
   * Applies `op` to each entity of a batch inside one transaction. A failure of one entity
   * (an AppError) is reported for that entity and leaves its part unchanged.
   */
  private async batch(
    scope: WriteScope,
    ids: readonly string[],
    createsTenant: boolean,
    each: (w: WorkingSet, index: number) => boolean | void,
  ): Promise<Outcome[]> {
    return this.mutate(scope, ids, { createsTenant }, (w) =>
      ids.map((id, index): Outcome => {
        // Each operation touches only its own entity, so undoing a failure restores that id.
        const snapshot = {
          changed: w.changed.get(id),
          created: w.created.has(id),
          deleted: w.deleted.get(id),
          history: w.history.length,
        };
        try {
          const created = each(w, index);
          return { id, ok: true, created: created === true };
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          if (snapshot.changed) w.changed.set(id, snapshot.changed);
          else w.changed.delete(id);
          if (snapshot.created) w.created.add(id);
          else w.created.delete(id);
          if (snapshot.deleted) w.deleted.set(id, snapshot.deleted);
          else w.deleted.delete(id);
          w.history.length = snapshot.history;
          return { id, ok: false, error };
        }
      }),
    );
  }

  async batchCreate(scope: WriteScope, inputs: EntityInput[]): Promise<Outcome[]> {
    return this.batch(
      scope,
      inputs.map((i) => i.id!),
      true,
      (w, i) => {
        this.createIn(w, scope, inputs[i]!);
        return true;
      },
    );
  }

  async batchUpsert(
    scope: WriteScope,
    inputs: EntityInput[],
    mode: 'replace' | 'update',
  ): Promise<Outcome[]> {
    return this.batch(
      scope,
      inputs.map((i) => i.id!),
      true,
      (w, i) => {
        const input = inputs[i]!;
        const current = w.get(input.id!);
        if (!current) {
          this.createIn(w, scope, input);
          return true;
        }
        if (mode === 'replace') this.replaceIn(w, current, input);
        else this.appendIn(w, current, input, 'append');
        return false;
      },
    );
  }

  async batchUpdate(
    scope: WriteScope,
    inputs: EntityInput[],
    noOverwrite: boolean,
  ): Promise<Outcome[]> {
    return this.batch(
      scope,
      inputs.map((i) => i.id!),
      false,
      (w, i) => {
        const input = inputs[i]!;
        const r = this.appendIn(
          w,
          this.requireIn(w, input.id!),
          input,
          noOverwrite ? 'appendNoOverwrite' : 'append',
        );
        if (r.notUpdated.length > 0 && r.updated.length === 0 && !noOverwrite) {
          throw badRequest('No attribute was updated');
        }
      },
    );
  }

  async batchMerge(scope: WriteScope, inputs: EntityInput[]): Promise<Outcome[]> {
    return this.batch(
      scope,
      inputs.map((i) => i.id!),
      false,
      (w, i) => {
        this.appendIn(w, this.requireIn(w, inputs[i]!.id!), inputs[i]!, 'merge');
      },
    );
  }

  async batchDelete(scope: WriteScope, ids: string[]): Promise<Outcome[]> {
    return this.batch(scope, ids, false, (w, i) => {
      w.remove(this.requireIn(w, ids[i]!));
    });
  }
}

export type { Attrs };
