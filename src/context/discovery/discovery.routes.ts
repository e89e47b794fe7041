/** NGSI-LD discovery: /types, /types/{type}, /attributes, /attributes/{attrId}, scoped like queries. */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { badRequest, notFound } from '../../platform/http/errors.js';
import type { App } from '../../platform/http/server.js';
import type { ContextDeps } from '../entities/entity.routes.js';
import { isValidName } from '../entities/entity.model.js';
import { linkContext, negotiate, sendNgsi, tenantOf, visibilityOf } from '../ngsi-request.js';

const Details = Type.Object({ details: Type.Optional(Type.String()) });

export function registerDiscoveryRoutes(app: App, deps: ContextDeps): void {
  const tags = ['NGSI-LD discovery'];
  const config = { access: 'public' as const };

  async function prepare(request: FastifyRequest) {
    const type = negotiate(request, false);
    const context = linkContext(request);
    const map = await deps.resolver.resolve(context);
    const tenant = tenantOf(request);
    return { type, context, map, tenant, visibility: visibilityOf(request) };
  }

  app.get(
    '/types',
    { config, schema: { tags, summary: 'Entity types', querystring: Details } },
    async (request, reply) => {
      const { type, context, map, tenant, visibility } = await prepare(request);
      const types = await deps.service.types(tenant, visibility, null);
      if (request.query.details === 'true') {
        return sendNgsi(
          reply,
          type,
          context,
          types.map((t) => ({
            id: t.type,
            type: 'EntityType',
            typeName: map.compact(t.type),
            attributeNames: t.attrs.map((a) => map.compact(a)),
          })),
        );
      }
      return sendNgsi(reply, type, context, {
        id: `urn:ngsi-ld:EntityTypeList:${randomUUID()}`,
        type: 'EntityTypeList',
        typeList: types.map((t) => map.compact(t.type)),
      });
    },
  );

  app.get(
    '/types/:type',
    {
      config,
      schema: { tags, summary: 'One entity type', params: Type.Object({ type: Type.String() }) },
    },
    async (request, reply) => {
      const { type, context, map, tenant, visibility } = await prepare(request);
      if (!isValidName(request.params.type)) throw badRequest('Invalid type name');
      const iri = map.expand(request.params.type);
      const [info] = await deps.service.types(tenant, visibility, iri);
      if (!info) throw notFound(`Type ${request.params.type} was not found`);
      const attrs = await deps.service.attributes(tenant, visibility, null, iri);
      return sendNgsi(reply, type, context, {
        id: iri,
        type: 'EntityTypeInfo',
        typeName: map.compact(iri),
        entityCount: info.count,
        attributeDetails: attrs.map((a) => ({
          id: a.attr,
          type: 'Attribute',
          attributeName: map.compact(a.attr),
          attributeTypes: a.kinds,
        })),
      });
    },
  );

  app.get(
    '/attributes',
    { config, schema: { tags, summary: 'Attributes', querystring: Details } },
    async (request, reply) => {
      const { type, context, map, tenant, visibility } = await prepare(request);
      const attrs = await deps.service.attributes(tenant, visibility, null);
      if (request.query.details === 'true') {
        return sendNgsi(
          reply,
          type,
          context,
          attrs.map((a) => ({
            id: a.attr,
            type: 'Attribute',
            attributeName: map.compact(a.attr),
            attributeTypes: a.kinds,
            typeNames: a.types.map((t) => map.compact(t)),
          })),
        );
      }
      return sendNgsi(reply, type, context, {
        id: `urn:ngsi-ld:AttributeList:${randomUUID()}`,
        type: 'AttributeList',
        attributeList: attrs.map((a) => map.compact(a.attr)),
      });
    },
  );

  app.get(
    '/attributes/:attrId',
    {
      config,
      schema: { tags, summary: 'One attribute', params: Type.Object({ attrId: Type.String() }) },
    },
    async (request, reply) => {
      const { type, context, map, tenant, visibility } = await prepare(request);
      if (!isValidName(request.params.attrId)) throw badRequest('Invalid attribute name');
      const iri = map.expand(request.params.attrId);
      const [a] = await deps.service.attributes(tenant, visibility, iri);
      if (!a) throw notFound(`Attribute ${request.params.attrId} was not found`);
      return sendNgsi(reply, type, context, {
        id: a.attr,
        type: 'Attribute',
        attributeName: map.compact(a.attr),
        attributeCount: a.count,
        attributeTypes: a.kinds,
        typeNames: a.types.map((t) => map.compact(t)),
      });
    },
  );
}
