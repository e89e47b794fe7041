-- Federated catalog: what this node harvested from its peers' DCAT catalogs, the state of
-- the conditional requests per peer (ETag, Last-Modified), and a lease so that one process
-- of the node harvests at a time. Harvested metadata is public metadata only (the peer's
-- anonymous catalog view); nothing here is personal data.

CREATE TABLE catalog_harvest_sources (
  node_id          text PRIMARY KEY,
  name             text NOT NULL,
  catalog_url      text NOT NULL,
  etag             text,
  last_modified    text,
  last_attempt_at  timestamptz,
  last_success_at  timestamptz,
  last_status      integer,
  last_error       text,
  dataset_count    integer NOT NULL DEFAULT 0
);

-- One row per dataset a peer publishes. `doc` is the dcat:Dataset as the peer served it
-- (bounded in size by the fetcher); the other columns are what search filters and sorts on.
CREATE TABLE catalog_harvested_datasets (
  node_id        text NOT NULL REFERENCES catalog_harvest_sources (node_id) ON DELETE CASCADE,
  dataset_iri    text NOT NULL,
  local_id       text NOT NULL,
  title          text NOT NULL,
  description    text NOT NULL DEFAULT '',
  keywords       text[] NOT NULL DEFAULT '{}',
  licence        text,
  formats        text[] NOT NULL DEFAULT '{}',
  publisher      text,
  landing_page   text,
  access_url     text,
  modified       timestamptz,
  doc            jsonb NOT NULL,
  harvested_at   timestamptz NOT NULL,
  PRIMARY KEY (node_id, dataset_iri)
);
CREATE INDEX catalog_harvested_datasets_title ON catalog_harvested_datasets (title, node_id, dataset_iri);

-- Leases for work that must run once per node across processes (harvest rounds).
CREATE TABLE catalog_leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);
