-- Identity: the organisations that are members of this node, the people and API clients
-- acting for them, the roles they hold, the keys the node signs access tokens with, and
-- the state of single sign-on (provider records, portal sessions).

CREATE TABLE identity_organisations (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('city_department', 'government', 'company', 'ngo', 'research')),
  verified    boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);

-- Machine identities. `credential_version` is carried in every access token: rotating the
-- secret bumps it, so tokens minted with an old secret stop working at once.
CREATE TABLE identity_clients (
  id                  text PRIMARY KEY,
  organisation_id     text NOT NULL REFERENCES identity_organisations (id),
  name                text NOT NULL,
  status              text NOT NULL CHECK (status IN ('active', 'disabled')),
  secret_hash         text NOT NULL,
  credential_version  integer NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL
);
CREATE INDEX identity_clients_organisation ON identity_clients (organisation_id);

-- People, as known from single sign-on: (issuer, subject) identifies them. Local accounts
-- of the built-in OpenID Provider also carry a username and a password hash.
CREATE TABLE identity_people (
  id               text PRIMARY KEY,
  organisation_id  text REFERENCES identity_organisations (id),
  issuer           text NOT NULL,
  subject          text NOT NULL,
  display_name     text,
  email            text,
  username         text UNIQUE,
  password_hash    text,
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  UNIQUE (issuer, subject)
);
CREATE INDEX identity_people_organisation ON identity_people (organisation_id);

-- One row per role held. Exactly one of client_id / person_id is set.
CREATE TABLE identity_roles (
  client_id   text REFERENCES identity_clients (id) ON DELETE CASCADE,
  person_id   text REFERENCES identity_people (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('admin', 'steward', 'publisher', 'consumer')),
  granted_at  timestamptz NOT NULL,
  CHECK ((client_id IS NULL) <> (person_id IS NULL))
);
CREATE UNIQUE INDEX identity_roles_client ON identity_roles (client_id, role) WHERE client_id IS NOT NULL;
CREATE UNIQUE INDEX identity_roles_person ON identity_roles (person_id, role) WHERE person_id IS NOT NULL;

-- Token signing keys. Exactly one is active; retired keys stay published in the JWKS until
-- every token they signed has expired (`retired_at` + token lifetime).
CREATE TABLE identity_signing_keys (
  kid          text PRIMARY KEY,
  alg          text NOT NULL,
  public_jwk   jsonb NOT NULL,
  private_jwk  jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  retired_at   timestamptz
);
CREATE UNIQUE INDEX identity_signing_keys_one_active ON identity_signing_keys ((true)) WHERE retired_at IS NULL;

-- Node-wide identity settings (e.g. the salt for hashing people in ledger events).
CREATE TABLE identity_settings (
  name   text PRIMARY KEY,
  value  text NOT NULL
);

-- State of the built-in OpenID Provider (authorization codes, grants, sessions, …), shared
-- by every process of the node.
CREATE TABLE identity_oidc_records (
  model       text NOT NULL,
  id          text NOT NULL,
  payload     jsonb NOT NULL,
  grant_id    text,
  user_code   text,
  uid         text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX identity_oidc_records_grant ON identity_oidc_records (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX identity_oidc_records_uid ON identity_oidc_records (uid) WHERE uid IS NOT NULL;

-- Sign-ins in progress (state, nonce, PKCE verifier) and signed-in portal sessions. Only
-- hashes of the cookie values are stored.
CREATE TABLE identity_login_attempts (
  state_hash     text PRIMARY KEY,
  issuer         text NOT NULL,
  nonce          text NOT NULL,
  code_verifier  text NOT NULL,
  return_to      text NOT NULL,
  expires_at     timestamptz NOT NULL
);

CREATE TABLE identity_sessions (
  id_hash     text PRIMARY KEY,
  person_id   text NOT NULL REFERENCES identity_people (id) ON DELETE CASCADE,
  csrf_token  text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX identity_sessions_person ON identity_sessions (person_id);
