/** SQL for datasets, the purpose vocabulary, access requests and grants. */
import type { Queryable } from '../platform/db/database.js';
import type { Policy } from './policy.js';

export const classifications = ['open', 'restricted', 'personal', 'confidential'] as const;
export type Classification = (typeof classifications)[number];

export interface Transforms {
  /** Attributes (expanded IRIs) dropped for callers who see the data as open data. */
  dropAttrs?: string[];
  /** Grid size in metres that Point locations are snapped to. */
  locationGridMetres?: number;
  /** Bucket size in seconds that observedAt is floored to. */
  observedAtBucketSeconds?: number;
  /** Aggregate buckets from fewer entities than this are suppressed. */
  kAnonymity?: number;
  /** Apply the transforms to granted consumers too, not only to open readers. */
  applyToGrants?: boolean;
}

export interface Dataset {
  id: string;
  tenant: string;
  types: string[];
  idPattern: string | null;
  attrs: string[] | null;
  publisherOrg: string | null;
  classification: Classification;
  licence: { spdx: string } | { url: string; title: string };
  policy: Policy;
  retentionDays: number | null;
  transforms: Transforms;
  catalog: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

interface DatasetRow {
  id: string;
  tenant: string;
  types: string[];
  id_pattern: string | null;
  attrs: string[] | null;
  publisher_org: string | null;
  classification: Classification;
  licence: Dataset['licence'];
  policy: Policy;
  retention_days: number | null;
  transforms: Transforms;
  catalog: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

const toDataset = (r: DatasetRow): Dataset => ({
  id: r.id,
  tenant: r.tenant,
  types: r.types,
  idPattern: r.id_pattern,
  attrs: r.attrs,
  publisherOrg: r.publisher_org,
  classification: r.classification,
  licence: r.licence,
  policy: r.policy,
  retentionDays: r.retention_days,
  transforms: r.transforms,
  catalog: r.catalog,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export type RequestStatus = 'pending' | 'approved' | 'denied';

export interface AccessRequest {
  id: string;
  datasetId: string;
  consumerOrg: string;
  purpose: string;
  durationDays: number;
  commercial: boolean;
  justification: string;
  status: RequestStatus;
  decidedAt: Date | null;
  reason: string | null;
  createdAt: Date;
}

interface RequestRow {
  id: string;
  dataset_id: string;
  consumer_org: string;
  purpose: string;
  duration_days: number;
  commercial: boolean;
  justification: string;
  status: RequestStatus;
  decided_at: Date | null;
  reason: string | null;
  created_at: Date;
}

const toRequest = (r: RequestRow): AccessRequest => ({
  id: r.id,
  datasetId: r.dataset_id,
  consumerOrg: r.consumer_org,
  purpose: r.purpose,
  durationDays: r.duration_days,
  commercial: r.commercial,
  justification: r.justification,
  status: r.status,
  decidedAt: r.decided_at,
  reason: r.reason,
  createdAt: r.created_at,
});

/** What a grant costs: free, or a price per 1,000 entities returned. */
export interface FeeSchedule {
  currency: string;
  perThousandEntities: number;
}

export interface Grant {
  id: string;
  requestId: string;
  datasetId: string;
  consumerOrg: string;
  purpose: string;
  commercial: boolean;
  validFrom: Date;
  validUntil: Date;
  quotaPerDay: number | null;
  fee: FeeSchedule;
  revokedAt: Date | null;
  revokeReason: string | null;
  createdAt: Date;
}

interface GrantRow {
  id: string;
  request_id: string;
  dataset_id: string;
  consumer_org: string;
  purpose: string;
  commercial: boolean;
  valid_from: Date;
  valid_until: Date;
  quota_per_day: number | null;
  fee: FeeSchedule;
  revoked_at: Date | null;
  revoke_reason: string | null;
  created_at: Date;
}

const toGrant = (r: GrantRow): Grant => ({
  id: r.id,
  requestId: r.request_id,
  datasetId: r.dataset_id,
  consumerOrg: r.consumer_org,
  purpose: r.purpose,
  commercial: r.commercial,
  validFrom: r.valid_from,
  validUntil: r.valid_until,
  quotaPerDay: r.quota_per_day,
  fee: r.fee,
  revokedAt: r.revoked_at,
  revokeReason: r.revoke_reason,
  createdAt: r.created_at,
});

export interface Purpose {
  id: string;
  label: string;
  description: string;
}

export const governanceRepository = {
  async purposes(db: Queryable): Promise<Purpose[]> {
    const { rows } = await db.query<Purpose>(
      'SELECT id, label, description FROM gov_purposes ORDER BY id',
    );
    return rows;
  },

  async upsertPurpose(tx: Queryable, p: Purpose, at: Date): Promise<void> {
    await tx.query(
      `INSERT INTO gov_purposes (id, label, description, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, description = EXCLUDED.description`,
      [p.id, p.label, p.description, at],
    );
  },

  async purposeInUse(db: Queryable, id: string): Promise<boolean> {
    const { rows } = await db.query(
      `SELECT 1 FROM gov_access_requests WHERE purpose = $1
       UNION ALL SELECT 1 FROM gov_datasets WHERE policy::text LIKE '%' || $2 || '%' LIMIT 1`,
      [id, JSON.stringify(id)],
    );
    return rows.length > 0;
  },

  async deletePurpose(tx: Queryable, id: string): Promise<boolean> {
    const { rows } = await tx.query('DELETE FROM gov_purposes WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  },

  async insertDataset(tx: Queryable, d: Dataset): Promise<void> {
    await tx.query(
      `INSERT INTO gov_datasets (id, tenant, types, id_pattern, attrs, publisher_org, classification,
         licence, policy, retention_days, transforms, catalog, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        d.id,
        d.tenant,
        d.types,
        d.idPattern,
        d.attrs,
        d.publisherOrg,
        d.classification,
        d.licence,
        d.policy,
        d.retentionDays,
        d.transforms,
        d.catalog,
        d.createdAt,
        d.updatedAt,
      ],
    );
  },

  async updateDataset(tx: Queryable, d: Dataset): Promise<void> {
    await tx.query(
      `UPDATE gov_datasets SET tenant = $2, types = $3, id_pattern = $4, attrs = $5,
         classification = $6, licence = $7, policy = $8, retention_days = $9, transforms = $10,
         catalog = $11, updated_at = $12
       WHERE id = $1`,
      [
        d.id,
        d.tenant,
        d.types,
        d.idPattern,
        d.attrs,
        d.classification,
        d.licence,
        d.policy,
        d.retentionDays,
        d.transforms,
        d.catalog,
        d.updatedAt,
      ],
    );
  },

  async deleteDataset(tx: Queryable, id: string): Promise<void> {
    await tx.query('DELETE FROM gov_datasets WHERE id = $1', [id]);
  },

  async dataset(db: Queryable, id: string, lock = false): Promise<Dataset | undefined> {
    const { rows } = await db.query<DatasetRow>(
      `SELECT * FROM gov_datasets WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] && toDataset(rows[0]);
  },

  async datasets(db: Queryable, limit: number, offset: number): Promise<Dataset[]> {
    const { rows } = await db.query<DatasetRow>(
      'SELECT * FROM gov_datasets ORDER BY id LIMIT $1 OFFSET $2',
      [limit, offset],
    );
    return rows.map(toDataset);
  },

  async allDatasets(db: Queryable): Promise<Dataset[]> {
    const { rows } = await db.query<DatasetRow>('SELECT * FROM gov_datasets ORDER BY id');
    return rows.map(toDataset);
  },

  async insertRequest(tx: Queryable, r: AccessRequest): Promise<void> {
    await tx.query(
      `INSERT INTO gov_access_requests (id, dataset_id, consumer_org, purpose, duration_days,
         commercial, justification, status, decided_at, reason, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        r.id,
        r.datasetId,
        r.consumerOrg,
        r.purpose,
        r.durationDays,
        r.commercial,
        r.justification,
        r.status,
        r.decidedAt,
        r.reason,
        r.createdAt,
      ],
    );
  },

  async request(db: Queryable, id: string, lock = false): Promise<AccessRequest | undefined> {
    const { rows } = await db.query<RequestRow>(
      `SELECT * FROM gov_access_requests WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] && toRequest(rows[0]);
  },

  /** Requests a caller may see: their organisation's, or on datasets it publishes. */
  async requests(db: Queryable, org: string | null, all: boolean): Promise<AccessRequest[]> {
    const { rows } = await db.query<RequestRow>(
      `SELECT r.* FROM gov_access_requests r JOIN gov_datasets d ON d.id = r.dataset_id
        WHERE $2 OR r.consumer_org = $1 OR d.publisher_org = $1
        ORDER BY r.created_at, r.id LIMIT 1000`,
      [org, all],
    );
    return rows.map(toRequest);
  },

  async decideRequest(
    tx: Queryable,
    id: string,
    status: RequestStatus,
    at: Date,
    reason: string | null,
  ): Promise<void> {
    await tx.query(
      'UPDATE gov_access_requests SET status = $2, decided_at = $3, reason = $4 WHERE id = $1',
      [id, status, at, reason],
    );
  },

  async insertGrant(tx: Queryable, g: Grant): Promise<void> {
    await tx.query(
      `INSERT INTO gov_grants (id, request_id, dataset_id, consumer_org, purpose, commercial,
         valid_from, valid_until, quota_per_day, fee, revoked_at, revoke_reason, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        g.id,
        g.requestId,
        g.datasetId,
        g.consumerOrg,
        g.purpose,
        g.commercial,
        g.validFrom,
        g.validUntil,
        g.quotaPerDay,
        g.fee,
        g.revokedAt,
        g.revokeReason,
        g.createdAt,
      ],
    );
  },

  async grant(db: Queryable, id: string, lock = false): Promise<Grant | undefined> {
    const { rows } = await db.query<GrantRow>(
      `SELECT * FROM gov_grants WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] && toGrant(rows[0]);
  },

  async grants(db: Queryable, org: string | null, all: boolean): Promise<Grant[]> {
    const { rows } = await db.query<GrantRow>(
      `SELECT g.* FROM gov_grants g JOIN gov_datasets d ON d.id = g.dataset_id
        WHERE $2 OR g.consumer_org = $1 OR d.publisher_org = $1
        ORDER BY g.created_at, g.id LIMIT 1000`,
      [org, all],
    );
    return rows.map(toGrant);
  },

  async revokeGrant(tx: Queryable, id: string, at: Date, reason: string): Promise<void> {
    await tx.query('UPDATE gov_grants SET revoked_at = $2, revoke_reason = $3 WHERE id = $1', [
      id,
      at,
      reason,
    ]);
  },

  /** Grants of an organisation for a purpose that are in force at `at` (quota aside). */
  async activeGrants(
    db: Queryable,
    org: string,
    purpose: string,
    at: Date,
  ): Promise<(Grant & { dataset: Dataset })[]> {
    const { rows } = await db.query<GrantRow & { dataset: DatasetRow }>(
      `SELECT g.*, to_jsonb(d) AS dataset FROM gov_grants g JOIN gov_datasets d ON d.id = g.dataset_id
        WHERE g.consumer_org = $1 AND g.purpose = $2 AND g.revoked_at IS NULL
          AND g.valid_from <= $3 AND g.valid_until > $3`,
      [org, purpose, at],
    );
    return rows.map((r) => ({
      ...toGrant(r),
      dataset: toDataset({
        ...r.dataset,
        created_at: new Date(r.dataset.created_at),
        updated_at: new Date(r.dataset.updated_at),
      }),
    }));
  },
};
