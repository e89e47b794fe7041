/** /jsonldContexts: list, get, add (hosted) and delete (or reload) @contexts kept by the node. */
import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import { badRequest, notFound } from '../../platform/http/errors.js';
import type { App } from '../../platform/http/server.js';
import type { ContextDeps } from '../entities/entity.routes.js';
import { coreContextDocument, CORE_CONTEXT_URL, isCoreContextUrl } from './core-context.js';
import {
  deleteContext,
  findContextById,
  findContextByUrl,
  listContexts,
  saveContext,
  type StoredContext,
  type ContextKind,
} from './context-store.js';

const KIND_NAMES = { hosted: 'Hosted', cached: 'Cached', implicit: 'ImplicitlyCreated' } as const;

export function registerContextRoutes(app: App, deps: ContextDeps, clock: { now(): Date }): void {
  const tags = ['NGSI-LD @contexts'];
  const prefix = deps.resolver.hostedPrefix;

  const info = (c: StoredContext) => ({
    URL: c.url,
    localId: c.id,
    kind: KIND_NAMES[c.kind],
    timestamp: (c.fetchedAt ?? c.createdAt).toISOString(),
    ...(c.lastUsedAt ? { lastUsage: c.lastUsedAt.toISOString() } : {}),
    numberOfHits: c.hits,
  });
  const coreInfo = { URL: CORE_CONTEXT_URL, localId: 'core', kind: 'Cached', numberOfHits: 0 };

  async function find(idOrUrl: string): Promise<StoredContext | null> {
    return /^https?:\/\//.test(idOrUrl)
      ? findContextByUrl(deps.db, idOrUrl)
      : findContextById(deps.db, idOrUrl);
  }

  app.get(
    '/jsonldContexts',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'List @contexts',
        querystring: Type.Object({
          details: Type.Optional(Type.String()),
          kind: Type.Optional(Type.String()),
        }),
      },
    },
    async (request, reply) => {
      const { details, kind } = request.query;
      const kinds: Record<string, ContextKind> = {
        Hosted: 'hosted',
        Cached: 'cached',
        ImplicitlyCreated: 'implicit',
      };
      if (kind !== undefined && !(kind in kinds)) throw badRequest(`Unknown kind ${kind}`);
      const stored = await listContexts(deps.db, kind ? kinds[kind]! : null);
      const withCore = kind === undefined || kind === 'Cached';
      const body =
        details === 'true'
          ? [...(withCore ? [coreInfo] : []), ...stored.map(info)]
          : [...(withCore ? [CORE_CONTEXT_URL] : []), ...stored.map((c) => c.url)];
      return reply.type('application/json').send(body);
    },
  );

  app.get(
    '/jsonldContexts/:contextId',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Get an @context (details=true: information about it)',
        params: Type.Object({ contextId: Type.String() }),
        querystring: Type.Object({ details: Type.Optional(Type.String()) }),
      },
    },
    async (request, reply) => {
      const { contextId } = request.params;
      if (contextId === 'core' || isCoreContextUrl(contextId)) {
        return reply
          .type('application/ld+json')
          .send(request.query.details === 'true' ? coreInfo : coreContextDocument);
      }
      const found = await find(contextId);
      if (!found) throw notFound(`@context ${contextId} was not found`);
      if (request.query.details === 'true') return reply.type('application/json').send(info(found));
      return reply.type('application/ld+json').send(found.body);
    },
  );

  app.post(
    '/jsonldContexts',
    {
      config: { access: { roles: ['publisher'] } },
      schema: { tags, summary: 'Add a hosted @context', body: Type.Unknown() },
    },
    async (request, reply) => {
      const body = request.body as Record<string, unknown> | null;
      if (!body || typeof body !== 'object' || Array.isArray(body) || !('@context' in body)) {
        throw badRequest('The body must be a JSON object with @context');
      }
      const ctx = body['@context'];
      const entries = Array.isArray(ctx) ? ctx : [ctx];
      if (
        !entries.every(
          (e) => typeof e === 'string' || (e && typeof e === 'object' && !Array.isArray(e)),
        )
      ) {
        throw badRequest('@context must be an object, a URL or an array of them');
      }
      const id = randomUUID();
      const url = `${prefix}${id}`;
      await saveContext(deps.db, {
        id,
        url,
        kind: 'hosted',
        body: { '@context': ctx },
        at: clock.now(),
      });
      return reply.code(201).header('Location', `/ngsi-ld/v1/jsonldContexts/${id}`).send();
    },
  );

  app.delete(
    '/jsonldContexts/:contextId',
    {
      config: { access: { roles: ['admin'] } },
      schema: {
        tags,
        summary: 'Delete a hosted @context, or reload a cached one (reload=true)',
        params: Type.Object({ contextId: Type.String() }),
        querystring: Type.Object({ reload: Type.Optional(Type.String()) }),
      },
    },
    async (request, reply) => {
      const { contextId } = request.params;
      if (contextId === 'core' || isCoreContextUrl(contextId))
        throw badRequest('The core @context cannot be deleted');
      const found = await find(contextId);
      if (!found) throw notFound(`@context ${contextId} was not found`);
      if (request.query.reload === 'true' && found.kind !== 'cached') {
        throw badRequest('Only cached @contexts can be reloaded');
      }
      await deleteContext(deps.db, found.id);
      deps.resolver.invalidate(found.url);
      if (request.query.reload === 'true') await deps.resolver.resolve(found.url);
      return reply.code(204).send();
    },
  );
}
