-- Registers the city publishes: technology in public space (DTPR-style) and algorithms
-- (algorithm-register standard). The published fields are kept as one JSON document per
-- entry, validated by the API schema; the columns are what lists filter and sort on.

CREATE TABLE register_entries (
  id              text PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('technology', 'algorithm')),
  organisation_id text NOT NULL REFERENCES identity_organisations (id),
  entry           jsonb NOT NULL,
  search_text     text NOT NULL DEFAULT '',
  version         integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

CREATE INDEX register_entries_kind_updated ON register_entries (kind, updated_at DESC, id);

-- Consultations on proposed deployments and data-sharing agreements, and the comments
-- residents leave on them. Comments are never deleted: moderation hides them and keeps
-- the reason, which is published in place of the comment.

CREATE TABLE consultations (
  id              text PRIMARY KEY,
  organisation_id text NOT NULL REFERENCES identity_organisations (id),
  topic           text NOT NULL CHECK (topic IN ('technology', 'data_sharing', 'other')),
  related_id      text,
  subject         jsonb NOT NULL,
  description     jsonb NOT NULL,
  opened_at       timestamptz NOT NULL,
  closes_at       timestamptz NOT NULL,
  decision        jsonb,
  decided_at      timestamptz
);

CREATE INDEX consultations_opened ON consultations (opened_at DESC, id);

CREATE TABLE consultation_comments (
  id                 text PRIMARY KEY,
  consultation_id    text NOT NULL REFERENCES consultations (id),
  person_id          text NOT NULL REFERENCES identity_people (id),
  lang               text NOT NULL,
  body               text NOT NULL,
  created_at         timestamptz NOT NULL,
  hidden             boolean NOT NULL DEFAULT false,
  moderation_reason  text,
  moderation_note    text,
  moderated_at       timestamptz
);

CREATE INDEX consultation_comments_by_consultation
  ON consultation_comments (consultation_id, created_at, id);
