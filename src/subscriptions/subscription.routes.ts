/** NGSI-LD /subscriptions routes (clause 5.8, bindings 6.10 and 6.11): parse, call, render. */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { badRequest } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import type { Clock } from '../platform/clock.js';
import { isUri } from '../context/entities/entity.model.js';
import { entityPath, paginationOf } from '../context/entities/entity.routes.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import {
  bodyContext,
  linkContext,
  negotiate,
  purposeOf,
  sendNgsi,
  tenantOf,
  withoutContext,
} from '../context/ngsi-request.js';
import { renderSubscription } from './subscription.model.js';
import type { SubscriptionRecord } from './subscription.repository.js';
import type { Caller, SubscriptionService } from './subscription.service.js';

const access = 'authenticated' as const;
const tags = ['NGSI-LD subscriptions'];
const Payload = Type.Unknown({ description: 'NGSI-LD Subscription (JSON or JSON-LD)' });
const IdParams = Type.Object({ subscriptionId: Type.String({ maxLength: 2048 }) });
const ListParams = Type.Object({
  limit: Type.Optional(Type.String({ maxLength: 10 })),
  offset: Type.Optional(Type.String({ maxLength: 10 })),
  count: Type.Optional(Type.String({ maxLength: 5 })),
  options: Type.Optional(Type.String({ maxLength: 100 })),
});

function callerOf(request: FastifyRequest): Caller {
  return { tenant: tenantOf(request), actor: request.actor, purpose: purposeOf(request) };
}

function checkId(id: string): string {
  if (!isUri(id)) throw badRequest(`Invalid subscription id: ${id}`);
  return id;
}

function sysAttrsOf(options: string | undefined): boolean {
  return (options ?? '').split(',').includes('sysAttrs');
}

export function registerSubscriptionRoutes(
  app: App,
  service: SubscriptionService,
  resolver: ContextResolver,
  clock: Clock,
): void {
  /** The context a response is compacted with: the request's Link, else the stored one. */
  async function responseContext(
    request: FastifyRequest,
    stored: SubscriptionRecord | null,
  ): Promise<RequestContext | undefined> {
    const given = linkContext(request);
    if (given !== undefined) return given;
    const ctx = (stored?.context ?? undefined) as RequestContext | undefined;
    if (ctx === undefined || typeof ctx === 'string') return ctx;
    return negotiate(request, false) === 'application/ld+json' ? ctx : resolver.linkFor(ctx);
  }

  const render = (s: SubscriptionRecord, sysAttrs: boolean) =>
    renderSubscription(
      s.doc,
      s.status,
      clock.now(),
      sysAttrs ? { createdAt: s.createdAt, modifiedAt: s.modifiedAt } : null,
    );

  app.post(
    '/subscriptions',
    {
      config: { access },
      schema: { tags, summary: 'Create a subscription', body: Payload },
    },
    async (request, reply) => {
      const context = bodyContext(request, request.body);
      const id = await service.create(callerOf(request), withoutContext(request.body), context);
      return reply
        .code(201)
        .header('Location', `/ngsi-ld/v1/subscriptions/${entityPath(id)}`)
        .send();
    },
  );

  app.get(
    '/subscriptions',
    {
      config: { access },
      schema: { tags, summary: 'List subscriptions', querystring: ListParams },
    },
    async (request, reply) => {
      const type = negotiate(request, false);
      const page = paginationOf(request.query);
      const { items, total } = await service.list(callerOf(request), page);
      if (total !== null) reply.header('NGSILD-Results-Count', String(total));
      const links: string[] = [];
      const pageLink = (offset: number, rel: string) =>
        `</ngsi-ld/v1/subscriptions?limit=${page.limit}&offset=${offset}>; rel="${rel}"; type="${type}"`;
      if (page.offset > 0) links.push(pageLink(Math.max(0, page.offset - page.limit), 'prev'));
      const more = total !== null ? page.offset + page.limit < total : items.length === page.limit;
      if (page.limit > 0 && more) links.push(pageLink(page.offset + page.limit, 'next'));
      const sysAttrs = sysAttrsOf(request.query.options);
      return sendNgsi(
        reply,
        type,
        await responseContext(request, null),
        items.map((s) => render(s, sysAttrs)),
        200,
        links,
      );
    },
  );

  app.get(
    '/subscriptions/:subscriptionId',
    {
      config: { access },
      schema: {
        tags,
        summary: 'Retrieve a subscription',
        params: IdParams,
        querystring: ListParams,
      },
    },
    async (request, reply) => {
      const type = negotiate(request, false);
      const found = await service.get(callerOf(request), checkId(request.params.subscriptionId));
      return sendNgsi(
        reply,
        type,
        await responseContext(request, found),
        render(found, sysAttrsOf(request.query.options)),
      );
    },
  );

  app.patch(
    '/subscriptions/:subscriptionId',
    {
      config: { access },
      schema: { tags, summary: 'Update a subscription', params: IdParams, body: Payload },
    },
    async (request, reply) => {
      const id = checkId(request.params.subscriptionId);
      const context = bodyContext(request, request.body);
      await service.update(callerOf(request), id, withoutContext(request.body), context);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/subscriptions/:subscriptionId',
    {
      config: { access },
      schema: { tags, summary: 'Delete a subscription', params: IdParams },
    },
    async (request, reply) => {
      await service.delete(callerOf(request), checkId(request.params.subscriptionId));
      return reply.code(204).send();
    },
  );
}
