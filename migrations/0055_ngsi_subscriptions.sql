-- NGSI-LD subscriptions and their transactional notification outbox.

CREATE TABLE ngsi_subscriptions (
  tenant           text NOT NULL DEFAULT '',
  id               text NOT NULL,
  -- The subscription as the client sent it (terms as given, without @context), minus
  -- the members the node maintains (status, timestamps, counters).
  doc              jsonb NOT NULL,
  -- The @context the subscription was created with (URL, object or array; NULL: core).
  context          jsonb,
  -- Term -> expanded IRI for every term the filters use, so matching never needs the
  -- @context again.
  terms            jsonb NOT NULL DEFAULT '{}',
  -- Expanded IRIs; NULL: any attribute.
  watched_attrs    text[],
  triggers         text[] NOT NULL,
  q                text,
  scope_q          text,
  geo_q            jsonb,
  time_interval    double precision,
  throttling       double precision,
  expires_at       timestamptz,
  is_active        boolean NOT NULL DEFAULT true,
  -- Who created it and for what purpose: notifications are computed with this actor's
  -- visibility, so governance applies to them as it does to queries.
  actor            jsonb NOT NULL,
  purpose          text,
  owner_org        text,
  owner_actor      text,
  created_at       timestamptz NOT NULL,
  modified_at      timestamptz NOT NULL,
  next_periodic_at timestamptz,
  times_sent       bigint NOT NULL DEFAULT 0,
  times_failed     bigint NOT NULL DEFAULT 0,
  last_notification timestamptz,
  last_success     timestamptz,
  last_failure     timestamptz,
  last_status      text,
  PRIMARY KEY (tenant, id)
);

CREATE INDEX ngsi_subscriptions_owner ON ngsi_subscriptions (owner_org, owner_actor);
CREATE INDEX ngsi_subscriptions_periodic ON ngsi_subscriptions (next_periodic_at)
  WHERE time_interval IS NOT NULL;

-- One row per entity selector, in disjunctive form: an entity matches a row when every
-- condition of the row holds (types: all of them).
CREATE TABLE ngsi_subscription_selectors (
  tenant          text NOT NULL,
  subscription_id text NOT NULL,
  pos             integer NOT NULL,
  entity_id       text,
  id_pattern      text,
  types_all       text[] NOT NULL,
  PRIMARY KEY (tenant, subscription_id, pos),
  FOREIGN KEY (tenant, subscription_id) REFERENCES ngsi_subscriptions (tenant, id)
    ON DELETE CASCADE
);

CREATE INDEX ngsi_subscription_selectors_types ON ngsi_subscription_selectors USING gin (types_all);

-- Pending notifications, written in the transaction of the change that caused them.
-- Delivered in id order per subscription; deleted once delivered.
CREATE TABLE ngsi_notification_outbox (
  id              bigserial PRIMARY KEY,
  tenant          text NOT NULL,
  subscription_id text NOT NULL,
  -- 'change' | 'periodic'
  kind            text NOT NULL,
  -- [{ id, kind: created|updated|deleted, attrs: {created,updated,deleted}, before? }]
  entities        jsonb NOT NULL DEFAULT '[]',
  committed_at    timestamptz NOT NULL,
  due_at          timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  claimed_until   timestamptz,
  claimed_by      text,
  last_error      text,
  FOREIGN KEY (tenant, subscription_id) REFERENCES ngsi_subscriptions (tenant, id)
    ON DELETE CASCADE
);

CREATE INDEX ngsi_notification_outbox_subscription
  ON ngsi_notification_outbox (tenant, subscription_id, id);
CREATE INDEX ngsi_notification_outbox_due ON ngsi_notification_outbox (due_at);
