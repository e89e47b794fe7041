-- Federation: this node's identity key, the peers it trusts (their pinned, signed
-- descriptors and the peering state), local records of peers' organisations (so this
-- node's governance can grant them access), and the nonces of signed node-to-node
-- requests already seen (replay protection shared by every process of the node).

-- Ed25519 identity keys. Exactly one is active. The fingerprint ("sha256:" + hex SHA-256
-- of the raw 32-byte public key) is what other nodes pin.
CREATE TABLE federation_node_keys (
  fingerprint  text PRIMARY KEY,
  public_key   bytea NOT NULL,
  private_key  bytea NOT NULL,
  created_at   timestamptz NOT NULL,
  retired_at   timestamptz
);
CREATE UNIQUE INDEX federation_node_keys_one_active ON federation_node_keys ((true)) WHERE retired_at IS NULL;

-- Peers. `status` is this node's decision: pending (added here, the peer has not yet
-- confirmed that it added us), active (both sides added each other), suspended (no
-- data or tokens flow either way until resumed), removed (kept so that local records
-- of its organisations, and their grants, keep a referent). `peer_confirmed` is whether
-- the peer has told us, in a signed handshake, that it peers with us.
CREATE TABLE federation_peers (
  id              text PRIMARY KEY,
  node_id         text NOT NULL UNIQUE,
  url             text NOT NULL UNIQUE,
  name            text NOT NULL,
  jurisdiction    text NOT NULL,
  fingerprint     text NOT NULL UNIQUE,
  descriptor      jsonb NOT NULL,
  signature       text NOT NULL,
  status          text NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'removed')),
  peer_confirmed  boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  fetched_at      timestamptz NOT NULL
);
CREATE INDEX federation_peers_status ON federation_peers (status);

-- A peer's organisation as known here: a local organisation row (so grants and access
-- requests reference it like any other) linked to the peer and the peer's own id for it.
CREATE TABLE federation_peer_organisations (
  organisation_id  text PRIMARY KEY REFERENCES identity_organisations (id),
  peer_id          text NOT NULL REFERENCES federation_peers (id),
  remote_id        text NOT NULL,
  created_at       timestamptz NOT NULL,
  UNIQUE (peer_id, remote_id)
);

-- Nonces of accepted signed requests, per signing key, until their `created` leaves the
-- acceptance window. The primary key makes "seen before" atomic across processes.
CREATE TABLE federation_nonces (
  key_id      text NOT NULL,
  nonce       text NOT NULL,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (key_id, nonce)
);
CREATE INDEX federation_nonces_expiry ON federation_nonces (expires_at);
