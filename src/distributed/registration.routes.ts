/**
 * NGSI-LD /csourceRegistrations (clause 5.9, binding 6.8 and 6.9). Registrations reveal
 * where data lives and whom this node trusts to answer for it (topology), so reading them
 * is for admins and stewards, as is changing them.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, badRequest } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import { isUri, isValidName } from '../context/entities/entity.model.js';
import { entityPath, paginationOf } from '../context/entities/entity.routes.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import {
  bodyContext,
  commaList,
  linkContext,
  negotiate,
  sendNgsi,
  tenantOf,
  withoutContext,
} from '../context/ngsi-request.js';
import { renderRegistration } from './registration.model.js';
import type { RequestSelector } from './registration.match.js';
import type { RegistrationService } from './registration.service.js';

const access = { roles: ['steward'] as const };
const tags = ['NGSI-LD context source registrations'];
const Payload = Type.Unknown({ description: 'NGSI-LD CSourceRegistration (JSON or JSON-LD)' });
const IdParams = Type.Object({ registrationId: Type.String({ maxLength: 2048 }) });
const ListParams = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 8192 })),
  type: Type.Optional(Type.String({ maxLength: 2048 })),
  idPattern: Type.Optional(Type.String({ maxLength: 256 })),
  attrs: Type.Optional(Type.String({ maxLength: 8192 })),
  q: Type.Optional(Type.String({ maxLength: 2048 })),
  csf: Type.Optional(Type.String({ maxLength: 2048 })),
  georel: Type.Optional(Type.String({ maxLength: 256 })),
  geometry: Type.Optional(Type.String({ maxLength: 64 })),
  coordinates: Type.Optional(Type.String({ maxLength: 8192 })),
  geoproperty: Type.Optional(Type.String({ maxLength: 256 })),
  timeproperty: Type.Optional(Type.String({ maxLength: 64 })),
  timerel: Type.Optional(Type.String({ maxLength: 64 })),
  timeAt: Type.Optional(Type.String({ maxLength: 64 })),
  endTimeAt: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Type.Optional(Type.String({ maxLength: 10 })),
  offset: Type.Optional(Type.String({ maxLength: 10 })),
  count: Type.Optional(Type.String({ maxLength: 5 })),
  options: Type.Optional(Type.String({ maxLength: 100 })),
});

function checkId(id: string): string {
  if (!isUri(id)) throw badRequest(`Invalid registration id: ${id}`);
  return id;
}

const sysAttrsOf = (options: string | undefined) => (options ?? '').split(',').includes('sysAttrs');

export function registerRegistrationRoutes(
  app: App,
  service: RegistrationService,
  resolver: ContextResolver,
): void {
  async function responseContext(request: FastifyRequest): Promise<RequestContext | undefined> {
    return linkContext(request);
  }

  app.post(
    '/csourceRegistrations',
    { config: { access }, schema: { tags, summary: 'Create a registration', body: Payload } },
    async (request, reply) => {
      const context = bodyContext(request, request.body);
      const id = await service.create(tenantOf(request), withoutContext(request.body), context);
      return reply
        .code(201)
        .header('Location', `/ngsi-ld/v1/csourceRegistrations/${entityPath(id)}`)
        .send();
    },
  );

  app.get(
    '/csourceRegistrations',
    {
      config: { access },
      schema: { tags, summary: 'Query registrations', querystring: ListParams },
    },
    async (request, reply) => {
      const q = request.query;
      const type = negotiate(request, false);
      const page = paginationOf(q);
      for (const unsupported of ['q', 'csf', 'georel', 'timerel'] as const) {
        if (q[unsupported] !== undefined) {
          throw new AppError(
            'not_implemented',
            `${unsupported} is not supported on registration queries`,
          );
        }
      }
      const context = await responseContext(request);
      const map = await resolver.resolve(context);
      const ids = commaList(q.id);
      if (ids && !ids.every(isUri)) throw badRequest('id must be a list of URIs');
      const types = commaList(q.type);
      const attrs = commaList(q.attrs);
      if (types && !types.every(isValidName)) throw badRequest('Invalid type');
      if (attrs && !attrs.every(isValidName)) throw badRequest('Invalid attrs');
      if (q.idPattern !== undefined) {
        try {
          new RegExp(q.idPattern);
        } catch {
          throw badRequest('idPattern is not a valid regular expression');
        }
      }
      const selector: RequestSelector | null =
        ids || types || attrs || q.idPattern !== undefined
          ? {
              types: (types ?? []).map((t) => map.expand(t)),
              ids,
              idPattern: q.idPattern,
              attrs: attrs?.map((a) => map.expand(a)),
            }
          : null;
      const { items, total } = await service.list(tenantOf(request), selector, page);
      if (page.count) reply.header('NGSILD-Results-Count', String(total));
      const sysAttrs = sysAttrsOf(q.options);
      return sendNgsi(
        reply,
        type,
        context,
        items.map((r) => renderRegistration(r, sysAttrs)),
      );
    },
  );

  app.get(
    '/csourceRegistrations/:registrationId',
    {
      config: { access },
      schema: {
        tags,
        summary: 'Retrieve a registration',
        params: IdParams,
        querystring: Type.Object({ options: Type.Optional(Type.String({ maxLength: 100 })) }),
      },
    },
    async (request, reply) => {
      const type = negotiate(request, false);
      const found = await service.get(tenantOf(request), checkId(request.params.registrationId));
      return sendNgsi(
        reply,
        type,
        await responseContext(request),
        renderRegistration(found, sysAttrsOf(request.query.options)),
      );
    },
  );

  app.patch(
    '/csourceRegistrations/:registrationId',
    {
      config: { access },
      schema: { tags, summary: 'Update a registration', params: IdParams, body: Payload },
    },
    async (request, reply) => {
      const id = checkId(request.params.registrationId);
      const context = bodyContext(request, request.body);
      await service.update(tenantOf(request), id, withoutContext(request.body), context);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/csourceRegistrations/:registrationId',
    {
      config: { access },
      schema: { tags, summary: 'Delete a registration', params: IdParams },
    },
    async (request, reply) => {
      await service.delete(tenantOf(request), checkId(request.params.registrationId));
      return reply.code(204).send();
    },
  );
}
