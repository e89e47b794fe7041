/**
 * API clients of the caller's own organisation, for the portal's consumer console: a
 * signed-in person (or client) holding the consumer role lists, creates and rotates its
 * organisation's clients without an admin. A client made here holds the consumer role
 * only, so nobody can mint themselves more than they have. Only such consumer-only
 * clients are listed and rotated here: rotating the secret of a steward's or an admin's
 * client of the same organisation would hand its roles to whoever rotates it. Other
 * clients, and clients of other organisations, look as if they did not exist.
 */
import { Type } from 'typebox';
import { forbidden, notFound } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import { Client, ClientCredentials, ClientId } from './identity.schemas.js';
import type { Client as ClientRecord, RegistryService } from './registry.service.js';

const consumers = { access: { roles: ['consumer'] as const } };
const tags = ['identity'];
/** Enough for any real organisation; bounds the listing and what one account can create. */
const MAX_OWN_CLIENTS = 50;

/** A client this API may show and rotate: one holding the consumer role and nothing else. */
const consumerOnly = (c: ClientRecord) => c.roles.length === 1 && c.roles[0] === 'consumer';

const dto = (c: ClientRecord) => ({
  id: c.id,
  organisationId: c.organisationId,
  name: c.name,
  status: c.status,
  roles: [...c.roles],
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
});

export function registerOwnClientRoutes(app: App, registry: RegistryService): void {
  const organisationOf = (actor: { organisationId: string | null }): string => {
    if (!actor.organisationId) throw forbidden('This caller belongs to no organisation');
    return actor.organisationId;
  };

  app.get(
    '/api/v1/me/clients',
    {
      config: consumers,
      schema: {
        tags,
        summary: 'API clients of the caller’s organisation.',
        response: { 200: Type.Array(Client) },
      },
    },
    async (request) =>
      (await registry.listClients(organisationOf(request.actor)))
        .filter(consumerOnly)
        .slice(0, MAX_OWN_CLIENTS)
        .map(dto),
  );

  app.post(
    '/api/v1/me/clients',
    {
      config: consumers,
      schema: {
        tags,
        summary:
          'Create a consumer API client for the caller’s organisation; its secret is in this response only.',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 201: ClientCredentials },
      },
    },
    async (request, reply) => {
      const organisationId = organisationOf(request.actor);
      if ((await registry.listClients(organisationId)).length >= MAX_OWN_CLIENTS) {
        throw forbidden(`An organisation may hold at most ${MAX_OWN_CLIENTS} API clients`);
      }
      const result = await registry.createClient(request.actor, {
        organisationId,
        name: request.body.name,
        roles: ['consumer'],
      });
      if (!result.ok) throw notFound();
      reply.header('Cache-Control', 'no-store');
      return reply.code(201).send({ client: dto(result.client), clientSecret: result.secret });
    },
  );

  app.post(
    '/api/v1/me/clients/:clientId/secret',
    {
      config: consumers,
      schema: {
        tags,
        summary:
          'Rotate the secret of one of the organisation’s clients; the new one is shown once.',
        params: Type.Object({ clientId: ClientId }),
        response: { 200: Type.Object({ clientId: Type.String(), clientSecret: Type.String() }) },
      },
    },
    async (request, reply) => {
      const organisationId = organisationOf(request.actor);
      const client = await registry.getClient(request.params.clientId);
      if (!client || client.organisationId !== organisationId || !consumerOnly(client)) {
        throw notFound();
      }
      const secret = await registry.rotateClientSecret(request.actor, client.id);
      if (!secret) throw notFound();
      reply.header('Cache-Control', 'no-store');
      return { clientId: client.id, clientSecret: secret };
    },
  );
}
