/**
 * NGSI-LD temporal API routes (/ngsi-ld/v1/temporal/...): parse, resolve the @context,
 * call the temporal service, render through `renderTemporalEntity`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  isUri,
  isValidName,
  parseAttributeFragment,
  parseEntity,
  type Instance,
  type StoredEntity,
} from '../context/entities/entity.model.js';
import type { DistributedSlot } from '../context/entities/distributed-reads.js';
import type { EntityQuery } from '../context/entities/entity.query.js';
import {
  checkEntityId,
  entityFilterOf,
  entityPath,
  paginationOf,
} from '../context/entities/entity.routes.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import type { TermMap } from '../context/jsonld/term-map.js';
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
} from '../context/ngsi-request.js';
import { badRequest, notFound } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import {
  parseTemporalOptions,
  parseTemporalQuery,
  type OptionsInput,
  type TemporalQueryInput,
} from './temporal.params.js';
import { renderTemporalEntity } from './temporal.render.js';
import type { TemporalService } from './temporal.service.js';

const write = { roles: ['publisher'] as const };
const read = 'public' as const;
const tags = ['NGSI-LD temporal'];
/** Most attribute instances one write request may carry. */
export const MAX_INSTANCES_PER_REQUEST = 10_000;

const Payload = Type.Unknown({
  description: 'NGSI-LD payload (application/json or application/ld+json)',
});
const S = (max = 2048) => Type.Optional(Type.String({ maxLength: max }));
const OptionParams = {
  options: S(256),
  format: S(64),
  aggrMethods: S(256),
  aggrPeriodDuration: S(64),
  attrs: S(),
  pick: S(),
  omit: S(),
  datasetId: S(),
  lang: S(256),
  limit: S(16),
  offset: S(16),
  count: S(8),
};
const TimeParams = {
  timerel: S(16),
  timeAt: S(64),
  endTimeAt: S(64),
  timeproperty: S(32),
  lastN: S(16),
};
const QueryParams = Type.Object({
  id: S(),
  type: S(),
  idPattern: S(),
  q: S(),
  scopeQ: S(),
  georel: S(256),
  geometry: S(64),
  coordinates: S(16_384),
  geoproperty: S(512),
  ...TimeParams,
  ...OptionParams,
});
const RetrieveParams = Type.Object({ ...TimeParams, ...OptionParams });
const PostQueryParams = Type.Object(OptionParams);
const EntityIdParams = Type.Object({ entityId: Type.String({ maxLength: 2048 }) });
const AttrParams = Type.Object({
  entityId: Type.String({ maxLength: 2048 }),
  attrId: Type.String({ maxLength: 2048 }),
});
const InstanceParams = Type.Object({
  entityId: Type.String({ maxLength: 2048 }),
  attrId: Type.String({ maxLength: 2048 }),
  instanceId: Type.String({ maxLength: 2048 }),
});

type Options = OptionsInput & {
  attrs?: string | undefined;
  pick?: string | undefined;
  omit?: string | undefined;
  datasetId?: string | undefined;
  lang?: string | undefined;
  limit?: string | undefined;
  offset?: string | undefined;
  count?: string | undefined;
};

function checkAttrName(name: string): string {
  if (!isValidName(name)) throw badRequest(`Invalid attribute name: ${name}`);
  return name;
}

/** Members for pick/omit: id, type, scope or expanded attribute names. */
function members(list: string[] | undefined, map: TermMap): Set<string> | undefined {
  if (!list) return undefined;
  return new Set(
    list.map((n) => (['id', 'type', 'scope'].includes(n) ? n : map.expand(checkAttrName(n)))),
  );
}

/**
 * Parses an entity-shaped body whose attributes are instances or arrays of instances
 * (each parsed like a single attribute, so several instances of one dataset are fine).
 */
function parseInstances(body: Record<string, unknown>, map: TermMap): Record<string, Instance[]> {
  const out: Record<string, Instance[]> = {};
  let total = 0;
  for (const [name, value] of Object.entries(body)) {
    if (['id', '@id', 'type', '@type', 'scope', '@context'].includes(name)) continue;
    if (['createdAt', 'modifiedAt', 'deletedAt'].includes(name)) continue;
    checkAttrName(name);
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0) throw badRequest(`${name} must carry at least one instance`);
    total += list.length;
    if (total > MAX_INSTANCES_PER_REQUEST) {
      throw badRequest(`At most ${MAX_INSTANCES_PER_REQUEST} instances per request`);
    }
    for (const raw of list) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        throw badRequest(`${name}: each temporal instance must be an attribute object`);
      }
      const inst = { ...(raw as Record<string, unknown>) };
      delete inst.instanceId;
      delete inst.createdAt;
      delete inst.modifiedAt;
      const parsed = parseEntity({ [name]: inst }, map);
      for (const [iri, instances] of Object.entries(parsed.attrs)) {
        (out[iri] ??= []).push(...instances);
      }
    }
  }
  return out;
}

function datasetIdsOf(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = commaList(raw) ?? [];
  if (list.length === 0 || !list.every((d) => d === '@none' || isUri(d))) {
    throw badRequest('datasetId must be a list of URIs or @none');
  }
  return list;
}

export function registerTemporalRoutes(
  app: App,
  deps: {
    resolver: ContextResolver;
    service: TemporalService;
    /** Registered context sources (distributed operations), when that feature is mounted. */
    distributed?: DistributedSlot;
  },
): void {
  const { resolver, service } = deps;

  async function readContext(request: FastifyRequest) {
    const context = linkContext(request);
    return { context, map: await resolver.resolve(context) };
  }

  async function readBody(request: FastifyRequest) {
    const body = request.body;
    const context = bodyContext(request, body);
    const map = await resolver.resolve(context);
    const stripped = withoutContext(body);
    if (!stripped || typeof stripped !== 'object' || Array.isArray(stripped)) {
      throw badRequest('The body must be a JSON object');
    }
    return { body: stripped as Record<string, unknown>, map };
  }

  /** Runs a temporal query and sends the result (GET and POST query, and GET by id). */
  async function respond(
    request: FastifyRequest,
    reply: FastifyReply,
    query: Omit<EntityQuery, 'map' | 'tenant' | 'visibility' | 'attrs'>,
    temporalInput: TemporalQueryInput,
    params: Options,
    context: RequestContext | undefined,
    map: TermMap,
    single: string | null,
  ): Promise<FastifyReply> {
    const type = negotiate(request, false);
    const temporal = parseTemporalQuery(temporalInput);
    const options = parseTemporalOptions(params);
    const attrs = commaList(params.attrs)?.map((a) => map.expand(checkAttrName(a)));
    const pick = commaList(params.pick);
    const omit = commaList(params.omit);
    if (pick && omit) throw badRequest('pick and omit cannot be combined');
    const page = single
      ? { limit: 1, offset: 0, count: false }
      : paginationOf({ limit: params.limit, offset: params.offset, count: params.count });
    const visibility = visibilityOf(request);
    const tenant = tenantOf(request);
    const render = {
      representation: options.representation,
      sysAttrs: options.sysAttrs,
      aggrMethods: options.aggrMethods,
      aggrPeriod: options.aggrPeriod,
      rangeStart: temporal.timerel === 'before' ? undefined : temporal.timeAt,
      rangeEnd: temporal.timerel === 'before' ? temporal.timeAt : temporal.endTimeAt,
      pickMembers: members(pick, map),
      omitMembers: members(omit, map),
      lang: params.lang,
    };
    const local = async (p: typeof page, v: typeof visibility) => {
      const result = await service.query({
        // attrs also selects entities (those having one of them), except for one entity by id.
        query: { ...query, tenant, visibility: v, map, attrs: single ? undefined : attrs },
        page: p,
        temporal,
        options,
        attrs,
        datasetIds: datasetIdsOf(params.datasetId),
      });
      return {
        ...result,
        bodies: result.entities.map((e) => renderTemporalEntity(e, map, render)),
      };
    };
    // Registered context sources answer GET queries and retrieves too (distributed
    // operations); the POST query form is answered locally.
    const distributed = request.method === 'GET' ? deps.distributed?.current : null;
    let bodies: Record<string, unknown>[];
    let total: number | null;
    let range: Awaited<ReturnType<typeof local>>['range'] = null;
    if (distributed) {
      // Read without metering; only the local entities that make the page are metered.
      const unmetered = visibility.all ? visibility : { ...visibility, onRead: undefined };
      const seen = new Map<string, StoredEntity>();
      const answer = await distributed.temporal({
        request,
        params: request.query as Record<string, string | undefined>,
        map,
        context,
        id: single,
        page,
        local: async (p) => {
          const result = await local(p, unmetered);
          for (const e of result.entities) seen.set(e.entity.id, e.entity);
          range = result.range;
          return { entities: result.bodies, total: result.total };
        },
        observe: (ids) => {
          const found = ids.flatMap((id) => seen.get(id) ?? []);
          if (!visibility.all && found.length > 0) visibility.onRead?.(tenant, found);
        },
      });
      if (answer.warnings.length > 0) reply.header('NGSILD-Warning', answer.warnings);
      ({ entities: bodies, total } = answer.value);
    } else {
      const result = await local(page, visibility);
      ({ bodies, total, range } = result);
    }
    if (single && bodies.length === 0) {
      throw notFoundEntity(single);
    }
    if (total !== null) reply.header('NGSILD-Results-Count', String(total));
    let status = 200;
    if (range) {
      const r = range as { start: Date; end: Date; size: number | '*' };
      status = 206;
      reply.header(
        'Content-Range',
        `date-time ${r.start.toISOString()}-${r.end.toISOString()}/${r.size}`,
      );
    }
    const responseContext =
      type !== 'application/ld+json' && context !== undefined && typeof context !== 'string'
        ? await resolver.linkFor(context)
        : context;
    return sendNgsi(reply, type, responseContext, single ? bodies[0] : bodies, status);
  }

  app.post(
    '/temporal/entities',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Create or add to the temporal evolution of an entity',
        body: Payload,
      },
    },
    async (request, reply) => {
      const { body, map } = await readBody(request);
      const head = parseEntity(
        { id: body.id ?? body['@id'], type: body.type ?? body['@type'], scope: body.scope },
        map,
        { requireId: true, requireType: true },
      );
      const instances = parseInstances(body, map);
      const created = await service.upsertTemporal(
        writeScopeOf(request),
        { ...head, id: head.id!, types: head.types! },
        instances,
      );
      if (!created) return reply.code(204).send();
      return reply
        .code(201)
        .header('Location', `/ngsi-ld/v1/temporal/entities/${entityPath(head.id!)}`)
        .send();
    },
  );

  app.get(
    '/temporal/entities',
    {
      config: { access: read },
      schema: {
        tags,
        summary: 'Query the temporal evolution of entities',
        querystring: QueryParams,
      },
    },
    async (request, reply) => {
      const params = request.query;
      const { context, map } = await readContext(request);
      return respond(
        request,
        reply,
        entityFilterOf(params, 'A temporal query'),
        params,
        params,
        context,
        map,
        null,
      );
    },
  );

  app.get(
    '/temporal/entities/:entityId',
    {
      config: { access: read },
      schema: {
        tags,
        summary: 'Retrieve the temporal evolution of an entity',
        params: EntityIdParams,
        querystring: RetrieveParams,
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { context, map } = await readContext(request);
      return respond(
        request,
        reply,
        { selectors: [], ids: [id] },
        request.query,
        request.query,
        context,
        map,
        id,
      );
    },
  );

  app.delete(
    '/temporal/entities/:entityId',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Delete an entity and its temporal evolution',
        params: EntityIdParams,
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      await readContext(request);
      await service.deleteEntity(writeScopeOf(request), id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/temporal/entities/:entityId/attrs',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Add attribute instances to the temporal evolution of an entity',
        params: EntityIdParams,
        body: Payload,
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { body, map } = await readBody(request);
      const instances = parseInstances(body, map);
      if (Object.keys(instances).length === 0) throw badRequest('No attribute instances given');
      await service.appendAttrs(writeScopeOf(request), id, instances);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/temporal/entities/:entityId/attrs/:attrId',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Delete the instances of an attribute (one datasetId, or all with deleteAll)',
        params: AttrParams,
        querystring: Type.Object({ datasetId: S(), deleteAll: S(8) }),
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const { map } = await readContext(request);
      const attr = map.expand(checkAttrName(request.params.attrId));
      const { datasetId, deleteAll } = request.query;
      if (deleteAll !== undefined && !['true', 'false'].includes(deleteAll)) {
        throw badRequest('deleteAll must be true or false');
      }
      if (datasetId !== undefined && !isUri(datasetId)) throw badRequest('datasetId must be a URI');
      const dataset = deleteAll === 'true' ? null : (datasetId ?? '');
      await service.deleteAttr(writeScopeOf(request), id, attr, dataset);
      return reply.code(204).send();
    },
  );

  app.patch(
    '/temporal/entities/:entityId/attrs/:attrId/:instanceId',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Modify one attribute instance',
        params: InstanceParams,
        body: Payload,
      },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const instanceId = request.params.instanceId;
      if (!isUri(instanceId)) throw badRequest('instanceId must be a URI');
      const { body, map } = await readBody(request);
      const name = checkAttrName(request.params.attrId);
      const attr = map.expand(name);
      // The body is a fragment: { "<attrId>": { instance } } or the instance itself.
      let raw: unknown = body[name] ?? body;
      if (Array.isArray(raw)) {
        if (raw.length !== 1) throw badRequest('Exactly one instance may be given');
        raw = raw[0];
      }
      const inst = { ...(raw as Record<string, unknown>) };
      delete inst.instanceId;
      delete inst.createdAt;
      delete inst.modifiedAt;
      const instance = parseAttributeFragment(inst, map);
      await service.updateInstance(writeScopeOf(request), id, attr, instanceId, instance);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/temporal/entities/:entityId/attrs/:attrId/:instanceId',
    {
      config: { access: write },
      schema: { tags, summary: 'Delete one attribute instance', params: InstanceParams },
    },
    async (request, reply) => {
      const id = checkEntityId(request.params.entityId);
      const instanceId = request.params.instanceId;
      if (!isUri(instanceId)) throw badRequest('instanceId must be a URI');
      const { map } = await readContext(request);
      const attr = map.expand(checkAttrName(request.params.attrId));
      await service.deleteInstance(writeScopeOf(request), id, attr, instanceId);
      return reply.code(204).send();
    },
  );

  app.post(
    '/temporal/entityOperations/query',
    {
      config: { access: read },
      schema: {
        tags,
        summary: 'Query the temporal evolution of entities with a Query body',
        body: Payload,
        querystring: PostQueryParams,
      },
    },
    async (request, reply) => {
      const raw = request.body as Record<string, unknown> | null;
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        throw badRequest('The body must be a Query object');
      }
      if (raw.type !== undefined && raw.type !== 'Query') {
        throw badRequest('The body type must be Query');
      }
      const context = bodyContext(request, raw);
      const map = await resolver.resolve(context);
      const entities = raw.entities ?? [];
      if (!Array.isArray(entities)) throw badRequest('entities must be an array');
      const selectors = entities.map((s: unknown) => {
        const sel = s as Record<string, unknown>;
        if (!sel || typeof sel !== 'object') throw badRequest('Invalid entity selector');
        for (const k of ['id', 'idPattern', 'type'] as const) {
          if (sel[k] !== undefined && typeof sel[k] !== 'string') {
            throw badRequest(`entities[].${k} must be a string`);
          }
        }
        return {
          id: sel.id as string | undefined,
          idPattern: sel.idPattern as string | undefined,
          type: sel.type as string | undefined,
        };
      });
      const attrs = raw.attrs;
      if (
        attrs !== undefined &&
        (!Array.isArray(attrs) || !attrs.every((a) => typeof a === 'string'))
      ) {
        throw badRequest('attrs must be an array of attribute names');
      }
      for (const k of ['q', 'scopeQ', 'lang'] as const) {
        if (raw[k] !== undefined && typeof raw[k] !== 'string')
          throw badRequest(`${k} must be a string`);
      }
      const geoQ = raw.geoQ as Record<string, unknown> | undefined;
      if (geoQ !== undefined && (!geoQ || typeof geoQ !== 'object' || Array.isArray(geoQ))) {
        throw badRequest('geoQ must be an object');
      }
      const temporalQ = (raw.temporalQ ?? {}) as Record<string, unknown>;
      if (!temporalQ || typeof temporalQ !== 'object' || Array.isArray(temporalQ)) {
        throw badRequest('temporalQ must be an object');
      }
      for (const k of ['timerel', 'timeAt', 'endTimeAt', 'timeproperty'] as const) {
        if (temporalQ[k] !== undefined && typeof temporalQ[k] !== 'string') {
          throw badRequest(`temporalQ.${k} must be a string`);
        }
      }
      if (
        selectors.length === 0 &&
        !attrs &&
        raw.q === undefined &&
        !geoQ &&
        raw.scopeQ === undefined
      ) {
        throw badRequest('A query needs entities, attrs, q, geoQ or scopeQ');
      }
      const params: Options = {
        ...request.query,
        ...(attrs ? { attrs: (attrs as string[]).join(',') } : {}),
        ...(typeof raw.lang === 'string' ? { lang: raw.lang } : {}),
      };
      return respond(
        request,
        reply,
        {
          selectors,
          q: raw.q as string | undefined,
          scopeQ: raw.scopeQ as string | undefined,
          geo: geoQ
            ? {
                georel: geoQ.georel as string | undefined,
                geometry: geoQ.geometry as string | undefined,
                coordinates: geoQ.coordinates,
                geoproperty: geoQ.geoproperty as string | undefined,
              }
            : undefined,
        },
        temporalQ as TemporalQueryInput,
        params,
        context,
        map,
        null,
      );
    },
  );
}

const notFoundEntity = (id: string) => notFound(`Entity ${id} not found`);
