/**
 * TypeBox schemas of the registers: technology in public space (DTPR-style) and the
 * algorithm register (fields of the algorithm-register standard v0.3.1). Validation,
 * types and OpenAPI from one declaration; every string and list is bounded.
 */
import { Type, type Static } from 'typebox';

const str = (max: number, min = 1) => Type.String({ minLength: min, maxLength: max });
const optionalText = (max: number) => Type.Optional(Type.String({ maxLength: max }));
const url = Type.String({ maxLength: 2000, pattern: '^https?://[^\\s]+$' });

/** Text published in both official languages. */
export const Text = (max: number) =>
  Type.Object(
    { en: str(max), fr: str(max) },
    { additionalProperties: false, description: 'The same text in English and in French' },
  );

const ElementIds = Type.Array(Type.String({ pattern: '^[a-z0-9_]{1,80}$' }), {
  maxItems: 20,
  uniqueItems: true,
  description: 'DTPR element ids of this category (GET /api/v1/register/dtpr)',
});

const Facet = Type.Object(
  { elements: ElementIds, description: Type.Optional(Text(2000)) },
  { additionalProperties: false },
);

export const Location = Type.Object(
  {
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    label: Type.Optional(str(200)),
  },
  { additionalProperties: false },
);

export const DatasetRef = Type.String({ pattern: '^[A-Za-z0-9._:-]{1,200}$' });

export const TechnologyInput = Type.Object(
  {
    name: Text(200),
    summary: Text(1000),
    status: Type.Union([Type.Literal('planned'), Type.Literal('active'), Type.Literal('retired')]),
    technology: Facet,
    purpose: Facet,
    dataCollected: Facet,
    processing: Facet,
    storage: Facet,
    retention: Type.Object(
      {
        elements: ElementIds,
        days: Type.Optional(
          Type.Union([Type.Integer({ minimum: 0, maximum: 36500 }), Type.Null()]),
        ),
        description: Type.Optional(Text(2000)),
      },
      { additionalProperties: false },
    ),
    access: Facet,
    accountable: Type.Object(
      {
        organisation: str(200),
        contact: Type.Object(
          {
            email: Type.Optional(Type.String({ maxLength: 200, format: 'email' })),
            phone: optionalText(50),
            url: Type.Optional(url),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    locations: Type.Array(Location, { maxItems: 500 }),
    datasetIds: Type.Array(DatasetRef, { maxItems: 50, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type TechnologyInput = Static<typeof TechnologyInput>;

// ── algorithm register (standard v0.3.1 field names) ──────────────────────────────

export const algorithmStatuses = ['planned', 'in_development', 'in_use', 'retired'] as const;
export const riskCategories = ['unacceptable', 'high', 'limited', 'minimal'] as const;
export const algorithmTypes = ['rule_based', 'self_learning', 'hybrid'] as const;
export const oversightTypes = [
  'human_in_the_loop',
  'human_on_the_loop',
  'human_in_command',
] as const;
const oneOf = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const AlgorithmInput = Type.Object(
  {
    // Basic information
    name: str(200),
    description_short: str(1000),
    organization: str(200),
    department: str(200),
    contact_email: Type.String({ maxLength: 200, format: 'email' }),
    contact_phone: optionalText(50),
    contact_name: optionalText(200),
    area: str(200),
    domain: str(200),
    website: Type.Optional(url),
    status: oneOf(algorithmStatuses),
    remark: optionalText(2000),
    // Use case
    decision_making_process: str(4000),
    goal: str(4000),
    impact: str(4000),
    risks: str(4000),
    risk_category: oneOf(riskCategories),
    proportionality: str(4000),
    lawful_basis: str(2000),
    documentation: Type.Optional(url),
    // Data
    training_data: str(4000),
    source_data: str(4000),
    data_bias: optionalText(4000),
    connected_data_sources: str(4000),
    DPIA_description: optionalText(4000),
    DPIA_url: Type.Optional(url),
    // Algorithm
    algorithm_type: oneOf(algorithmTypes),
    description: str(8000),
    methods_and_models: optionalText(4000),
    performance: optionalText(4000),
    alternatives_considered: optionalText(4000),
    product_information: Type.Optional(url),
    codebase_url: Type.Optional(url),
    product_page: Type.Optional(url),
    AIA_description: optionalText(4000),
    AIA_url: Type.Optional(url),
    // Oversight
    monitoring: str(4000),
    type: oneOf(oversightTypes),
    human_intervention: str(4000),
    objection_procedure: str(4000),
    rollback: optionalText(4000),
    // Metadata the publisher states (the node sets uuid, standard_version and the dates)
    lang: Type.Union([Type.Literal('en'), Type.Literal('fr')]),
    revision_date: Type.String({ format: 'date' }),
    revision_note: optionalText(2000),
    keywords: optionalText(500),
    datasetIds: Type.Optional(Type.Array(DatasetRef, { maxItems: 50, uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type AlgorithmInput = Static<typeof AlgorithmInput>;

export const EntryId = (prefix: string) =>
  Type.String({ pattern: `^${prefix}_[A-Za-z0-9]{1,40}$` });

export const ListQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, default: 0 })),
});

/** What the API returns for an entry: the published fields plus the node's metadata. */
export const Entry = (fields: ReturnType<typeof Type.Object>) =>
  Type.Object({
    ...fields.properties,
    id: Type.String(),
    organisationId: Type.String(),
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  });

/** Metadata of the algorithm-register standard that the node maintains. */
export const AlgorithmMetadata = Type.Object({
  standard_version: Type.String(),
  uuid: Type.String({ format: 'uuid' }),
  publication_date: Type.String({ format: 'date' }),
  last_change_date: Type.String({ format: 'date' }),
});
