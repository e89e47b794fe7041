/** TypeBox schemas of the identity API: validation, types and OpenAPI from one place. */
import { Type, type Static } from 'typebox';
import { roles } from '../platform/http/access.js';
import { organisationKinds } from './registry.repository.js';

export const RoleName = Type.Union(
  [
    Type.Literal('admin'),
    Type.Literal('steward'),
    Type.Literal('publisher'),
    Type.Literal('consumer'),
  ],
  { description: 'admin (node), steward, publisher or consumer' },
);
export const OrganisationKindName = Type.Union([
  Type.Literal('city_department'),
  Type.Literal('government'),
  Type.Literal('company'),
  Type.Literal('ngo'),
  Type.Literal('research'),
]);

// The schemas above must list exactly the roles and kinds the code knows.
const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));
if (
  !sameSet(
    roles,
    RoleName.anyOf.map((s) => s.const as string),
  ) ||
  !sameSet(
    organisationKinds,
    OrganisationKindName.anyOf.map((s) => s.const as string),
  )
) {
  throw new Error('identity schemas are out of step with roles / organisation kinds');
}

export const OrganisationId = Type.String({ pattern: '^org_[A-Za-z0-9]{1,40}$' });
export const ClientId = Type.String({ pattern: '^(cli_[A-Za-z0-9]{1,40}|admin)$' });
export const PersonId = Type.String({ pattern: '^per_[A-Za-z0-9]{1,40}$' });

export const Organisation = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: OrganisationKindName,
  verified: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const CreateOrganisation = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: OrganisationKindName,
    verified: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateOrganisation = Static<typeof CreateOrganisation>;

export const UpdateOrganisation = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    verified: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const Client = Type.Object({
  id: Type.String(),
  organisationId: Type.String(),
  name: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  roles: Type.Array(RoleName),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const CreateClient = Type.Object(
  {
    organisationId: OrganisationId,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    roles: Type.Array(RoleName, { maxItems: 4, default: [] }),
  },
  { additionalProperties: false },
);

export const UpdateClient = Type.Object(
  { status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]) },
  { additionalProperties: false },
);

export const ClientCredentials = Type.Object({
  client: Client,
  clientSecret: Type.String({ description: 'Shown only in this response; store it safely.' }),
});

export const Person = Type.Object({
  id: Type.String(),
  organisationId: Type.Union([Type.String(), Type.Null()]),
  issuer: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  username: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  roles: Type.Array(RoleName),
  createdAt: Type.String({ format: 'date-time' }),
});

export const CreateLocalAccount = Type.Object(
  {
    organisationId: OrganisationId,
    username: Type.String({ pattern: '^[a-z0-9._-]{3,64}$' }),
    password: Type.String({ minLength: 12, maxLength: 200 }),
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Type.String({ maxLength: 320 })),
    roles: Type.Array(RoleName, { maxItems: 4, default: [] }),
  },
  { additionalProperties: false },
);

export const Roles = Type.Object({ roles: Type.Array(RoleName) });

export const SigningKey = Type.Object({
  kid: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  retiredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const Me = Type.Object({
  kind: Type.Union([Type.Literal('anonymous'), Type.Literal('client'), Type.Literal('person')]),
  id: Type.Union([Type.String(), Type.Null()]),
  organisationId: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(RoleName),
});

/** RFC 6749 §4.4.2 / §5.1: the token request, form-encoded. Validated by hand (§5.2 errors). */
export const TokenRequest = Type.Object(
  {
    grant_type: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    client_secret: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type TokenRequest = Static<typeof TokenRequest>;

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
});

export const OAuthError = Type.Object({
  error: Type.String(),
  error_description: Type.Optional(Type.String()),
});

export const Jwks = Type.Object({
  keys: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});

export const AuthorizationServerMetadata = Type.Record(Type.String(), Type.Unknown());
