/**
 * Subscription rules: who may see and change which subscription, how a client's
 * document becomes the stored, expanded form, and — inside every entity write
 * transaction — which subscriptions the change notifies (queued in the outbox, so the
 * change and its notifications commit together).
 */
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import { hasRole, type Actor } from '../platform/http/access.js';
import { alreadyExists, badRequest, notFound } from '../platform/http/errors.js';
import type { EntityChange } from '../context/entities/entity.service.js';
import type { Instance } from '../context/entities/entity.model.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import {
  compileGeoQuery,
  compileQ,
  compileScopeQ,
  parameterList,
  parseGeoQuery,
  parseQ,
  parseScopeQ,
} from '../context/query/index.js';
import {
  DEFAULT_TRIGGERS,
  mergeFragment,
  parseSubscription,
  selectorRows,
  stripReadOnly,
  type SubscriptionDoc,
} from './subscription.model.js';
import {
  deleteSubscription,
  enqueue,
  findSubscription,
  insertSubscription,
  listSubscriptions,
  matchChanges,
  matchingPairs,
  updateSubscription,
  type ChangeRow,
  type MatchRow,
  type OutboxEntity,
  type Ownership,
  type SubscriptionRecord,
  type SubscriptionWrite,
} from './subscription.repository.js';

export function ownershipOf(actor: Actor): Ownership {
  if (hasRole(actor, 'admin')) return { all: true };
  return { all: false, org: actor.organisationId, actorId: actor.id };
}

/** Who called and on whose behalf notifications will be computed. */
export interface Caller {
  tenant: string;
  actor: Actor;
  purpose: string | null;
}

type Expand = (term: string) => string;

/** Compiles a subscription's filters over `ctx` (shared by validation and matching). */
function compileFilters(
  f: { q: string | null; scopeQ: string | null; geoQ: MatchRow['geo_q'] },
  ctx: ReturnType<typeof parameterList>,
): string[] {
  const parts: string[] = [];
  if (f.q !== null) parts.push(`(${compileQ(parseQ(f.q), ctx)})`);
  if (f.scopeQ !== null) parts.push(`(${compileScopeQ(parseScopeQ(f.scopeQ), ctx)})`);
  if (f.geoQ !== null) {
    const geo = parseGeoQuery({ ...f.geoQ, coordinates: f.geoQ.coordinates });
    if (geo) parts.push(`(${compileGeoQuery(geo, ctx)})`);
  }
  return parts;
}

/** SQLSTATE class 22 (data exception, e.g. 2201B invalid regular expression). */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('22');
}

const sameInstances = (a: Instance[] | undefined, b: Instance[] | undefined) =>
  JSON.stringify(a) === JSON.stringify(b);

/** What changed in one entity, in the matcher's terms. */
export function describeChange(change: EntityChange): ChangeRow {
  const before = change.before?.attrs ?? {};
  const after = change.after?.attrs ?? {};
  const created: string[] = [];
  const updated: string[] = [];
  const deleted: string[] = [];
  if (change.kind !== 'deleted') {
    for (const name of Object.keys(after)) {
      if (!(name in before)) created.push(name);
      else if (!sameInstances(before[name], after[name])) updated.push(name);
    }
    for (const name of Object.keys(before)) if (!(name in after)) deleted.push(name);
  }
  const entity = change.after ?? change.before!;
  return {
    id: change.entityId,
    kind: change.kind,
    types: entity.types,
    present: Object.keys(entity.attrs),
    created,
    updated,
    deleted,
  };
}

export class SubscriptionService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly resolver: ContextResolver,
  ) {}

  /** Expands the document's terms with its @context and records every term it used. */
  private async prepare(
    caller: Caller,
    doc: SubscriptionDoc,
    context: RequestContext | undefined,
  ): Promise<SubscriptionWrite> {
    const map = await this.resolver.resolve(context);
    const terms: Record<string, string> = {};
    const expand: Expand = (term) => (terms[term] = map.expand(term));
    const selectors = selectorRows(doc.entities ?? [], expand);
    const watchedAttrs = doc.watchedAttributes ? doc.watchedAttributes.map(expand) : null;
    // Compiled once now, with the recording expand, so matching can compile it again
    // later from `terms` alone — and so a filter that cannot compile is refused here.
    compileFilters(
      { q: doc.q ?? null, scopeQ: doc.scopeQ ?? null, geoQ: doc.geoQ ?? null },
      parameterList('e', expand),
    );
    return {
      tenant: caller.tenant,
      doc,
      context,
      terms,
      watchedAttrs,
      triggers: [...(doc.notificationTrigger ?? DEFAULT_TRIGGERS)],
      selectors,
      actor: caller.actor,
      purpose: caller.purpose,
      at: this.clock.now(),
    };
  }

  async create(
    caller: Caller,
    body: unknown,
    context: RequestContext | undefined,
  ): Promise<string> {
    const doc = parseSubscription(stripReadOnly(body), this.clock.now());
    const write = await this.prepare(caller, doc, context);
    await this.checkPatterns(write);
    const inserted = await this.db.transaction((tx) => insertSubscription(tx, write));
    if (!inserted) throw alreadyExists(`Subscription ${doc.id} already exists`);
    return doc.id;
  }

  /**
   * idPatterns are matched by PostgreSQL inside every entity write: one it cannot
   * compile (JavaScript and POSIX regular expressions differ) is refused here.
   */
  private async checkPatterns(write: SubscriptionWrite): Promise<void> {
    for (const s of write.selectors) {
      if (s.idPattern === null) continue;
      try {
        await this.db.query("SELECT '' ~ $1", [s.idPattern]);
      } catch (error) {
        if (!isDataError(error)) throw error;
        throw badRequest(`idPattern ${s.idPattern} is not a valid regular expression here`, [
          { path: '/entities', message: 'invalid idPattern' },
        ]);
      }
    }
  }

  async get(caller: Caller, id: string): Promise<SubscriptionRecord> {
    const found = await findSubscription(this.db, caller.tenant, id, ownershipOf(caller.actor));
    if (!found) throw notFound(`Subscription ${id} not found`);
    return found;
  }

  list(caller: Caller, page: { limit: number; offset: number; count: boolean }) {
    return listSubscriptions(this.db, caller.tenant, ownershipOf(caller.actor), page);
  }

  /**
   * Applies a fragment. The subscription keeps its creator (whose visibility governs
   * its notifications) and the @context it was created with, unless the fragment
   * brings a new one.
   */
  async update(
    caller: Caller,
    id: string,
    fragment: unknown,
    context: RequestContext | undefined,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const stored = await findSubscription(tx, caller.tenant, id, ownershipOf(caller.actor), {
        lock: true,
      });
      if (!stored) throw notFound(`Subscription ${id} not found`);
      const merged = mergeFragment(stored.doc, fragment);
      // expiresAt unchanged by the fragment is not checked against the clock again.
      const now =
        (fragment as Record<string, unknown>).expiresAt === undefined && stored.doc.expiresAt
          ? new Date(0)
          : this.clock.now();
      const doc = parseSubscription(merged, now);
      const write = await this.prepare(
        { tenant: caller.tenant, actor: stored.actor, purpose: stored.purpose },
        doc,
        context ?? (stored.context as RequestContext | undefined) ?? undefined,
      );
      await this.checkPatterns(write);
      await updateSubscription(tx, write);
    });
  }

  async delete(caller: Caller, id: string): Promise<void> {
    if (!(await deleteSubscription(this.db, caller.tenant, id, ownershipOf(caller.actor)))) {
      throw notFound(`Subscription ${id} not found`);
    }
  }

  /**
   * The entity-change listener: decides with SQL, in the write's transaction, which
   * subscriptions the changes notify, and queues one outbox row per subscription.
   */
  readonly onChange = async (
    tx: Queryable,
    changes: readonly EntityChange[],
    at: Date,
  ): Promise<void> => {
    const byTenant = new Map<string, EntityChange[]>();
    for (const c of changes) {
      const list = byTenant.get(c.tenant) ?? [];
      list.push(c);
      byTenant.set(c.tenant, list);
    }
    for (const [tenant, list] of byTenant) await this.queue(tx, tenant, list, at);
  };

  private async queue(
    tx: Queryable,
    tenant: string,
    changes: EntityChange[],
    at: Date,
  ): Promise<void> {
    const rows = changes.map(describeChange);
    let matches = await matchChanges(tx, tenant, rows, at);
    if (matches.length === 0) return;
    matches = await this.applyFilters(tx, tenant, matches);
    if (matches.length === 0) return;
    const byId = new Map(changes.map((c) => [c.entityId, c]));
    const described = new Map(rows.map((r) => [r.id, r]));
    const items = new Map<string, OutboxEntity[]>();
    for (const m of matches) {
      const change = byId.get(m.entity_id)!;
      const entry: OutboxEntity = { id: m.entity_id, kind: m.kind, reason: m.reason };
      if (m.kind === 'deleted' && change.before) {
        entry.before = { types: change.before.types, ownerOrg: change.before.ownerOrg };
      }
      if (m.show_changes && change.before && change.after) {
        const d = described.get(m.entity_id)!;
        const previous: Record<string, unknown[]> = {};
        for (const name of [...d.updated, ...d.deleted]) {
          previous[name] = change.before.attrs[name] ?? [];
        }
        entry.previous = previous;
      }
      const list = items.get(m.subscription_id) ?? [];
      list.push(entry);
      items.set(m.subscription_id, list);
    }
    await enqueue(
      tx,
      tenant,
      [...items].map(([subscriptionId, entities]) => ({ subscriptionId, entities })),
      at,
    );
  }

  /**
   * Keeps the pairs whose subscription has no q/scopeQ/geoQ, and those whose entity (as
   * it stands in this transaction) passes them: one UNION ALL statement for all.
   * Deleted entities have no row left to test; their pairs are kept.
   */
  private async applyFilters(
    tx: Queryable,
    tenant: string,
    matches: MatchRow[],
  ): Promise<MatchRow[]> {
    const filtered = new Map<string, { match: MatchRow; ids: string[] }>();
    for (const m of matches) {
      if (m.kind === 'deleted' || (m.q === null && m.scope_q === null && m.geo_q === null))
        continue;
      const entry = filtered.get(m.subscription_id) ?? { match: m, ids: [] };
      entry.ids.push(m.entity_id);
      filtered.set(m.subscription_id, entry);
    }
    if (filtered.size === 0) return matches;
    // Each subscription's branch is also built on its own, for the fallback below.
    const build = (entries: [string, { match: MatchRow; ids: string[] }][]) => {
      const params: unknown[] = [tenant];
      const branches = entries.map(([subscriptionId, { match, ids }]) => {
        const ctx = parameterList('e', (term) => match.terms[term] ?? term, params);
        const conditions = compileFilters(
          { q: match.q, scopeQ: match.scope_q, geoQ: match.geo_q },
          ctx,
        );
        return `SELECT ${ctx.param(subscriptionId)}::text AS subscription_id, e.id AS entity_id
           FROM ngsi_entities e
          WHERE e.tenant = $1 AND e.id = ANY(${ctx.param(ids)}::text[]) AND ${conditions.join(' AND ')}`;
      });
      return { sql: branches.join('\nUNION ALL\n'), params };
    };
    const all = build([...filtered]);
    let passed: { subscription_id: string; entity_id: string }[];
    // A filter can still fail on some value (a q regular expression PostgreSQL refuses):
    // that must never fail the write. Then each subscription is tried on its own and
    // the failing ones notify nothing for this change.
    await tx.query('SAVEPOINT ocp_subscription_filters');
    try {
      passed = await matchingPairs(tx, all.sql, all.params);
      await tx.query('RELEASE SAVEPOINT ocp_subscription_filters');
    } catch (error) {
      if (!isDataError(error)) throw error;
      await tx.query('ROLLBACK TO SAVEPOINT ocp_subscription_filters');
      passed = [];
      for (const entry of filtered) {
        const one = build([entry]);
        await tx.query('SAVEPOINT ocp_subscription_filter');
        try {
          passed.push(...(await matchingPairs(tx, one.sql, one.params)));
          await tx.query('RELEASE SAVEPOINT ocp_subscription_filter');
        } catch (inner) {
          if (!isDataError(inner)) throw inner;
          await tx.query('ROLLBACK TO SAVEPOINT ocp_subscription_filter');
        }
      }
    }
    const keep = new Set(passed.map((p) => `${p.subscription_id}\u0000${p.entity_id}`));
    return matches.filter(
      (m) =>
        !filtered.has(m.subscription_id) ||
        m.kind === 'deleted' ||
        keep.has(`${m.subscription_id}\u0000${m.entity_id}`),
    );
  }
}
