/**
 * The registers' HTTP API: public reads, writes by stewards (their own organisation's
 * entries) and admins. /api/v1/technologies, /api/v1/algorithms, /api/v1/register/dtpr.
 */
import { Type, type TSchema } from 'typebox';
import { badRequest, forbidden, notFound } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import { dtpr } from './dtpr.js';
import type { RegisterKind, RegisterRecord } from './register.repository.js';
import {
  AlgorithmInput,
  AlgorithmMetadata,
  Entry,
  EntryId,
  ListQuery,
  TechnologyInput,
} from './register.schemas.js';
import type { RegisterService, WriteResult } from './register.service.js';

const stewards = { access: { roles: ['steward'] as const } };
const PUBLIC = { access: 'public' as const };

const dto = (r: RegisterRecord) => ({
  ...r.entry,
  id: r.id,
  organisationId: r.organisationId,
  version: r.version,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

function unwrap(result: WriteResult): RegisterRecord {
  if (result.ok) return result.record;
  switch (result.reason) {
    case 'not_found':
      throw notFound();
    case 'forbidden':
      throw forbidden(
        'Only the organisation that published this entry (or an admin) may change it',
      );
    case 'no_organisation':
      throw forbidden('Register entries are published by an organisation; this caller has none');
    case 'invalid':
      throw badRequest('The entry is not valid', result.errors);
  }
}

function registerKind(
  app: App,
  service: RegisterService,
  kind: RegisterKind,
  path: string,
  prefix: string,
  input: ReturnType<typeof Type.Object>,
) {
  const tags = ['register'];
  const Id = Type.Object({ id: EntryId(prefix) });
  const Output = Entry(
    kind === 'algorithm'
      ? Type.Object({ ...input.properties, ...AlgorithmMetadata.properties })
      : input,
  ) as TSchema;
  const Listing = Type.Object({ items: Type.Array(Output), total: Type.Integer() });

  app.get(
    path,
    { schema: { tags, querystring: ListQuery, response: { 200: Listing } }, config: PUBLIC },
    async (request) => {
      const { q, limit = 50, offset = 0 } = request.query;
      const { items, total } = await service.list(kind, { ...(q ? { q } : {}), limit, offset });
      return { items: items.map(dto), total };
    },
  );

  app.get(
    `${path}/:id`,
    { schema: { tags, params: Id, response: { 200: Output } }, config: PUBLIC },
    async (request) => {
      const record = await service.get(kind, request.params.id);
      if (!record) throw notFound();
      return dto(record);
    },
  );

  app.post(
    path,
    { schema: { tags, body: input, response: { 201: Output } }, config: stewards },
    async (request, reply) => {
      const record = unwrap(await service.create(request.actor, kind, request.body as never));
      reply.code(201).header('Location', `${path}/${record.id}`);
      return dto(record);
    },
  );

  app.put(
    `${path}/:id`,
    { schema: { tags, params: Id, body: input, response: { 200: Output } }, config: stewards },
    async (request) =>
      dto(
        unwrap(
          await service.replace(request.actor, kind, request.params.id, request.body as never),
        ),
      ),
  );

  app.delete(
    `${path}/:id`,
    { schema: { tags, params: Id }, config: stewards },
    async (request, reply) => {
      unwrap(await service.remove(request.actor, kind, request.params.id));
      reply.code(204);
    },
  );
}

export function registerRoutes(app: App, service: RegisterService): void {
  registerKind(app, service, 'technology', '/api/v1/technologies', 'tec', TechnologyInput);
  registerKind(app, service, 'algorithm', '/api/v1/algorithms', 'alg', AlgorithmInput);

  app.get(
    '/api/v1/register/dtpr',
    { schema: { tags: ['register'] }, config: PUBLIC },
    async (_request, reply) => {
      reply.header('Cache-Control', 'public, max-age=3600');
      return dtpr;
    },
  );
}
