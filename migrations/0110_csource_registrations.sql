-- NGSI-LD context source registrations (ETSI GS CIM 009 clause 5.2.9).

CREATE TABLE ngsi_csource_registrations (
  tenant       text NOT NULL DEFAULT '',
  id           text NOT NULL,
  -- The registration as the client sent it (terms as given, without @context), minus the
  -- members the node maintains (status, timestamps, counters).
  doc          jsonb NOT NULL,
  -- The @context it was created with (URL, object or array; NULL: core).
  context      jsonb,
  -- Expanded information: [{ entities: [{id?, idPattern?, type}], propertyNames: [...],
  -- relationshipNames: [...] }], so matching never needs the @context again.
  information  jsonb NOT NULL,
  endpoint     text NOT NULL,
  mode         text NOT NULL,
  operations   text[] NOT NULL,
  expires_at   timestamptz,
  timeout_ms   integer,
  cooldown_ms  integer,
  created_at   timestamptz NOT NULL,
  modified_at  timestamptz NOT NULL,
  times_sent   bigint NOT NULL DEFAULT 0,
  times_failed bigint NOT NULL DEFAULT 0,
  last_success timestamptz,
  last_failure timestamptz,
  PRIMARY KEY (tenant, id)
);
