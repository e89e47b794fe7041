/** Context source registrations: create, read, list, merge-patch, delete (clause 5.9). */
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import { alreadyExists, badRequest, conflict, notFound } from '../platform/http/errors.js';
import type { GuardedFetcher } from '../platform/http/guarded-fetch.js';
import { GuardedFetchError } from '../platform/http/guarded-fetch.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import {
  exclusiveClaims,
  parseRegistration,
  type ParsedRegistration,
  type RegistrationRecord,
} from './registration.model.js';
import { matchRegistration, type RequestSelector } from './registration.match.js';
import {
  deleteRegistration,
  getRegistration,
  insertRegistration,
  listRegistrations,
  lockRegistrations,
  updateRegistration,
} from './registration.repository.js';
import type { Queryable } from '../platform/db/database.js';

/**
 * Told of every registration change inside its transaction (`before` null: created;
 * `after` null: deleted), e.g. to queue context source notifications with it.
 */
export type RegistrationListener = (
  tx: Queryable,
  tenant: string,
  before: RegistrationRecord | null,
  after: RegistrationRecord | null,
) => Promise<void>;

export class RegistrationService {
  private readonly listeners: RegistrationListener[] = [];

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly resolver: ContextResolver,
    private readonly fetcher: GuardedFetcher,
  ) {}

  onChange(listener: RegistrationListener): void {
    this.listeners.push(listener);
  }

  /** Called with the tenant once a change of its registrations has committed. */
  onCommitted(listener: (tenant: string) => void): void {
    this.committed.push(listener);
  }

  private readonly committed: ((tenant: string) => void)[] = [];

  private afterCommit(tenant: string): void {
    for (const listener of this.committed) listener(tenant);
  }

  private async changed(
    tx: Queryable,
    tenant: string,
    before: RegistrationRecord | null,
    after: RegistrationRecord | null,
  ): Promise<void> {
    for (const listener of this.listeners) await listener(tx, tenant, before, after);
  }

  private async parse(
    body: unknown,
    context: RequestContext | undefined,
    id?: string,
  ): Promise<ParsedRegistration> {
    const map = await this.resolver.resolve(context);
    const parsed = parseRegistration(body, map, this.clock.now(), { id });
    // The endpoint must pass the same host rules as every fetch the node makes.
    await this.fetcher.check(parsed.endpoint, ['http:', 'https:']).catch((error: unknown) => {
      if (error instanceof GuardedFetchError && error.reason !== 'network') {
        throw badRequest(`The endpoint is not allowed: ${error.message}`);
      }
    });
    return parsed;
  }

  /** Exclusive registrations may not claim an attribute of an entity another one claims. */
  private async assertNoConflict(tx: Queryable, tenant: string, r: ParsedRegistration) {
    await lockRegistrations(tx);
    const others = (await listRegistrations(tx, tenant, this.clock.now())).filter(
      (o) => o.id !== r.id && o.mode === 'exclusive',
    );
    if (r.mode !== 'exclusive') {
      return;
    }
    const mine = new Set(exclusiveClaims(r.information).map(([id, a]) => `${id} ${a}`));
    for (const other of others) {
      for (const [id, attr] of exclusiveClaims(other.information)) {
        if (mine.has(`${id} ${attr}`)) {
          throw conflict(`The exclusive registration ${other.id} already covers ${attr} of ${id}`);
        }
      }
    }
  }

  async create(
    tenant: string,
    body: unknown,
    context: RequestContext | undefined,
  ): Promise<string> {
    const parsed = await this.parse(body, context);
    const id = await this.db.transaction(async (tx) => {
      await this.assertNoConflict(tx, tenant, parsed);
      if (!(await insertRegistration(tx, tenant, parsed, context, this.clock.now()))) {
        throw alreadyExists(`A registration with id ${parsed.id} already exists`);
      }
      await this.changed(tx, tenant, null, await getRegistration(tx, tenant, parsed.id));
      return parsed.id;
    });
    this.afterCommit(tenant);
    return id;
  }

  async get(tenant: string, id: string): Promise<RegistrationRecord> {
    const found = await getRegistration(this.db, tenant, id);
    if (!found) throw notFound(`Registration ${id} was not found`);
    return found;
  }

  async list(
    tenant: string,
    selector: RequestSelector | null,
    page: { limit: number; offset: number },
  ): Promise<{ items: RegistrationRecord[]; total: number }> {
    const now = this.clock.now();
    const all = await listRegistrations(this.db, tenant, now);
    const matching = selector
      ? all.filter((r) => r.information.length > 0 && matchAny(r, selector, now))
      : all;
    return {
      items: matching.slice(page.offset, page.offset + page.limit),
      total: matching.length,
    };
  }

  /** PATCH (clause 5.9.3): members given replace the stored ones; null removes one. */
  async update(
    tenant: string,
    id: string,
    fragment: unknown,
    context: RequestContext | undefined,
  ): Promise<void> {
    if (typeof fragment !== 'object' || fragment === null || Array.isArray(fragment)) {
      throw badRequest('The body must be a JSON object');
    }
    if (Object.keys(fragment).length === 0) throw badRequest('Nothing to update');
    await this.db.transaction(async (tx) => {
      const stored = await getRegistration(tx, tenant, id, true);
      if (!stored) throw notFound(`Registration ${id} was not found`);
      const merged: Record<string, unknown> = { ...stored.doc };
      for (const [key, value] of Object.entries(fragment)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      // Terms of the patch are read with its own @context; stored ones with theirs. Both are
      // expanded into `information`, so the stored context is kept unless the patch brings one.
      const ctx = context ?? (stored.context as RequestContext | undefined) ?? undefined;
      const parsed = await this.parse(merged, ctx, id);
      await this.assertNoConflict(tx, tenant, parsed);
      await updateRegistration(tx, tenant, parsed, ctx, this.clock.now());
      await this.changed(tx, tenant, stored, await getRegistration(tx, tenant, id));
    });
    this.afterCommit(tenant);
  }

  async delete(tenant: string, id: string): Promise<void> {
    const gone = await this.db.transaction(async (tx) => {
      const record = await deleteRegistration(tx, tenant, id);
      if (record) await this.changed(tx, tenant, record, null);
      return record;
    });
    if (!gone) throw notFound(`Registration ${id} was not found`);
    this.afterCommit(tenant);
  }
}

function matchAny(r: RegistrationRecord, selector: RequestSelector, now: Date): boolean {
  // Listing filters by information only, whatever the operations.
  return matchRegistration({ ...r, operations: ['list'] }, 'list', selector, now) !== null;
}
