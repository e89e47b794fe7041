/** TypeBox schemas of the governance API (/api/v1/datasets, purposes, requests, grants). */
import { Type } from 'typebox';
import { classifications } from './governance.repository.js';

const Name = Type.String({ minLength: 1, maxLength: 512 });
const Text = (max: number) => Type.String({ maxLength: max });

export const DatasetId = Type.String({ pattern: '^ds_[A-Za-z0-9]{1,40}$' });
export const RequestId = Type.String({ pattern: '^arq_[A-Za-z0-9]{1,40}$' });
export const GrantId = Type.String({ pattern: '^gnt_[A-Za-z0-9]{1,40}$' });
export const PurposeId = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' });

export const Licence = Type.Union([
  Type.Object(
    { spdx: Type.String({ pattern: '^[A-Za-z0-9.+-]{1,64}$' }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      url: Type.String({ format: 'uri', maxLength: 2048 }),
      title: Type.String({ maxLength: 200 }),
    },
    { additionalProperties: false },
  ),
]);

export const Transforms = Type.Object(
  {
    dropAttrs: Type.Optional(Type.Array(Name, { maxItems: 100 })),
    locationGridMetres: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100_000 })),
    observedAtBucketSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
    kAnonymity: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000 })),
    applyToGrants: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const Catalog = Type.Object(
  {
    title: Type.Optional(Text(200)),
    description: Type.Optional(Text(5000)),
    keywords: Type.Optional(Type.Array(Text(64), { maxItems: 50 })),
    themes: Type.Optional(Type.Array(Text(200), { maxItems: 20 })),
    spatial: Type.Optional(Text(2000)),
    temporal: Type.Optional(
      Type.Object(
        { start: Type.Optional(Text(40)), end: Type.Optional(Text(40)) },
        { additionalProperties: false },
      ),
    ),
    contact: Type.Optional(Text(320)),
  },
  { additionalProperties: false },
);

export const DatasetBody = Type.Object(
  {
    tenant: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:\\-/]{0,128}$' })),
    types: Type.Array(Name, { minItems: 1, maxItems: 50 }),
    idPattern: Type.Optional(Type.Union([Type.String({ maxLength: 512 }), Type.Null()])),
    attrs: Type.Optional(Type.Union([Type.Array(Name, { maxItems: 200 }), Type.Null()])),
    publisherOrg: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    classification: Type.Union(classifications.map((c) => Type.Literal(c))),
    licence: Licence,
    /** ODRL 2.2 policy in the node's profile; validated by the service. */
    policy: Type.Unknown(),
    retentionDays: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()]),
    ),
    transforms: Type.Optional(Transforms),
    catalog: Type.Optional(Catalog),
  },
  { additionalProperties: false },
);

export const Dataset = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  types: Type.Array(Type.String()),
  idPattern: Type.Union([Type.String(), Type.Null()]),
  attrs: Type.Union([Type.Array(Type.String()), Type.Null()]),
  publisherOrg: Type.Union([Type.String(), Type.Null()]),
  classification: Type.String(),
  licence: Type.Unknown(),
  policy: Type.Unknown(),
  policyText: Type.Array(Type.String()),
  retentionDays: Type.Union([Type.Integer(), Type.Null()]),
  transforms: Type.Unknown(),
  catalog: Type.Unknown(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const Purpose = Type.Object({
  id: Type.String(),
  label: Type.String(),
  description: Type.String(),
});

export const PurposeBody = Type.Object(
  { label: Type.String({ minLength: 1, maxLength: 200 }), description: Type.Optional(Text(2000)) },
  { additionalProperties: false },
);

export const AccessRequestBody = Type.Object(
  {
    purpose: PurposeId,
    durationDays: Type.Integer({ minimum: 1, maximum: 3660 }),
    commercial: Type.Boolean(),
    justification: Type.String({ minLength: 1, maxLength: 5000 }),
  },
  { additionalProperties: false },
);

export const AccessRequest = Type.Object({
  id: Type.String(),
  datasetId: Type.String(),
  consumerOrg: Type.String(),
  purpose: Type.String(),
  durationDays: Type.Integer(),
  commercial: Type.Boolean(),
  justification: Type.String(),
  status: Type.String(),
  decidedAt: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});

export const FeeSchedule = Type.Object(
  {
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    perThousandEntities: Type.Number({ minimum: 0, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);

export const ApproveBody = Type.Object(
  {
    validFrom: Type.Optional(Type.String({ format: 'date-time' })),
    validUntil: Type.Optional(Type.String({ format: 'date-time' })),
    quotaPerDay: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 100_000_000 }), Type.Null()]),
    ),
    fee: Type.Optional(FeeSchedule),
  },
  { additionalProperties: false },
);

export const ReasonBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);

export const Grant = Type.Object({
  id: Type.String(),
  requestId: Type.String(),
  datasetId: Type.String(),
  consumerOrg: Type.String(),
  purpose: Type.String(),
  commercial: Type.Boolean(),
  validFrom: Type.String(),
  validUntil: Type.String(),
  quotaPerDay: Type.Union([Type.Integer(), Type.Null()]),
  fee: FeeSchedule,
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  revokeReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});
