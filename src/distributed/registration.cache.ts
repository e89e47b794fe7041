/**
 * The registrations each tenant's reads are matched against, read from the database at
 * most once per `ttlMs` instead of on every entity read. A change made through this process
 * is seen at once (the registration service calls `forget` after its commit); one made
 * through another process of the same node within `ttlMs`.
 */
import type { Queryable } from '../platform/db/database.js';
import type { RegistrationRecord } from './registration.model.js';
import { listRegistrations } from './registration.repository.js';

export class RegistrationCache {
  private readonly entries = new Map<
    string,
    { until: number; list: Promise<RegistrationRecord[]> }
  >();

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The tenant's registrations, expired ones included (matching checks expiry). */
  list(tenant: string): Promise<RegistrationRecord[]> {
    const at = this.now();
    const hit = this.entries.get(tenant);
    if (hit && hit.until > at) return hit.list;
    const list = listRegistrations(this.db, tenant, null);
    const entry = { until: at + this.ttlMs, list };
    this.entries.set(tenant, entry);
    // A failed read is not kept: the next read asks again.
    list.catch(() => {
      if (this.entries.get(tenant) === entry) this.entries.delete(tenant);
    });
    return list;
  }

  forget(tenant: string): void {
    this.entries.delete(tenant);
  }
}
