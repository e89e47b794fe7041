-- The public transparency ledger (docs/ledger.md).

-- Events waiting to be sequenced into the transparency log. Writers insert here inside
-- their own transaction; one sequencer at a time moves them into the log in order.
CREATE TABLE ledger_queue (
  id          bigserial PRIMARY KEY,
  event       jsonb NOT NULL,
  recorded_at timestamptz NOT NULL
);

-- The log's entries: `entry` holds the exact RFC 8785 bytes whose leaf hash is in the
-- tree; the other columns are derived from it for search and are never hashed.
CREATE TABLE ledger_entries (
  idx             bigint PRIMARY KEY CHECK (idx >= 0),
  entry           bytea NOT NULL,
  type            text NOT NULL,
  recorded_at     timestamptz NOT NULL,
  organisation_id text,
  subject_kind    text NOT NULL,
  subject_id      text NOT NULL,
  dataset_id      text,
  grant_id        text
);
CREATE INDEX ledger_entries_organisation ON ledger_entries (organisation_id, idx)
  WHERE organisation_id IS NOT NULL;
CREATE INDEX ledger_entries_subject ON ledger_entries (subject_kind, subject_id, idx);
CREATE INDEX ledger_entries_dataset ON ledger_entries (dataset_id, idx) WHERE dataset_id IS NOT NULL;
CREATE INDEX ledger_entries_grant ON ledger_entries (grant_id, idx) WHERE grant_id IS NOT NULL;
CREATE INDEX ledger_entries_time ON ledger_entries (recorded_at, idx);

-- C2SP tlog-tiles hash tiles (height 8): the newest tile of each level may be partial
-- and grows in place; a partial tile's hashes are a prefix of the full tile's.
CREATE TABLE ledger_tiles (
  level  smallint NOT NULL CHECK (level >= 0 AND level < 64),
  idx    bigint NOT NULL CHECK (idx >= 0),
  hashes bytea NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) <= 8192),
  PRIMARY KEY (level, idx)
);

-- Every checkpoint the node signed, newest last. A tree size may be signed again (new
-- key, new origin); the sequencer checks each new tree against the newest one.
CREATE TABLE ledger_checkpoints (
  id        bigserial PRIMARY KEY,
  size      bigint NOT NULL CHECK (size >= 0),
  root      bytea NOT NULL,
  note      text NOT NULL,
  key_id    text NOT NULL,
  signed_at timestamptz NOT NULL
);

-- The node's Ed25519 checkpoint keys. The private key is stored as PKCS#8 DER without
-- encryption at rest (docs/ledger.md, "Keys"). Exactly one key is active.
CREATE TABLE ledger_keys (
  id          text PRIMARY KEY,
  public_key  bytea NOT NULL UNIQUE,
  private_key bytea NOT NULL,
  status      text NOT NULL CHECK (status IN ('active', 'retired')),
  created_at  timestamptz NOT NULL,
  retired_at  timestamptz
);
CREATE UNIQUE INDEX ledger_keys_one_active ON ledger_keys (status) WHERE status = 'active';
