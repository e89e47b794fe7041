-- NGSI-LD context information: current entity state, geo index, tenants, stored
-- @contexts and the append-only attribute history the temporal API reads.

CREATE TABLE ngsi_tenants (
  name       text PRIMARY KEY,
  created_at timestamptz NOT NULL
);

-- '' is the default tenant and always exists.
INSERT INTO ngsi_tenants (name, created_at) VALUES ('', now());

CREATE TABLE ngsi_entities (
  tenant      text NOT NULL DEFAULT '',
  id          text NOT NULL,
  -- Expanded type IRIs.
  types       text[] NOT NULL,
  scopes      text[],
  -- Expanded attribute IRI -> array of normalized attribute instances (one per datasetId).
  attrs       jsonb NOT NULL,
  created_at  timestamptz NOT NULL,
  modified_at timestamptz NOT NULL,
  -- Organisation of the publisher that created the entity; NULL = node / admin.
  owner_org   text,
  PRIMARY KEY (tenant, id)
);

CREATE INDEX ngsi_entities_types ON ngsi_entities USING gin (types);
-- Attribute presence (attrs ? / ?| / ?&).
CREATE INDEX ngsi_entities_attr_keys ON ngsi_entities USING gin (attrs);
CREATE INDEX ngsi_entities_owner ON ngsi_entities (tenant, owner_org);
CREATE INDEX ngsi_entities_modified ON ngsi_entities (tenant, modified_at);

CREATE TABLE ngsi_entity_geo (
  tenant     text NOT NULL,
  entity_id  text NOT NULL,
  attr       text NOT NULL,
  dataset_id text NOT NULL DEFAULT '',
  geom       jsonb NOT NULL,
  bbox       box NOT NULL,
  PRIMARY KEY (tenant, entity_id, attr, dataset_id),
  FOREIGN KEY (tenant, entity_id) REFERENCES ngsi_entities (tenant, id) ON DELETE CASCADE
);

CREATE INDEX ngsi_entity_geo_bbox ON ngsi_entity_geo USING gist (bbox);

-- Append-only attribute history: one row per attribute instance written (created,
-- updated or deleted), in the same transaction as the change.
CREATE TABLE ngsi_attribute_history (
  seq          bigserial PRIMARY KEY,
  tenant       text NOT NULL,
  entity_id    text NOT NULL,
  -- Expanded attribute IRI.
  attr         text NOT NULL,
  -- '' for the default instance.
  dataset_id   text NOT NULL DEFAULT '',
  instance_id  text NOT NULL,
  -- 'create' | 'update' | 'delete' (attribute or entity deleted)
  op           text NOT NULL,
  -- The attribute instance as stored after the change (normalized, expanded member
  -- names); NULL for deletions.
  instance     jsonb,
  entity_types text[] NOT NULL,
  observed_at  timestamptz,
  created_at   timestamptz NOT NULL,
  modified_at  timestamptz NOT NULL,
  deleted_at   timestamptz
);

CREATE INDEX ngsi_attribute_history_entity_attr_time
  ON ngsi_attribute_history (tenant, entity_id, attr, modified_at);
CREATE INDEX ngsi_attribute_history_observed
  ON ngsi_attribute_history (tenant, entity_id, attr, observed_at);
CREATE UNIQUE INDEX ngsi_attribute_history_instance ON ngsi_attribute_history (instance_id);

-- @contexts managed through /jsonldContexts: hosted ones (added by clients) and cached
-- remote ones (fetched on demand, refreshed after expiry).
CREATE TABLE ngsi_jsonld_contexts (
  id          text PRIMARY KEY,
  url         text NOT NULL UNIQUE,
  kind        text NOT NULL CHECK (kind IN ('hosted', 'cached')),
  body        jsonb NOT NULL,
  created_at  timestamptz NOT NULL,
  fetched_at  timestamptz,
  last_used_at timestamptz,
  hits        bigint NOT NULL DEFAULT 0
);
