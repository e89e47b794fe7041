/** NGSI-LD /entities routes: parse, resolve the @context, call the entity service, render. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, badRequest, notFound } from '../../platform/http/errors.js';
import type { App } from '../../platform/http/server.js';
import type { ContextResolver, RequestContext } from '../jsonld/context-resolver.js';
import type { TermMap } from '../jsonld/term-map.js';
import {
  bodyContext,
  commaList,
  linkContext,
  negotiate,
  sendNgsi,
  tenantOf,
  visibilityOf,
  withoutContext,
  writeScopeOf,
  type ResponseType,
} from '../ngsi-request.js';
import {
  isUri,
  isValidName,
  parseAttributeFragment,
  parseEntity,
  renderEntity,
  renderFeature,
  type Format,
  type RenderOptions,
  type StoredEntity,
} from './entity.model.js';
import type { EntityQuery, EntitySelector } from './entity.query.js';
import type { EntityService } from './entity.service.js';
import type { Database } from '../../platform/db/database.js';
import type { DistributedSlot } from './distributed-reads.js';

export interface ContextDeps {
  db: Database;
  resolver: ContextResolver;
  service: EntityService;
  /** Registered context sources (distributed operations), when that feature is mounted. */
  distributed?: DistributedSlot;
}

const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1000;

const write = { roles: ['publisher'] as const };
const read = 'public' as const;
const Payload = Type.Unknown({
  description: 'NGSI-LD payload (application/json or application/ld+json)',
});
const EntityIdParams = Type.Object({ entityId: Type.String() });
const AttrParams = Type.Object({ entityId: Type.String(), attrId: Type.String() });

export const QueryParams = Type.Object({
  id: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  idPattern: Type.Optional(Type.String()),
  attrs: Type.Optional(Type.String()),
  pick: Type.Optional(Type.String()),
  omit: Type.Optional(Type.String()),
  q: Type.Optional(Type.String()),
  scopeQ: Type.Optional(Type.String()),
  georel: Type.Optional(Type.String()),
  geometry: Type.Optional(Type.String()),
  coordinates: Type.Optional(Type.String()),
  geoproperty: Type.Optional(Type.String()),
  geometryProperty: Type.Optional(Type.String()),
  limit: Type.Optional(Type.String()),
  offset: Type.Optional(Type.String()),
  count: Type.Optional(Type.String()),
  options: Type.Optional(Type.String()),
  format: Type.Optional(Type.String()),
  lang: Type.Optional(Type.String()),
  datasetId: Type.Optional(Type.String()),
  local: Type.Optional(Type.String()),
});
export type QueryParamsT = {
  id?: string | undefined;
  type?: string | undefined;
  idPattern?: string | undefined;
  attrs?: string | undefined;
  pick?: string | undefined;
  omit?: string | undefined;
  q?: string | undefined;
  scopeQ?: string | undefined;
  georel?: string | undefined;
  geometry?: string | undefined;
  coordinates?: string | undefined;
  geoproperty?: string | undefined;
  geometryProperty?: string | undefined;
  limit?: string | undefined;
  offset?: string | undefined;
  count?: string | undefined;
  options?: string | undefined;
  format?: string | undefined;
  lang?: string | undefined;
  datasetId?: string | undefined;
  local?: string | undefined;
};

/** An entity id as a path segment: ':' stays readable (RFC 3986 allows it in segments). */
export function entityPath(id: string): string {
  return encodeURIComponent(id).replaceAll('%3A', ':');
}

export function checkEntityId(id: string): string {
  if (!isUri(id)) throw badRequest(`Invalid entity id: ${id}`);
  return id;
}

function checkAttrName(name: string): string {
  if (!isValidName(name)) throw badRequest(`Invalid attribute name: ${name}`);
  return name;
}

/** Representation options from `options`, `format`, `lang`, `attrs`, `pick`, `omit`. */
export function renderOptionsOf(
  params: QueryParamsT,
  map: TermMap,
): RenderOptions & { attrFilter?: string[] } {
  const options = new Set(commaList(params.options) ?? []);
  let format: Format = 'normalized';
  const chosen = ['keyValues', 'concise', 'normalized'].filter((f) => options.has(f));
  if (chosen.length > 1)
    throw badRequest('options may name only one of keyValues, concise, normalized');
  if (chosen[0]) format = chosen[0] as Format;
  if (params.format !== undefined) {
    if (!['keyValues', 'concise', 'normalized', 'simplified'].includes(params.format)) {
      throw badRequest(`Unknown format ${params.format}`);
    }
    format = params.format === 'simplified' ? 'keyValues' : (params.format as Format);
  }
  if (options.has('simplified')) format = 'keyValues';
  for (const option of options) {
    if (!['keyValues', 'concise', 'normalized', 'sysAttrs', 'simplified'].includes(option)) {
      throw badRequest(`Unknown option ${option}`);
    }
  }
  const attrs = commaList(params.attrs);
  const pick = commaList(params.pick);
  const omit = commaList(params.omit);
  if (pick && omit) throw badRequest('pick and omit cannot be combined');
  if (pick && attrs) throw badRequest('pick and attrs cannot be combined');
  const member = (name: string) =>
    ['id', 'type', 'scope'].includes(name) ? name : map.expand(checkAttrName(name));
  return {
    format,
    sysAttrs: options.has('sysAttrs'),
    lang: params.lang,
    attrs: attrs ? new Set(attrs.map((a) => map.expand(checkAttrName(a)))) : undefined,
    attrFilter: attrs?.map((a) => map.expand(a)),
    pickMembers: pick ? new Set(pick.map(member)) : undefined,
    omitMembers: omit ? new Set(omit.map(member)) : undefined,
    datasetIds: params.datasetId === undefined ? undefined : new Set(datasetIds(params.datasetId)),
  };
}

function datasetIds(raw: string): string[] {
  const list = commaList(raw) ?? [];
  if (list.length === 0 || !list.every((d) => d === '@none' || isUri(d))) {
    throw badRequest('datasetId must be a list of URIs or @none');
  }
  return list;
}

function parseCount(value: string | undefined, name: string, def: number): number {
  if (value === undefined) return def;
  if (!/^\d+$/.test(value)) throw badRequest(`${name} must be a non-negative integer`);
  return Number(value);
}

export function paginationOf(params: QueryParamsT): {
  limit: number;
  offset: number;
  count: boolean;
} {
  const limit = parseCount(params.limit, 'limit', DEFAULT_LIMIT);
  const offset = parseCount(params.offset, 'offset', 0);
  if (params.count !== undefined && !['true', 'false'].includes(params.count)) {
    throw badRequest('count must be true or false');
  }
  const count = params.count === 'true';
  if (limit > MAX_LIMIT) {
    throw new AppError('too_many_results', `limit may be at most ${MAX_LIMIT}`);
  }
  if (limit === 0 && !count) throw badRequest('limit=0 is only allowed with count=true');
  return { limit, offset, count };
}

export function renderList(
  entities: StoredEntity[],
  map: TermMap,
  render: RenderOptions,
  type: ResponseType,
  geometryProperty: string,
): unknown {
  if (type === 'application/geo+json') {
    return {
      type: 'FeatureCollection',
      features: entities.map((e) => renderFeature(e, map, render, geometryProperty)),
    };
  }
  return entities.map((e) => renderEntity(e, map, render));
}

/** Runs an entity query and sends the page (shared by GET /entities and batch query). */
/**
 * The entity filters of a query string (type, id, idPattern, attrs, q, scopeQ, geo) as
 * the query compiler takes them; NGSI-LD requires at least one. `noun` names the query in
 * the error ("A query", "A temporal query").
 */
export function entityFilterOf(
  params: QueryParamsT,
  noun: string,
): Pick<EntityQuery, 'selectors' | 'ids' | 'q' | 'scopeQ' | 'geo'> {
  const ids = commaList(params.id);
  const hasFilter =
    params.type !== undefined ||
    params.idPattern !== undefined ||
    ids !== undefined ||
    params.attrs !== undefined ||
    params.q !== undefined ||
    params.georel !== undefined ||
    params.scopeQ !== undefined;
  if (!hasFilter) {
    throw badRequest(
      `${noun} needs at least one of type, id, idPattern, attrs, q, geo-query or scopeQ`,
    );
  }
  const selector: EntitySelector = { type: params.type, idPattern: params.idPattern };
  return {
    selectors: [selector],
    ids,
    q: params.q,
    scopeQ: params.scopeQ,
    geo: {
      georel: params.georel,
      geometry: params.geometry,
      coordinates: params.coordinates,
      geoproperty: params.geoproperty,
    },
  };
}

export async function runQuery(
  deps: ContextDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  query: Omit<EntityQuery, 'map' | 'tenant' | 'visibility'>,
  params: QueryParamsT,
  context: RequestContext | undefined,
  map: TermMap,
): Promise<FastifyReply> {
  const type = negotiate(request);
  const tenant = tenantOf(request);
  const page = paginationOf(params);
  const render = renderOptionsOf(params, map);
  const full: EntityQuery = {
    ...query,
    tenant,
    visibility: visibilityOf(request),
    map,
    attrs: render.attrFilter,
  };
  const distributed = deps.distributed?.current;
  let result: { entities: StoredEntity[]; total: number | null };
  if (distributed) {
    const { visibility } = full;
    const unmetered = visibility.all ? visibility : { ...visibility, onRead: undefined };
    const answer = await distributed.query({
      request,
      params,
      map,
      context,
      page,
      local: (p) => deps.service.query({ ...full, visibility: unmetered }, p),
      observe: (list) => {
        if (!visibility.all) visibility.onRead?.(tenant, list);
      },
    });
    if (answer.warnings.length > 0) reply.header('NGSILD-Warning', answer.warnings);
    result = answer.value;
  } else result = await deps.service.query(full, page);
  const { entities, total } = result;
  if (total !== null) reply.header('NGSILD-Results-Count', String(total));
  const geometryProperty = map.expand(params.geometryProperty ?? 'location');
  const links: string[] = [];
  if (request.method === 'GET' && page.limit > 0) {
    const page_ = (offset: number) => {
      const url = new URL(request.url, 'http://local');
      url.searchParams.set('offset', String(offset));
      url.searchParams.set('limit', String(page.limit));
      return `${url.pathname}${url.search}`;
    };
    if (page.offset > 0)
      links.push(`<${page_(Math.max(0, page.offset - page.limit))}>; rel="prev"; type="${type}"`);
    const more = total !== null ? page.offset + page.limit < total : entities.length === page.limit;
    if (more) links.push(`<${page_(page.offset + page.limit)}>; rel="next"; type="${type}"`);
  }
  // An inline @context needs a URL of its own for the Link header of a JSON response.
  const responseContext =
    type !== 'application/ld+json' && context !== undefined && typeof context !== 'string'
      ? await deps.resolver.linkFor(context)
      : context;
  return sendNgsi(
    reply,
    type,
    responseContext,
    renderList(entities, map, render, type, geometryProperty),
    200,
    links,
  );
}

export function registerEntityRoutes(app: App, deps: ContextDeps): void {
  const { resolver, service } = deps;
  const tags = ['NGSI-LD entities'];

  /** Body + @context of a write request, resolved to a term map. */
  async function readBody(request: FastifyRequest) {
    const body = request.body;
    const context = bodyContext(request, body);
    const map = await resolver.resolve(context);
    return { body: withoutContext(body), context, map };
  }

  async function readContext(request: FastifyRequest) {
    const context = linkContext(request);
    return { context, map: await resolver.resolve(context) };
  }

  app.post(
    '/entities',
    { config: { access: write }, schema: { tags, summary: 'Create an entity', body: Payload } },
    async (request, reply) => {
      const { body, map } = await readBody(request);
      const input = parseEntity(body, map, { requireId: true, requireType: true });
      await service.create(writeScopeOf(request), input);
      return reply
        .code(201)
        .header('Location', `/ngsi-ld/v1/entities/${entityPath(input.id!)}`)
        .send();
    },
  );

  app.get(
    '/entities',
    {
      config: { access: read },
      schema: { tags, summary: 'Query entities', querystring: QueryParams },
    },
    async (request, reply) => {
      const params = request.query;
      const { context, map } = await readContext(request);
      return runQuery(
        deps,
        request,
        reply,
        entityFilterOf(params, 'A query'),
        params,
        context,
        map,
      );
    },
  );

  app.get(
    '/entities/:entityId',
    {
      config: { access: read },
      schema: {
        tags,
        summary: 'Retrieve an entity',
        params: EntityIdParams,
        querystring: QueryParams,
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const type = negotiate(request);
      const { context, map } = await readContext(request);
      const tenant = tenantOf(request);
      const render = renderOptionsOf(request.query, map);
      const local = () => service.retrieve({ tenant, visibility: visibilityOf(request), map }, id);
      const distributed = deps.distributed?.current;
      let entity: StoredEntity | null;
      if (distributed) {
        const answer = await distributed.retrieve({
          request,
          params: request.query,
          map,
          context,
          id,
          local,
        });
        if (answer.warnings.length > 0) reply.header('NGSILD-Warning', answer.warnings);
        entity = answer.value;
      } else entity = await local();
      if (!entity) throw notFound(`Entity ${id} was not found`);
      if (request.query.type !== undefined) {
        const wanted = (commaList(request.query.type) ?? []).map((t) => map.expand(t));
        if (!wanted.some((t) => entity.types.includes(t)))
          throw notFound(`Entity ${id} was not found`);
      }
      const geometryProperty = map.expand(request.query.geometryProperty ?? 'location');
      const body =
        type === 'application/geo+json'
          ? renderFeature(entity, map, render, geometryProperty)
          : renderEntity(entity, map, render);
      return sendNgsi(reply, type, context, body);
    },
  );

  app.delete(
    '/entities/:entityId',
    {
      config: { access: write },
      schema: { tags, summary: 'Delete an entity', params: EntityIdParams },
    },
    async (request, reply) => {
      await service.delete(writeScopeOf(request), checkEntityId(request.params.entityId));
      return reply.code(204).send();
    },
  );

  app.put(
    '/entities/:entityId',
    {
      config: { access: write },
      schema: { tags, summary: 'Replace an entity', params: EntityIdParams, body: Payload },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { body, map } = await readBody(request);
      const input = parseEntity(body, map, {});
      if (input.id !== undefined && input.id !== id)
        throw badRequest('The id in the body differs from the path');
      await service.replace(writeScopeOf(request), id, input);
      return reply.code(204).send();
    },
  );

  app.patch(
    '/entities/:entityId',
    {
      config: { access: write },
      schema: { tags, summary: 'Merge-patch an entity', params: EntityIdParams, body: Payload },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { body, map } = await readBody(request);
      const input = parseEntity(body, map, { allowNull: true });
      if (input.id !== undefined && input.id !== id)
        throw badRequest('The id in the body differs from the path');
      if (
        Object.keys(input.attrs).length === 0 &&
        input.removals.length === 0 &&
        !input.types &&
        input.scopes === undefined
      ) {
        throw badRequest('Nothing to merge');
      }
      await service.merge(writeScopeOf(request), id, input);
      return reply.code(204).send();
    },
  );

  const sendUpdateResult = (
    reply: FastifyReply,
    map: TermMap,
    result: { updated: string[]; notUpdated: { attributeName: string; reason: string }[] },
  ) => {
    if (result.notUpdated.length === 0) return reply.code(204).send();
    return reply
      .code(207)
      .type('application/json')
      .send({
        updated: result.updated.map((a) => map.compact(a)),
        notUpdated: result.notUpdated.map((n) => ({
          ...n,
          attributeName: map.compact(n.attributeName),
        })),
      });
  };

  app.post(
    '/entities/:entityId/attrs',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Append attributes (options=noOverwrite keeps existing ones)',
        params: EntityIdParams,
        querystring: Type.Object({ options: Type.Optional(Type.String()) }),
        body: Payload,
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { body, map } = await readBody(request);
      const input = parseEntity(body, map, {});
      if (input.id !== undefined && input.id !== id)
        throw badRequest('The id in the body differs from the path');
      if (Object.keys(input.attrs).length === 0 && !input.types && input.scopes === undefined) {
        throw badRequest('No attributes to append');
      }
      const noOverwrite = (commaList(request.query.options) ?? []).includes('noOverwrite');
      const result = await service.appendAttrs(writeScopeOf(request), id, input, noOverwrite);
      return sendUpdateResult(reply, map, result);
    },
  );

  app.patch(
    '/entities/:entityId/attrs',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Update existing attributes',
        params: EntityIdParams,
        body: Payload,
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { body, map } = await readBody(request);
      const input = parseEntity(body, map, {});
      if (Object.keys(input.attrs).length === 0) throw badRequest('No attributes to update');
      const result = await service.updateAttrs(writeScopeOf(request), id, input);
      return sendUpdateResult(reply, map, result);
    },
  );

  for (const method of ['patch', 'put'] as const) {
    app[method](
      '/entities/:entityId/attrs/:attrId',
      {
        config: { access: write },
        schema: {
          tags,
          summary: method === 'patch' ? 'Partially update an attribute' : 'Replace an attribute',
          params: AttrParams,
          body: Payload,
        },
      },
      async (request, reply) => {
        const id = checkEntityId(request.params.entityId);
        const { body, map } = await readBody(request);
        const attr = map.expand(checkAttrName(request.params.attrId));
        const inst = parseAttributeFragment(body, map);
        await service.writeAttr(
          writeScopeOf(request),
          id,
          attr,
          inst,
          method === 'patch' ? 'patch' : 'replace',
        );
        return reply.code(204).send();
      },
    );
  }

  app.delete(
    '/entities/:entityId/attrs/:attrId',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Delete an attribute (one datasetId, or all with deleteAll=true)',
        params: AttrParams,
        querystring: Type.Object({
          datasetId: Type.Optional(Type.String()),
          deleteAll: Type.Optional(Type.String()),
        }),
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { map } = await readContext(request);
      const attr = map.expand(checkAttrName(request.params.attrId));
      const { datasetId, deleteAll } = request.query;
      if (datasetId !== undefined && !isUri(datasetId)) throw badRequest('datasetId must be a URI');
      await service.deleteAttr(writeScopeOf(request), id, attr, datasetId, deleteAll === 'true');
      return reply.code(204).send();
    },
  );
}
