/**
 * Rules of the registers: who may write which entry, what a valid entry is beyond its
 * schema (DTPR element ids in the right category), and the ledger event that commits
 * with every change. Stewards write entries of their own organisation; admins any.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ledgerPersonHash, recordLedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import { hasRole, type Actor } from '../platform/http/access.js';
import { facetCategories, unknownElements } from './dtpr.js';
import {
  registerRepository as repo,
  type RegisterKind,
  type RegisterRecord,
} from './register.repository.js';
import type { AlgorithmInput, TechnologyInput } from './register.schemas.js';

export type WriteResult =
  | { ok: true; record: RegisterRecord }
  | { ok: false; reason: 'not_found' | 'forbidden' | 'no_organisation' }
  | { ok: false; reason: 'invalid'; errors: { path: string; message: string }[] };

const PREFIX: Record<RegisterKind, string> = { technology: 'tec', algorithm: 'alg' };
export const ALGORITHM_STANDARD_VERSION = '0.3.1';

function newEntryId(kind: RegisterKind): string {
  return `${PREFIX[kind]}_${randomBytes(16).toString('base64url').replace(/[-_]/g, '').slice(0, 20)}`;
}

/** Every string in the entry, lower-cased, for the list's `q` search. */
function searchText(entry: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(entry);
  return parts.join('\n').toLowerCase().slice(0, 100_000);
}

export function checkTechnology(input: TechnologyInput): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  for (const [field, category] of Object.entries(facetCategories)) {
    const facet = input[field as keyof typeof facetCategories];
    const unknown = unknownElements(category, facet.elements);
    if (unknown.length > 0) {
      errors.push({
        path: `/${field}/elements`,
        message: `not DTPR ${category} elements: ${unknown.join(', ')}`,
      });
    }
  }
  return errors;
}

export class RegisterService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  private mayWrite(actor: Actor, record: RegisterRecord): boolean {
    return hasRole(actor, 'admin') || actor.organisationId === record.organisationId;
  }

  private async record(
    tx: Queryable,
    by: Actor,
    type: string,
    record: RegisterRecord,
    at: Date,
  ): Promise<void> {
    await recordLedgerEvent(
      tx,
      {
        type,
        actor: {
          organisationId: by.organisationId,
          clientId: by.kind === 'client' ? by.id : null,
          personHash: by.kind === 'person' && by.id ? await ledgerPersonHash(tx, by.id) : null,
        },
        subject: { kind: record.kind, id: record.id },
        details: { organisationId: record.organisationId, version: record.version },
      },
      at,
    );
  }

  private prepare(
    kind: RegisterKind,
    input: TechnologyInput | AlgorithmInput,
    at: Date,
    prior?: RegisterRecord,
  ) {
    if (kind === 'technology') return { ...input } as Record<string, unknown>;
    const date = at.toISOString().slice(0, 10);
    return {
      ...input,
      standard_version: ALGORITHM_STANDARD_VERSION,
      uuid: (prior?.entry.uuid as string | undefined) ?? randomUUID(),
      publication_date: (prior?.entry.publication_date as string | undefined) ?? date,
      last_change_date: date,
    } as Record<string, unknown>;
  }

  private validate(kind: RegisterKind, input: TechnologyInput | AlgorithmInput) {
    return kind === 'technology' ? checkTechnology(input as TechnologyInput) : [];
  }

  list(kind: RegisterKind, options: { q?: string; limit: number; offset: number }) {
    return repo.list(this.db, kind, options);
  }

  get(kind: RegisterKind, id: string) {
    return repo.get(this.db, kind, id);
  }

  async create(
    by: Actor,
    kind: RegisterKind,
    input: TechnologyInput | AlgorithmInput,
  ): Promise<WriteResult> {
    if (!by.organisationId) return { ok: false, reason: 'no_organisation' };
    const errors = this.validate(kind, input);
    if (errors.length > 0) return { ok: false, reason: 'invalid', errors };
    const at = this.clock.now();
    const entry = this.prepare(kind, input, at);
    const record = await this.db.transaction(async (tx) => {
      const created = await repo.insert(
        tx,
        { id: newEntryId(kind), kind, organisationId: by.organisationId!, entry, createdAt: at },
        searchText(entry),
      );
      await this.record(tx, by, `${kind}.created`, created, at);
      return created;
    });
    return { ok: true, record };
  }

  async replace(
    by: Actor,
    kind: RegisterKind,
    id: string,
    input: TechnologyInput | AlgorithmInput,
  ): Promise<WriteResult> {
    const errors = this.validate(kind, input);
    if (errors.length > 0) return { ok: false, reason: 'invalid', errors };
    return this.db.transaction(async (tx): Promise<WriteResult> => {
      const prior = await repo.get(tx, kind, id, true);
      if (!prior) return { ok: false, reason: 'not_found' };
      if (!this.mayWrite(by, prior)) return { ok: false, reason: 'forbidden' };
      const at = this.clock.now();
      const entry = this.prepare(kind, input, at, prior);
      const updated = await repo.update(tx, kind, id, entry, searchText(entry), at);
      await this.record(tx, by, `${kind}.updated`, updated, at);
      return { ok: true, record: updated };
    });
  }

  async remove(by: Actor, kind: RegisterKind, id: string): Promise<WriteResult> {
    return this.db.transaction(async (tx): Promise<WriteResult> => {
      const prior = await repo.get(tx, kind, id, true);
      if (!prior) return { ok: false, reason: 'not_found' };
      if (!this.mayWrite(by, prior)) return { ok: false, reason: 'forbidden' };
      const at = this.clock.now();
      await repo.remove(tx, kind, id);
      await this.record(tx, by, `${kind}.removed`, prior, at);
      return { ok: true, record: prior };
    });
  }
}
