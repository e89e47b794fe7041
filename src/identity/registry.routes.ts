/** The admin API of the identity registry: organisations, API clients, people and roles. */
import { Type } from 'typebox';
import { notFound, alreadyExists } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import type { Role } from '../platform/http/access.js';
import {
  Client,
  ClientCredentials,
  ClientId,
  CreateClient,
  CreateLocalAccount,
  CreateOrganisation,
  Me,
  Organisation,
  OrganisationId,
  Person,
  PersonId,
  RoleName,
  Roles,
  SigningKey,
  UpdateClient,
  UpdateOrganisation,
} from './identity.schemas.js';
import type {
  Client as ClientRecord,
  Organisation as OrganisationRecord,
  Person as PersonRecord,
  RegistryService,
} from './registry.service.js';
import type { SigningKeys } from './signing-keys.js';

const admin = { access: { roles: ['admin'] as const } };
const tags = ['identity'];

const organisationDto = (o: OrganisationRecord) => ({
  ...o,
  createdAt: o.createdAt.toISOString(),
  updatedAt: o.updatedAt.toISOString(),
});
const clientDto = (c: ClientRecord) => ({
  id: c.id,
  organisationId: c.organisationId,
  name: c.name,
  status: c.status,
  roles: [...c.roles],
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
});
const personDto = (p: PersonRecord) => ({
  id: p.id,
  organisationId: p.organisationId,
  issuer: p.issuer,
  displayName: p.displayName,
  email: p.email,
  username: p.username,
  status: p.status,
  roles: [...p.roles],
  createdAt: p.createdAt.toISOString(),
});

export function registerRegistryRoutes(
  app: App,
  registry: RegistryService,
  keys: SigningKeys,
  localIssuer: string,
): void {
  app.get(
    '/api/v1/me',
    {
      config: { access: 'authenticated' },
      schema: { tags, summary: 'The caller as the node sees it.', response: { 200: Me } },
    },
    async (request) => ({ ...request.actor, roles: [...request.actor.roles] }),
  );

  // ── organisations ──────────────────────────────────────────────────────────────

  app.get(
    '/api/v1/organisations',
    {
      config: admin,
      schema: {
        tags,
        summary: 'List the organisations that are members of this node.',
        response: { 200: Type.Array(Organisation) },
      },
    },
    async () => (await registry.listOrganisations()).map(organisationDto),
  );

  app.post(
    '/api/v1/organisations',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Register an organisation.',
        body: CreateOrganisation,
        response: { 201: Organisation },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(organisationDto(await registry.createOrganisation(request.actor, request.body))),
  );

  app.get(
    '/api/v1/organisations/:organisationId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'One organisation.',
        params: Type.Object({ organisationId: OrganisationId }),
        response: { 200: Organisation },
      },
    },
    async (request) => {
      const org = await registry.getOrganisation(request.params.organisationId);
      if (!org) throw notFound('No such organisation');
      return organisationDto(org);
    },
  );

  app.patch(
    '/api/v1/organisations/:organisationId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Rename an organisation or set its verified flag.',
        params: Type.Object({ organisationId: OrganisationId }),
        body: UpdateOrganisation,
        response: { 200: Organisation },
      },
    },
    async (request) => {
      const org = await registry.updateOrganisation(
        request.actor,
        request.params.organisationId,
        request.body,
      );
      if (!org) throw notFound('No such organisation');
      return organisationDto(org);
    },
  );

  app.get(
    '/api/v1/organisations/:organisationId/members',
    {
      config: admin,
      schema: {
        tags,
        summary: 'People who belong to an organisation, with their roles.',
        params: Type.Object({ organisationId: OrganisationId }),
        response: { 200: Type.Array(Person) },
      },
    },
    async (request) => {
      if (!(await registry.getOrganisation(request.params.organisationId))) {
        throw notFound('No such organisation');
      }
      return (await registry.listMembers(request.params.organisationId)).map(personDto);
    },
  );

  // ── API clients ────────────────────────────────────────────────────────────────

  app.get(
    '/api/v1/clients',
    {
      config: admin,
      schema: {
        tags,
        summary: 'List API clients, optionally of one organisation.',
        querystring: Type.Object({ organisationId: Type.Optional(OrganisationId) }),
        response: { 200: Type.Array(Client) },
      },
    },
    async (request) => (await registry.listClients(request.query.organisationId)).map(clientDto),
  );

  app.post(
    '/api/v1/clients',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create an API client; its secret is in this response only.',
        body: CreateClient,
        response: { 201: ClientCredentials },
      },
    },
    async (request, reply) => {
      const result = await registry.createClient(request.actor, {
        organisationId: request.body.organisationId,
        name: request.body.name,
        roles: request.body.roles as Role[],
      });
      if (!result.ok) throw notFound('No such organisation');
      reply.header('Cache-Control', 'no-store');
      return reply
        .code(201)
        .send({ client: clientDto(result.client), clientSecret: result.secret });
    },
  );

  app.get(
    '/api/v1/clients/:clientId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'One API client.',
        params: Type.Object({ clientId: ClientId }),
        response: { 200: Client },
      },
    },
    async (request) => {
      const client = await registry.getClient(request.params.clientId);
      if (!client) throw notFound('No such client');
      return clientDto(client);
    },
  );

  app.patch(
    '/api/v1/clients/:clientId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Disable or re-enable an API client (effective immediately).',
        params: Type.Object({ clientId: ClientId }),
        body: UpdateClient,
        response: { 200: Client },
      },
    },
    async (request) => {
      const client = await registry.setClientStatus(
        request.actor,
        request.params.clientId,
        request.body.status,
      );
      if (!client) throw notFound('No such client');
      return clientDto(client);
    },
  );

  app.post(
    '/api/v1/clients/:clientId/secret',
    {
      config: admin,
      schema: {
        tags,
        summary:
          'Rotate a client secret: the old secret and tokens issued with it stop working at once.',
        params: Type.Object({ clientId: ClientId }),
        response: { 200: Type.Object({ clientId: Type.String(), clientSecret: Type.String() }) },
      },
    },
    async (request, reply) => {
      const secret = await registry.rotateClientSecret(request.actor, request.params.clientId);
      if (!secret) throw notFound('No such client');
      reply.header('Cache-Control', 'no-store');
      return { clientId: request.params.clientId, clientSecret: secret };
    },
  );

  // ── roles ──────────────────────────────────────────────────────────────────────

  for (const kind of ['client', 'person'] as const) {
    const url =
      kind === 'client' ? '/api/v1/clients/:id/roles/:role' : '/api/v1/people/:id/roles/:role';
    const params = Type.Object({ id: kind === 'client' ? ClientId : PersonId, role: RoleName });
    for (const granted of [true, false]) {
      app.route({
        method: granted ? 'PUT' : 'DELETE',
        url,
        config: admin,
        schema: {
          tags,
          summary: `${granted ? 'Grant' : 'Revoke'} a role ${granted ? 'to' : 'of'} ${
            kind === 'client' ? 'an API client' : 'a person'
          }.`,
          params,
          response: { 200: Roles },
        },
        handler: async (request) => {
          const { id, role } = request.params as { id: string; role: Role };
          const roles = await registry.setRole(request.actor, { kind, id }, role, granted);
          if (!roles) throw notFound(`No such ${kind}`);
          return { roles: [...roles] };
        },
      });
    }
  }

  // ── people ─────────────────────────────────────────────────────────────────────

  app.post(
    '/api/v1/people',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create a local account for signing in through the built-in OpenID Provider.',
        body: CreateLocalAccount,
        response: { 201: Person },
      },
    },
    async (request, reply) => {
      const result = await registry.createLocalAccount(request.actor, localIssuer, {
        ...request.body,
        roles: request.body.roles as Role[],
      });
      if (!result.ok) {
        throw result.reason === 'username_taken'
          ? alreadyExists('This username is taken')
          : notFound('No such organisation');
      }
      return reply.code(201).send(personDto(result.person));
    },
  );

  app.get(
    '/api/v1/people/:personId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'One person.',
        params: Type.Object({ personId: PersonId }),
        response: { 200: Person },
      },
    },
    async (request) => {
      const person = await registry.getPerson(request.params.personId);
      if (!person) throw notFound('No such person');
      return personDto(person);
    },
  );

  app.patch(
    '/api/v1/people/:personId',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Disable or re-enable a person (their sessions end at once).',
        params: Type.Object({ personId: PersonId }),
        body: UpdateClient,
        response: { 200: Person },
      },
    },
    async (request) => {
      const person = await registry.setPersonStatus(
        request.actor,
        request.params.personId,
        request.body.status,
      );
      if (!person) throw notFound('No such person');
      return personDto(person);
    },
  );

  // ── signing keys ───────────────────────────────────────────────────────────────

  app.get(
    '/api/v1/signing-keys',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Token signing keys still published in the JWKS.',
        response: { 200: Type.Array(SigningKey) },
      },
    },
    async () =>
      (await keys.published()).map(({ kid, createdAt, retiredAt }) => ({
        kid,
        createdAt: createdAt.toISOString(),
        retiredAt: retiredAt?.toISOString() ?? null,
      })),
  );

  app.post(
    '/api/v1/signing-keys/rotate',
    {
      config: admin,
      schema: {
        tags,
        summary:
          'Start signing tokens with a new key; the old one stays in the JWKS until its tokens expire.',
        response: {
          200: Type.Object({
            kid: Type.String(),
            retiredKid: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => keys.rotate(request.actor),
  );
}
