-- Federation witnessing (docs/federation-witnessing.md): the newest checkpoint this node
-- verified of each peer's ledger and its cosignature of it, the forks it detected, the
-- cosignatures peers' witnesses sent for this node's own checkpoints, and the lease that
-- makes one process of the node run the witness job at a time. The witness key is the
-- node's identity key (federation_node_keys).

-- Per peer log (origin): the largest consistent checkpoint seen, as the signed note the
-- peer served, and this node's cosignature line for it.
CREATE TABLE federation_witness_checkpoints (
  origin        text PRIMARY KEY,
  peer_node_id  text NOT NULL,
  size          bigint NOT NULL CHECK (size >= 0),
  root          bytea NOT NULL CHECK (length(root) = 32),
  note          text NOT NULL,
  cosignature   text,
  seen_at       timestamptz NOT NULL,
  cosigned_at   timestamptz
);

-- Evidence of a forked log: two checkpoints, both validly signed by the peer, that
-- cannot both be views of one append-only log. Public (the notes hold no personal data).
CREATE TABLE federation_witness_forks (
  id            text PRIMARY KEY,
  origin        text NOT NULL,
  peer_node_id  text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('same_size', 'inconsistent')),
  known_size    bigint NOT NULL,
  known_root    bytea NOT NULL,
  known_note    text NOT NULL,
  new_size      bigint NOT NULL,
  new_root      bytea NOT NULL,
  new_note      text NOT NULL,
  detail        text NOT NULL,
  detected_at   timestamptz NOT NULL,
  UNIQUE (origin, known_size, known_root, new_size, new_root)
);
CREATE INDEX federation_witness_forks_detected ON federation_witness_forks (detected_at DESC);

-- Cosignatures of this node's checkpoints by peers' witnesses: the newest per witness
-- key, with the checkpoint text it covers (served with the checkpoint while it matches).
CREATE TABLE federation_witness_cosignatures (
  key_name         text NOT NULL,
  key_id           text NOT NULL,
  peer_node_id     text NOT NULL,
  checkpoint_size  bigint NOT NULL,
  checkpoint_text  text NOT NULL,
  line             text NOT NULL,
  signed_at        timestamptz NOT NULL,
  received_at      timestamptz NOT NULL,
  PRIMARY KEY (key_name, key_id)
);
CREATE INDEX federation_witness_cosignatures_text ON federation_witness_cosignatures (checkpoint_size);

-- One row per job: whoever holds an unexpired lease runs it; the others skip.
CREATE TABLE federation_witness_lease (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  lease_until timestamptz NOT NULL
);
