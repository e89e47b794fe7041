/**
 * The rules of data governance: who may publish and change datasets, how an access
 * request becomes a grant, and the purpose vocabulary. Every change is written with its
 * ledger event in one transaction. Expected refusals are returned as values; the routes
 * turn them into problem details.
 */
import { randomBytes } from 'node:crypto';
import { ledgerPersonHash, recordLedgerEvent, type LedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import type { FieldError } from '../platform/http/errors.js';
import {
  governanceRepository as repo,
  type AccessRequest,
  type Classification,
  type Dataset,
  type FeeSchedule,
  type Grant,
  type Purpose,
  type Transforms,
} from './governance.repository.js';
import { policyTerms, validatePolicy, type Policy } from './policy.js';

export type Failure =
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'forbidden'; detail: string }
  | { ok: false; reason: 'invalid'; detail: string; errors: FieldError[] }
  | { ok: false; reason: 'conflict'; detail: string };
export type Result<T> = ({ ok: true } & T) | Failure;

const DAY_MS = 86_400_000;
const notFound = { ok: false, reason: 'not_found' } as const;
const forbidden = (detail: string) => ({ ok: false, reason: 'forbidden', detail }) as const;
const invalid = (detail: string, errors: FieldError[] = []) =>
  ({ ok: false, reason: 'invalid', detail, errors }) as const;
const conflict = (detail: string) => ({ ok: false, reason: 'conflict', detail }) as const;

export function newGovernanceId(prefix: 'ds' | 'arq' | 'gnt'): string {
  return `${prefix}_${randomBytes(16).toString('base64url').replace(/[-_]/g, '').slice(0, 20)}`;
}

export interface DatasetInput {
  tenant?: string;
  /** Types and attributes as NGSI-LD terms under the core @context, or full IRIs. */
  types: string[];
  idPattern?: string | null;
  attrs?: string[] | null;
  publisherOrg?: string | null;
  classification: Classification;
  licence: Dataset['licence'];
  policy: unknown;
  retentionDays?: number | null;
  transforms?: Transforms;
  catalog?: Record<string, unknown>;
}

export interface AccessRequestInput {
  purpose: string;
  durationDays: number;
  commercial: boolean;
  justification: string;
}

export interface ApprovalTerms {
  validFrom?: Date;
  validUntil?: Date;
  quotaPerDay?: number | null;
  fee?: FeeSchedule;
}

const isAdmin = (actor: Actor) => actor.roles.includes('admin');

/** Stewards and publishers manage their own organisation's datasets; admins any. */
function mayManage(actor: Actor, publisherOrg: string | null): boolean {
  if (isAdmin(actor)) return true;
  return (
    actor.organisationId !== null &&
    actor.organisationId === publisherOrg &&
    (actor.roles.includes('steward') || actor.roles.includes('publisher'))
  );
}

/** Only stewards (and admins) decide on access to their organisation's data. */
function mayDecide(actor: Actor, publisherOrg: string | null): boolean {
  if (isAdmin(actor)) return true;
  return (
    actor.organisationId !== null &&
    actor.organisationId === publisherOrg &&
    actor.roles.includes('steward')
  );
}

/** Confidential datasets are not even listed to outsiders. */
export function mayListDataset(actor: Actor, d: Dataset): boolean {
  return d.classification !== 'confidential' || mayManage(actor, d.publisherOrg);
}

export class GovernanceService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    /** Expands a term under the core @context (types and attribute names). */
    private readonly expand: (term: string) => string,
  ) {}

  private async record(tx: Queryable, by: Actor, event: Omit<LedgerEvent, 'actor'>): Promise<void> {
    const actor = {
      organisationId: by.organisationId,
      clientId: by.kind === 'client' ? by.id : null,
      personHash: by.kind === 'person' && by.id ? await ledgerPersonHash(tx, by.id) : null,
    };
    await recordLedgerEvent(tx, { ...event, actor }, this.clock.now());
  }

  // ── purposes ──────────────────────────────────────────────────────────────────

  purposes(): Promise<Purpose[]> {
    return repo.purposes(this.db);
  }

  async putPurpose(by: Actor, p: Purpose): Promise<void> {
    await this.db.transaction(async (tx) => {
      await repo.upsertPurpose(tx, p, this.clock.now());
      await this.record(tx, by, {
        type: 'purpose.defined',
        subject: { kind: 'purpose', id: p.id },
      });
    });
  }

  async deletePurpose(by: Actor, id: string): Promise<Result<object>> {
    if (await repo.purposeInUse(this.db, id)) {
      return conflict('The purpose is used by a policy or an access request');
    }
    return this.db.transaction(async (tx) => {
      if (!(await repo.deletePurpose(tx, id))) return notFound;
      await this.record(tx, by, { type: 'purpose.removed', subject: { kind: 'purpose', id } });
      return { ok: true };
    });
  }

  // ── datasets ──────────────────────────────────────────────────────────────────

  private async checkDataset(input: DatasetInput): Promise<FieldError[]> {
    const errors: FieldError[] = [];
    if (input.idPattern) {
      try {
        new RegExp(input.idPattern);
      } catch {
        errors.push({ path: '/idPattern', message: 'not a valid regular expression' });
      }
    }
    const purposes = new Set((await repo.purposes(this.db)).map((p) => p.id));
    errors.push(...validatePolicy(input.policy, purposes));
    const t = input.transforms ?? {};
    if (t.kAnonymity !== undefined && t.kAnonymity < 2) {
      errors.push({ path: '/transforms/kAnonymity', message: 'must be at least 2' });
    }
    return errors;
  }

  private fromInput(
    input: DatasetInput,
    base: Pick<Dataset, 'id' | 'publisherOrg' | 'createdAt'>,
  ): Dataset {
    const t = input.transforms ?? {};
    return {
      ...base,
      tenant: input.tenant ?? '',
      types: [...new Set(input.types.map(this.expand))],
      idPattern: input.idPattern ?? null,
      attrs: input.attrs ? [...new Set(input.attrs.map(this.expand))] : null,
      classification: input.classification,
      licence: input.licence,
      policy: input.policy as Policy,
      retentionDays: input.retentionDays ?? null,
      transforms: t.dropAttrs ? { ...t, dropAttrs: t.dropAttrs.map(this.expand) } : t,
      catalog: input.catalog ?? {},
      updatedAt: this.clock.now(),
    };
  }

  async createDataset(by: Actor, input: DatasetInput): Promise<Result<{ dataset: Dataset }>> {
    const publisherOrg = input.publisherOrg === undefined ? by.organisationId : input.publisherOrg;
    if (!mayManage(by, publisherOrg)) {
      return forbidden('Only stewards and publishers of the publisher organisation (or admins)');
    }
    const errors = await this.checkDataset(input);
    if (errors.length > 0) return invalid('The dataset is not valid', errors);
    const dataset = this.fromInput(input, {
      id: newGovernanceId('ds'),
      publisherOrg,
      createdAt: this.clock.now(),
    });
    await this.db.transaction(async (tx) => {
      await repo.insertDataset(tx, dataset);
      await this.record(tx, by, {
        type: 'dataset.created',
        subject: { kind: 'dataset', id: dataset.id },
        details: { classification: dataset.classification, publisherOrg },
      });
    });
    return { ok: true, dataset };
  }

  async updateDataset(
    by: Actor,
    id: string,
    input: DatasetInput,
  ): Promise<Result<{ dataset: Dataset }>> {
    const errors = await this.checkDataset(input);
    return this.db.transaction(async (tx) => {
      const old = await repo.dataset(tx, id, true);
      if (!old || !mayListDataset(by, old)) return notFound;
      if (!mayManage(by, old.publisherOrg)) return forbidden('Not your organisation’s dataset');
      if (input.publisherOrg !== undefined && input.publisherOrg !== old.publisherOrg) {
        return invalid('The publisher of a dataset cannot change', [
          { path: '/publisherOrg', message: 'cannot change' },
        ]);
      }
      if (errors.length > 0) return invalid('The dataset is not valid', errors);
      const dataset = this.fromInput(input, old);
      await repo.updateDataset(tx, dataset);
      await this.record(tx, by, {
        type: 'dataset.updated',
        subject: { kind: 'dataset', id },
        details: { classification: dataset.classification, previous: old.classification },
      });
      return { ok: true, dataset };
    });
  }

  async deleteDataset(by: Actor, id: string): Promise<Result<object>> {
    return this.db.transaction(async (tx) => {
      const old = await repo.dataset(tx, id, true);
      if (!old || !mayListDataset(by, old)) return notFound;
      if (!mayManage(by, old.publisherOrg)) return forbidden('Not your organisation’s dataset');
      await repo.deleteDataset(tx, id);
      await this.record(tx, by, { type: 'dataset.deleted', subject: { kind: 'dataset', id } });
      return { ok: true };
    });
  }

  async dataset(by: Actor, id: string): Promise<Dataset | undefined> {
    const d = await repo.dataset(this.db, id);
    return d && mayListDataset(by, d) ? d : undefined;
  }

  async datasets(by: Actor, limit: number, offset: number): Promise<Dataset[]> {
    // Confidential datasets are few; filtering this page after the fact keeps the SQL
    // simple at the cost of short pages for outsiders.
    return (await repo.datasets(this.db, limit, offset)).filter((d) => mayListDataset(by, d));
  }

  // ── access requests and grants ────────────────────────────────────────────────

  async requestAccess(
    by: Actor,
    datasetId: string,
    input: AccessRequestInput,
  ): Promise<Result<{ request: AccessRequest }>> {
    if (!by.organisationId) return forbidden('Access is requested by an organisation');
    const dataset = await repo.dataset(this.db, datasetId);
    if (!dataset || !mayListDataset(by, dataset)) return notFound;
    const purposes = new Set((await repo.purposes(this.db)).map((p) => p.id));
    if (!purposes.has(input.purpose)) {
      return invalid('Unknown purpose', [{ path: '/purpose', message: 'see /api/v1/purposes' }]);
    }
    const terms = policyTerms(dataset.policy);
    if (terms.purposes && !terms.purposes.includes(input.purpose)) {
      return forbidden(`The dataset policy does not permit the purpose ${input.purpose}`);
    }
    if (input.commercial && !terms.commercialAllowed) {
      return forbidden('The dataset policy does not permit commercial use');
    }
    const request: AccessRequest = {
      id: newGovernanceId('arq'),
      datasetId,
      consumerOrg: by.organisationId,
      purpose: input.purpose,
      durationDays: input.durationDays,
      commercial: input.commercial,
      justification: input.justification,
      status: 'pending',
      decidedAt: null,
      reason: null,
      createdAt: this.clock.now(),
    };
    await this.db.transaction(async (tx) => {
      await repo.insertRequest(tx, request);
      await this.record(tx, by, {
        type: 'access.requested',
        subject: { kind: 'access-request', id: request.id },
        purpose: request.purpose,
        details: { dataset: datasetId, commercial: request.commercial },
      });
    });
    return { ok: true, request };
  }

  async requests(by: Actor): Promise<AccessRequest[]> {
    return repo.requests(this.db, by.organisationId, isAdmin(by));
  }

  async approve(
    by: Actor,
    requestId: string,
    given: ApprovalTerms,
  ): Promise<Result<{ grant: Grant }>> {
    return this.db.transaction(async (tx) => {
      const request = await repo.request(tx, requestId, true);
      if (!request) return notFound;
      const dataset = (await repo.dataset(tx, request.datasetId))!;
      if (!mayDecide(by, dataset.publisherOrg)) {
        return request.consumerOrg === by.organisationId
          ? forbidden('Only a steward of the publisher decides')
          : notFound;
      }
      if (request.status !== 'pending') return conflict(`The request is already ${request.status}`);
      const now = this.clock.now();
      const terms = policyTerms(dataset.policy);
      const validFrom = given.validFrom ?? now;
      let validUntil =
        given.validUntil ?? new Date(validFrom.getTime() + request.durationDays * DAY_MS);
      if (terms.notAfter && validUntil > terms.notAfter) validUntil = terms.notAfter;
      if (validUntil <= validFrom) {
        return invalid('The grant would never be valid', [
          { path: '/validUntil', message: 'must be after validFrom (and within the policy)' },
        ]);
      }
      const quotas = [given.quotaPerDay ?? null, terms.countPerDay].filter(
        (q): q is number => q !== null,
      );
      const grant: Grant = {
        id: newGovernanceId('gnt'),
        requestId,
        datasetId: dataset.id,
        consumerOrg: request.consumerOrg,
        purpose: request.purpose,
        commercial: request.commercial,
        validFrom,
        validUntil,
        quotaPerDay: quotas.length > 0 ? Math.min(...quotas) : null,
        fee: given.fee ?? { currency: 'EUR', perThousandEntities: 0 },
        revokedAt: null,
        revokeReason: null,
        createdAt: now,
      };
      await repo.decideRequest(tx, requestId, 'approved', now, null);
      await repo.insertGrant(tx, grant);
      await this.record(tx, by, {
        type: 'grant.approved',
        subject: { kind: 'grant', id: grant.id },
        purpose: grant.purpose,
        details: {
          dataset: dataset.id,
          consumerOrg: grant.consumerOrg,
          request: requestId,
          validUntil: grant.validUntil.toISOString(),
          quotaPerDay: grant.quotaPerDay,
        },
      });
      return { ok: true, grant };
    });
  }

  async deny(by: Actor, requestId: string, reason: string): Promise<Result<object>> {
    return this.db.transaction(async (tx) => {
      const request = await repo.request(tx, requestId, true);
      if (!request) return notFound;
      const dataset = (await repo.dataset(tx, request.datasetId))!;
      if (!mayDecide(by, dataset.publisherOrg)) {
        return request.consumerOrg === by.organisationId
          ? forbidden('Only a steward of the publisher decides')
          : notFound;
      }
      if (request.status !== 'pending') return conflict(`The request is already ${request.status}`);
      await repo.decideRequest(tx, requestId, 'denied', this.clock.now(), reason);
      await this.record(tx, by, {
        type: 'access.denied',
        subject: { kind: 'access-request', id: requestId },
        purpose: request.purpose,
        details: { dataset: dataset.id, consumerOrg: request.consumerOrg },
      });
      return { ok: true };
    });
  }

  async grants(by: Actor): Promise<Grant[]> {
    return repo.grants(this.db, by.organisationId, isAdmin(by));
  }

  async revoke(by: Actor, grantId: string, reason: string): Promise<Result<{ grant: Grant }>> {
    return this.db.transaction(async (tx) => {
      const grant = await repo.grant(tx, grantId, true);
      if (!grant) return notFound;
      const dataset = (await repo.dataset(tx, grant.datasetId))!;
      if (!mayDecide(by, dataset.publisherOrg)) {
        return grant.consumerOrg === by.organisationId
          ? forbidden('Only a steward of the publisher revokes')
          : notFound;
      }
      if (grant.revokedAt) return conflict('The grant is already revoked');
      const now = this.clock.now();
      await repo.revokeGrant(tx, grantId, now, reason);
      await this.record(tx, by, {
        type: 'grant.revoked',
        subject: { kind: 'grant', id: grantId },
        purpose: grant.purpose,
        details: { dataset: dataset.id, consumerOrg: grant.consumerOrg },
      });
      return { ok: true, grant: { ...grant, revokedAt: now, revokeReason: reason } };
    });
  }
}
