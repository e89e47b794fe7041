/** NGSI-LD /entityOperations: batch create, upsert, update, delete, merge and query. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, badRequest, errorCodes, problemType } from '../../platform/http/errors.js';
import type { App } from '../../platform/http/server.js';
import type { RequestContext } from '../jsonld/context-resolver.js';
import type { TermMap } from '../jsonld/term-map.js';
import { commaList, linkContext, writeScopeOf } from '../ngsi-request.js';
import { isUri, parseEntityList, type EntityInput } from './entity.model.js';
import { QueryParams, runQuery, type ContextDeps } from './entity.routes.js';
import type { Outcome } from './entity.service.js';

const Payload = Type.Unknown({
  description: 'A JSON array (application/json or application/ld+json)',
});
const write = { roles: ['publisher'] as const };

function problem(error: AppError) {
  return {
    type: problemType(error.code, 'ngsi-ld'),
    title: errorCodes[error.code].title,
    status: error.status,
    detail: error.detail,
  };
}

function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function registerBatchRoutes(app: App, deps: ContextDeps): void {
  const tags = ['NGSI-LD batch operations'];

  /**
   * Parses a batch body. Entities that fail validation are reported individually; the
   * rest go to the service. application/ld+json: each entity carries its own @context.
   */
  async function parseBatch(
    request: FastifyRequest,
    options: { requireId: boolean; requireType: boolean; allowNull?: boolean },
  ): Promise<{ valid: EntityInput[]; invalid: Outcome[] }> {
    const body = request.body;
    if (!Array.isArray(body)) throw badRequest('The body must be a JSON array of entities');
    if (body.length === 0) throw badRequest('The batch is empty');
    const ld = mediaType(request) === 'application/ld+json';
    const maps: TermMap[] = [];
    if (ld) {
      if (linkContext(request) !== undefined) {
        throw badRequest('application/ld+json requests carry their @context in the body');
      }
      for (const item of body) {
        const ctx = (item as { '@context'?: unknown } | null)?.['@context'];
        if (ctx === undefined)
          throw badRequest('Every entity of an application/ld+json batch needs @context');
        maps.push(await deps.resolver.resolve(ctx as RequestContext));
      }
    } else {
      if (body.some((item) => item && typeof item === 'object' && '@context' in item)) {
        throw badRequest('An application/json body must not contain @context; use a Link header');
      }
      const map = await deps.resolver.resolve(linkContext(request));
      body.forEach(() => maps.push(map));
    }
    const stripped = body.map((item) => {
      if (item && typeof item === 'object' && !Array.isArray(item)) {
        const copy = { ...(item as Record<string, unknown>) };
        delete copy['@context'];
        return copy;
      }
      return item;
    });
    const parsed = parseEntityList(stripped, (i) => maps[i]!, options);
    const valid: EntityInput[] = [];
    const invalid: Outcome[] = [];
    for (const p of parsed) {
      if (p.ok) valid.push(p.entity);
      else invalid.push({ id: p.id ?? '', ok: false, error: badRequest(p.detail) });
    }
    return { valid, invalid };
  }

  function sendOutcomes(
    reply: FastifyReply,
    outcomes: Outcome[],
    success: { status: 201 | 204; ids?: 'created' | 'all' },
  ): FastifyReply {
    const errors = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
    const ok = outcomes.filter((o) => o.ok);
    if (errors.length === 0) {
      if (success.status === 201) {
        const ids =
          success.ids === 'created'
            ? ok.filter((o) => o.ok && o.created).map((o) => o.id)
            : ok.map((o) => o.id);
        if (ids.length === 0) return reply.code(204).send();
        return reply.code(201).type('application/json').send(ids);
      }
      return reply.code(204).send();
    }
    return reply
      .code(207)
      .type('application/json')
      .send({
        success: ok.map((o) => o.id),
        errors: errors.map((o) => ({ entityId: o.id, error: problem(o.error) })),
      });
  }

  const optionsQuery = Type.Object({ options: Type.Optional(Type.String()) });

  app.post(
    '/entityOperations/create',
    { config: { access: write }, schema: { tags, summary: 'Batch create', body: Payload } },
    async (request, reply) => {
      const { valid, invalid } = await parseBatch(request, { requireId: true, requireType: true });
      const outcomes =
        valid.length > 0 ? await deps.service.batchCreate(writeScopeOf(request), valid) : [];
      return sendOutcomes(reply, [...outcomes, ...invalid], { status: 201, ids: 'all' });
    },
  );

  app.post(
    '/entityOperations/upsert',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Batch upsert (options=replace|update)',
        body: Payload,
        querystring: optionsQuery,
      },
    },
    async (request, reply) => {
      const options = commaList(request.query.options) ?? [];
      if (options.some((o) => o !== 'update' && o !== 'replace'))
        throw badRequest('options must be update or replace');
      const mode = options.includes('update') ? 'update' : 'replace';
      const { valid, invalid } = await parseBatch(request, { requireId: true, requireType: true });
      const outcomes =
        valid.length > 0 ? await deps.service.batchUpsert(writeScopeOf(request), valid, mode) : [];
      return sendOutcomes(reply, [...outcomes, ...invalid], { status: 201, ids: 'created' });
    },
  );

  app.post(
    '/entityOperations/update',
    {
      config: { access: write },
      schema: {
        tags,
        summary: 'Batch update (options=noOverwrite)',
        body: Payload,
        querystring: optionsQuery,
      },
    },
    async (request, reply) => {
      const noOverwrite = (commaList(request.query.options) ?? []).includes('noOverwrite');
      const { valid, invalid } = await parseBatch(request, { requireId: true, requireType: false });
      const outcomes =
        valid.length > 0
          ? await deps.service.batchUpdate(writeScopeOf(request), valid, noOverwrite)
          : [];
      return sendOutcomes(reply, [...outcomes, ...invalid], { status: 204 });
    },
  );

  app.post(
    '/entityOperations/merge',
    { config: { access: write }, schema: { tags, summary: 'Batch merge', body: Payload } },
    async (request, reply) => {
      const { valid, invalid } = await parseBatch(request, {
        requireId: true,
        requireType: false,
        allowNull: true,
      });
      const outcomes =
        valid.length > 0 ? await deps.service.batchMerge(writeScopeOf(request), valid) : [];
      return sendOutcomes(reply, [...outcomes, ...invalid], { status: 204 });
    },
  );

  app.post(
    '/entityOperations/delete',
    { config: { access: write }, schema: { tags, summary: 'Batch delete', body: Payload } },
    async (request, reply) => {
      const body = request.body;
      if (!Array.isArray(body) || body.length === 0)
        throw badRequest('The body must be a non-empty array of entity ids');
      const valid = body.filter(isUri);
      const invalid: Outcome[] = body
        .filter((id) => !isUri(id))
        .map((id) => ({
          id: String(id),
          ok: false,
          error: badRequest(`Invalid entity id ${String(id)}`),
        }));
      const outcomes =
        valid.length > 0 ? await deps.service.batchDelete(writeScopeOf(request), valid) : [];
      return sendOutcomes(reply, [...outcomes, ...invalid], { status: 204 });
    },
  );

  app.post(
    '/entityOperations/query',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Query entities with a Query body',
        body: Payload,
        querystring: QueryParams,
      },
    },
    async (request, reply) => {
      const raw = request.body as Record<string, unknown> | null;
      if (!raw || typeof raw !== 'object' || Array.isArray(raw))
        throw badRequest('The body must be a Query object');
      if (raw.type !== undefined && raw.type !== 'Query')
        throw badRequest('The body type must be Query');
      let context: RequestContext | undefined;
      if (mediaType(request) === 'application/ld+json') {
        if (raw['@context'] === undefined)
          throw badRequest('An application/ld+json body must contain @context');
        context = raw['@context'] as RequestContext;
      } else {
        if (raw['@context'] !== undefined)
          throw badRequest('An application/json body must not contain @context');
        context = linkContext(request);
      }
      const map = await deps.resolver.resolve(context);
      const entities = raw.entities === undefined ? [] : raw.entities;
      if (!Array.isArray(entities)) throw badRequest('entities must be an array');
      const selectors = entities.map((s: unknown) => {
        const sel = s as Record<string, unknown>;
        if (!sel || typeof sel !== 'object') throw badRequest('Invalid entity selector');
        for (const k of ['id', 'idPattern', 'type'] as const) {
          if (sel[k] !== undefined && typeof sel[k] !== 'string')
            throw badRequest(`entities[].${k} must be a string`);
        }
        return {
          id: sel.id as string | undefined,
          idPattern: sel.idPattern as string | undefined,
          type: sel.type as string | undefined,
        };
      });
      const attrs = raw.attrs === undefined ? undefined : raw.attrs;
      if (
        attrs !== undefined &&
        (!Array.isArray(attrs) || !attrs.every((a) => typeof a === 'string'))
      ) {
        throw badRequest('attrs must be an array of attribute names');
      }
      const geoQ = (raw.geoQ ?? undefined) as Record<string, unknown> | undefined;
      if (selectors.length === 0 && !attrs && raw.q === undefined && !geoQ) {
        throw badRequest('A query needs entities, attrs, q or geoQ');
      }
      const params = {
        ...request.query,
        ...(attrs ? { attrs: (attrs as string[]).join(',') } : {}),
        ...(typeof raw.lang === 'string' ? { lang: raw.lang } : {}),
      };
      return runQuery(
        deps,
        request,
        reply,
        {
          selectors,
          q: typeof raw.q === 'string' ? raw.q : undefined,
          scopeQ: typeof raw.scopeQ === 'string' ? raw.scopeQ : undefined,
          geo: geoQ
            ? {
                georel: geoQ.georel as string | undefined,
                geometry: geoQ.geometry as string | undefined,
                coordinates: geoQ.coordinates,
                geoproperty: geoQ.geoproperty as string | undefined,
              }
            : undefined,
        },
        params,
        context,
        map,
      );
    },
  );
}
