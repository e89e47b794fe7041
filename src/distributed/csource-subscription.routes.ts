/**
 * NGSI-LD /csourceSubscriptions (clause 5.11, bindings 6.12 and 6.13). What they notify
 * are registrations — where data lives and whom this node trusts to answer for it — so,
 * as for /csourceRegistrations, they are for admins and stewards.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { badRequest } from '../platform/http/errors.js';
import type { Clock } from '../platform/clock.js';
import type { App } from '../platform/http/server.js';
import { isUri } from '../context/entities/entity.model.js';
import { entityPath, paginationOf } from '../context/entities/entity.routes.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import {
  bodyContext,
  linkContext,
  negotiate,
  sendNgsi,
  tenantOf,
  withoutContext,
} from '../context/ngsi-request.js';
import { renderSubscription } from '../subscriptions/subscription.model.js';
import type { CSourceSubscriptionRecord } from './csource-subscription.repository.js';
import type { CSourceSubscriptionService } from './csource-subscription.service.js';

const access = { roles: ['steward'] as const };
const tags = ['NGSI-LD context source subscriptions'];
const Payload = Type.Unknown({ description: 'NGSI-LD Subscription (JSON or JSON-LD)' });
const IdParams = Type.Object({ subscriptionId: Type.String({ maxLength: 2048 }) });
const ListParams = Type.Object({
  limit: Type.Optional(Type.String({ maxLength: 10 })),
  offset: Type.Optional(Type.String({ maxLength: 10 })),
  count: Type.Optional(Type.String({ maxLength: 5 })),
  options: Type.Optional(Type.String({ maxLength: 100 })),
});
const Options = Type.Object({ options: Type.Optional(Type.String({ maxLength: 100 })) });

function checkId(id: string): string {
  if (!isUri(id)) throw badRequest(`Invalid subscription id: ${id}`);
  return id;
}

const sysAttrsOf = (options: string | undefined) => (options ?? '').split(',').includes('sysAttrs');

export function registerCSourceSubscriptionRoutes(
  app: App,
  service: CSourceSubscriptionService,
  resolver: ContextResolver,
  clock: Clock,
): void {
  /** The context a response is compacted with: the request's Link, else the stored one. */
  async function responseContext(
    request: FastifyRequest,
    stored: CSourceSubscriptionRecord | null,
  ): Promise<RequestContext | undefined> {
    const given = linkContext(request);
    if (given !== undefined) return given;
    const ctx = (stored?.context ?? undefined) as RequestContext | undefined;
    if (ctx === undefined || typeof ctx === 'string') return ctx;
    return negotiate(request, false) === 'application/ld+json' ? ctx : resolver.linkFor(ctx);
  }

  const render = (s: CSourceSubscriptionRecord, sysAttrs: boolean) =>
    renderSubscription(
      s.doc,
      s.status,
      clock.now(),
      sysAttrs ? { createdAt: s.createdAt, modifiedAt: s.modifiedAt } : null,
    );

  app.post(
    '/csourceSubscriptions',
    { config: { access }, schema: { tags, summary: 'Create a subscription', body: Payload } },
    async (request, reply) => {
      const context = bodyContext(request, request.body);
      const id = await service.create(
        tenantOf(request),
        withoutContext(request.body),
        context,
        request.actor,
      );
      return reply
        .code(201)
        .header('Location', `/ngsi-ld/v1/csourceSubscriptions/${entityPath(id)}`)
        .send();
    },
  );

  app.get(
    '/csourceSubscriptions',
    {
      config: { access },
      schema: { tags, summary: 'List subscriptions', querystring: ListParams },
    },
    async (request, reply) => {
      const type = negotiate(request, false);
      const page = paginationOf(request.query);
      const { items, total } = await service.list(tenantOf(request), page);
      if (page.count) reply.header('NGSILD-Results-Count', String(total));
      const sysAttrs = sysAttrsOf(request.query.options);
      return sendNgsi(
        reply,
        type,
        linkContext(request),
        items.map((s) => render(s, sysAttrs)),
      );
    },
  );

  app.get(
    '/csourceSubscriptions/:subscriptionId',
    {
      config: { access },
      schema: { tags, summary: 'Retrieve a subscription', params: IdParams, querystring: Options },
    },
    async (request, reply) => {
      const type = negotiate(request, false);
      const found = await service.get(tenantOf(request), checkId(request.params.subscriptionId));
      return sendNgsi(
        reply,
        type,
        await responseContext(request, found),
        render(found, sysAttrsOf(request.query.options)),
      );
    },
  );

  app.patch(
    '/csourceSubscriptions/:subscriptionId',
    {
      config: { access },
      schema: { tags, summary: 'Update a subscription', params: IdParams, body: Payload },
    },
    async (request, reply) => {
      const id = checkId(request.params.subscriptionId);
      const context = bodyContext(request, request.body);
      await service.update(tenantOf(request), id, withoutContext(request.body), context);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/csourceSubscriptions/:subscriptionId',
    {
      config: { access },
      schema: { tags, summary: 'Delete a subscription', params: IdParams },
    },
    async (request, reply) => {
      await service.delete(tenantOf(request), checkId(request.params.subscriptionId));
      return reply.code(204).send();
    },
  );
}
