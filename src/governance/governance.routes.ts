/** The governance API: datasets, the purpose vocabulary, access requests and grants. */
import { Type } from 'typebox';
import {
  badRequest,
  conflict,
  forbidden,
  notFound,
  type AppError,
} from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import type {
  AccessRequest as AccessRequestRecord,
  Dataset as DatasetRecord,
  Grant as GrantRecord,
} from './governance.repository.js';
import {
  AccessRequest,
  AccessRequestBody,
  ApproveBody,
  Dataset,
  DatasetBody,
  DatasetId,
  Grant,
  GrantId,
  Purpose,
  PurposeBody,
  PurposeId,
  ReasonBody,
  RequestId,
} from './governance.schemas.js';
import type { Failure, GovernanceService } from './governance.service.js';
import { describePolicy, validatePolicy, type Policy } from './policy.js';
import { monthlyStatement, statementCsv } from './statement.js';
import type { Queryable } from '../platform/db/database.js';
import { OrganisationId } from '../identity/identity.schemas.js';

const tags = ['governance'];
const managers = { access: { roles: ['steward', 'publisher'] as const } };
const stewards = { access: { roles: ['steward'] as const } };
const consumers = { access: { roles: ['consumer'] as const } };
const admin = { access: { roles: ['admin'] as const } };

function fail(f: Failure): AppError {
  switch (f.reason) {
    case 'not_found':
      return notFound();
    case 'forbidden':
      return forbidden(f.detail);
    case 'invalid':
      return badRequest(f.detail, f.errors);
    case 'conflict':
      return conflict(f.detail);
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const datasetDto = (d: DatasetRecord) => ({
  ...d,
  policyText: describePolicy(d.policy),
  createdAt: d.createdAt.toISOString(),
  updatedAt: d.updatedAt.toISOString(),
});
const requestDto = (r: AccessRequestRecord) => ({
  ...r,
  decidedAt: iso(r.decidedAt),
  createdAt: r.createdAt.toISOString(),
});
const grantDto = (g: GrantRecord) => ({
  ...g,
  validFrom: g.validFrom.toISOString(),
  validUntil: g.validUntil.toISOString(),
  revokedAt: iso(g.revokedAt),
  createdAt: g.createdAt.toISOString(),
});

export function registerGovernanceRoutes(
  app: App,
  service: GovernanceService,
  db: Queryable,
  flushMeter: () => Promise<void>,
): void {
  // ── purposes ──────────────────────────────────────────────────────────────────
  app.get(
    '/api/v1/purposes',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'The purpose-of-use vocabulary.',
        response: { 200: Type.Array(Purpose) },
      },
    },
    async () => service.purposes(),
  );

  app.put(
    '/api/v1/purposes/:purposeId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Define or relabel a purpose of use.',
        params: Type.Object({ purposeId: PurposeId }),
        body: PurposeBody,
        response: { 200: Purpose },
      },
    },
    async (request) => {
      const p = {
        id: request.params.purposeId,
        label: request.body.label,
        description: request.body.description ?? '',
      };
      await service.putPurpose(request.actor, p);
      return p;
    },
  );

  app.delete(
    '/api/v1/purposes/:purposeId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Remove an unused purpose.',
        params: Type.Object({ purposeId: PurposeId }),
      },
    },
    async (request, reply) => {
      const r = await service.deletePurpose(request.actor, request.params.purposeId);
      if (!r.ok) throw fail(r);
      return reply.code(204).send();
    },
  );

  // ── policy preview ────────────────────────────────────────────────────────────
  // The steward console's policy form shows the plain-language rendering while it is
  // being filled in; rendering and validation stay here, in one place, with the vocabulary.
  app.post(
    '/api/v1/policies/describe',
    {
      config: managers,
      bodyLimit: 65_536,
      schema: {
        tags,
        summary:
          'Validate an ODRL policy against the node profile and render it in plain language.',
        body: Type.Object({ policy: Type.Unknown() }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            valid: Type.Boolean(),
            policyText: Type.Array(Type.String()),
            errors: Type.Array(Type.Object({ path: Type.String(), message: Type.String() })),
          }),
        },
      },
    },
    async (request) => {
      const purposes = new Set((await service.purposes()).map((p) => p.id));
      const errors = validatePolicy(request.body.policy, purposes);
      return errors.length
        ? { valid: false, policyText: [], errors }
        : { valid: true, policyText: describePolicy(request.body.policy as Policy), errors };
    },
  );

  // ── datasets ──────────────────────────────────────────────────────────────────
  app.get(
    '/api/v1/datasets',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'The dataset catalog (confidential datasets only to their publisher).',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
        }),
        response: { 200: Type.Array(Dataset) },
      },
    },
    async (request) =>
      (await service.datasets(request.actor, request.query.limit, request.query.offset)).map(
        datasetDto,
      ),
  );

  app.get(
    '/api/v1/datasets/:datasetId',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'One dataset, with its policy in plain language.',
        params: Type.Object({ datasetId: DatasetId }),
        response: { 200: Dataset },
      },
    },
    async (request) => {
      const d = await service.dataset(request.actor, request.params.datasetId);
      if (!d) throw notFound();
      return datasetDto(d);
    },
  );

  app.post(
    '/api/v1/datasets',
    {
      config: managers,
      schema: {
        tags,
        summary: 'Publish a dataset (stewards and publishers of its organisation, admins).',
        body: DatasetBody,
        response: { 201: Dataset },
      },
    },
    async (request, reply) => {
      const r = await service.createDataset(request.actor, request.body);
      if (!r.ok) throw fail(r);
      return reply.code(201).send(datasetDto(r.dataset));
    },
  );

  app.put(
    '/api/v1/datasets/:datasetId',
    {
      config: managers,
      schema: {
        tags,
        summary: 'Replace a dataset’s selector, classification, licence, policy and metadata.',
        params: Type.Object({ datasetId: DatasetId }),
        body: DatasetBody,
        response: { 200: Dataset },
      },
    },
    async (request) => {
      const r = await service.updateDataset(request.actor, request.params.datasetId, request.body);
      if (!r.ok) throw fail(r);
      return datasetDto(r.dataset);
    },
  );

  app.delete(
    '/api/v1/datasets/:datasetId',
    {
      config: managers,
      schema: {
        tags,
        summary: 'Withdraw a dataset.',
        params: Type.Object({ datasetId: DatasetId }),
      },
    },
    async (request, reply) => {
      const r = await service.deleteDataset(request.actor, request.params.datasetId);
      if (!r.ok) throw fail(r);
      return reply.code(204).send();
    },
  );

  // ── access requests ───────────────────────────────────────────────────────────
  app.post(
    '/api/v1/datasets/:datasetId/access-requests',
    {
      config: consumers,
      schema: {
        tags,
        summary: 'Request access to a dataset for a purpose.',
        params: Type.Object({ datasetId: DatasetId }),
        body: AccessRequestBody,
        response: { 201: AccessRequest },
      },
    },
    async (request, reply) => {
      const r = await service.requestAccess(request.actor, request.params.datasetId, request.body);
      if (!r.ok) throw fail(r);
      return reply.code(201).send(requestDto(r.request));
    },
  );

  app.get(
    '/api/v1/access-requests',
    {
      config: { access: 'authenticated' },
      schema: {
        tags,
        summary: 'Access requests of the caller’s organisation, or on its datasets.',
        response: { 200: Type.Array(AccessRequest) },
      },
    },
    async (request) => (await service.requests(request.actor)).map(requestDto),
  );

  app.post(
    '/api/v1/access-requests/:requestId/approve',
    {
      config: stewards,
      schema: {
        tags,
        summary: 'Approve a request with terms (validity, daily quota, fee schedule).',
        params: Type.Object({ requestId: RequestId }),
        body: ApproveBody,
        response: { 201: Grant },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const r = await service.approve(request.actor, request.params.requestId, {
        ...(b.validFrom ? { validFrom: new Date(b.validFrom) } : {}),
        ...(b.validUntil ? { validUntil: new Date(b.validUntil) } : {}),
        ...(b.quotaPerDay !== undefined ? { quotaPerDay: b.quotaPerDay } : {}),
        ...(b.fee ? { fee: b.fee } : {}),
      });
      if (!r.ok) throw fail(r);
      return reply.code(201).send(grantDto(r.grant));
    },
  );

  app.post(
    '/api/v1/access-requests/:requestId/deny',
    {
      config: stewards,
      schema: {
        tags,
        summary: 'Deny a request, with a reason.',
        params: Type.Object({ requestId: RequestId }),
        body: ReasonBody,
      },
    },
    async (request, reply) => {
      const r = await service.deny(request.actor, request.params.requestId, request.body.reason);
      if (!r.ok) throw fail(r);
      return reply.code(204).send();
    },
  );

  // ── grants ────────────────────────────────────────────────────────────────────
  app.get(
    '/api/v1/grants',
    {
      config: { access: 'authenticated' },
      schema: {
        tags,
        summary: 'Grants held by the caller’s organisation, or on its datasets.',
        response: { 200: Type.Array(Grant) },
      },
    },
    async (request) => (await service.grants(request.actor)).map(grantDto),
  );

  app.post(
    '/api/v1/grants/:grantId/revoke',
    {
      config: stewards,
      schema: {
        tags,
        summary: 'Revoke a grant; reads and notifications under it stop at once.',
        params: Type.Object({ grantId: GrantId }),
        body: ReasonBody,
        response: { 200: Grant },
      },
    },
    async (request) => {
      const r = await service.revoke(request.actor, request.params.grantId, request.body.reason);
      if (!r.ok) throw fail(r);
      return grantDto(r.grant);
    },
  );

  // ── metering ──────────────────────────────────────────────────────────────────
  app.get(
    '/api/v1/usage/statements/:month',
    {
      config: { access: 'authenticated' },
      schema: {
        tags,
        summary: 'Monthly usage statement of an organisation (JSON, or CSV with format=csv).',
        params: Type.Object({ month: Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$' }) }),
        querystring: Type.Object({
          organisationId: Type.Optional(OrganisationId),
          format: Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' }),
        }),
      },
    },
    async (request, reply) => {
      const actor = request.actor;
      const org = request.query.organisationId ?? actor.organisationId;
      if (!org) throw notFound();
      if (org !== actor.organisationId && !actor.roles.includes('admin')) throw notFound();
      // Counters still in memory belong in the statement.
      await flushMeter();
      const statement = await monthlyStatement(db, org, request.params.month);
      if (request.query.format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header(
            'Content-Disposition',
            `attachment; filename="usage-${org}-${request.params.month}.csv"`,
          )
          .send(statementCsv(statement));
      }
      return statement;
    },
  );
}
