-- Data governance: the purpose vocabulary, datasets (selector, classification,
-- licence, ODRL policy, retention, catalog metadata), access requests, grants and
-- per-grant daily usage (metering). Reads of NGSI-LD entities join these tables in SQL.

CREATE TABLE gov_purposes (
  id          text PRIMARY KEY,
  label       text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL
);

INSERT INTO gov_purposes (id, label, description, created_at) VALUES
  ('public-interest', 'Public interest', 'Tasks carried out in the public interest by or for the city.', now()),
  ('research', 'Research', 'Scientific or statistical research.', now()),
  ('education', 'Education', 'Teaching and learning.', now()),
  ('journalism', 'Journalism', 'Reporting in the public interest.', now()),
  ('operations', 'Operations', 'Running and maintaining city services and infrastructure.', now()),
  ('commercial-service', 'Commercial service', 'Building or running a commercial product or service.', now());

CREATE TABLE gov_datasets (
  id              text PRIMARY KEY,
  -- Selector: NGSI-LD tenant ('' = default), expanded entity type IRIs (any of),
  -- optional id regular expression, optional attribute allow-list (expanded IRIs).
  tenant          text NOT NULL DEFAULT '',
  types           text[] NOT NULL,
  id_pattern      text,
  attrs           text[],
  -- The organisation publishing the data; a dataset only ever covers entities this
  -- organisation owns (NULL: entities owned by the node itself).
  publisher_org   text REFERENCES identity_organisations (id),
  classification  text NOT NULL CHECK (classification IN ('open', 'restricted', 'personal', 'confidential')),
  licence         jsonb NOT NULL,
  policy          jsonb NOT NULL,
  retention_days  integer CHECK (retention_days IS NULL OR retention_days > 0),
  transforms      jsonb NOT NULL DEFAULT '{}',
  catalog         jsonb NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

CREATE INDEX gov_datasets_tenant_types ON gov_datasets USING gin (types);

CREATE TABLE gov_access_requests (
  id             text PRIMARY KEY,
  dataset_id     text NOT NULL REFERENCES gov_datasets (id) ON DELETE CASCADE,
  consumer_org   text NOT NULL REFERENCES identity_organisations (id),
  purpose        text NOT NULL REFERENCES gov_purposes (id),
  duration_days  integer NOT NULL CHECK (duration_days > 0),
  commercial     boolean NOT NULL,
  justification  text NOT NULL,
  status         text NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  decided_at     timestamptz,
  reason         text,
  created_at     timestamptz NOT NULL
);

CREATE INDEX gov_access_requests_dataset ON gov_access_requests (dataset_id, status);

CREATE TABLE gov_grants (
  id             text PRIMARY KEY,
  request_id     text NOT NULL UNIQUE REFERENCES gov_access_requests (id) ON DELETE CASCADE,
  dataset_id     text NOT NULL REFERENCES gov_datasets (id) ON DELETE CASCADE,
  consumer_org   text NOT NULL REFERENCES identity_organisations (id),
  purpose        text NOT NULL,
  commercial     boolean NOT NULL,
  valid_from     timestamptz NOT NULL,
  valid_until    timestamptz NOT NULL,
  -- Requests per UTC day; NULL = unlimited.
  quota_per_day  integer CHECK (quota_per_day IS NULL OR quota_per_day > 0),
  fee            jsonb NOT NULL,
  revoked_at     timestamptz,
  revoke_reason  text,
  created_at     timestamptz NOT NULL,
  CHECK (valid_until > valid_from)
);

CREATE INDEX gov_grants_consumer ON gov_grants (consumer_org, purpose, dataset_id);

-- Metering: per grant and UTC day. Counters are added to (never overwritten) by
-- batched flushes from each process.
CREATE TABLE gov_usage (
  grant_id        text NOT NULL REFERENCES gov_grants (id) ON DELETE CASCADE,
  day             date NOT NULL,
  requests        bigint NOT NULL DEFAULT 0,
  entities        bigint NOT NULL DEFAULT 0,
  attributes      bigint NOT NULL DEFAULT 0,
  notifications   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (grant_id, day)
);
