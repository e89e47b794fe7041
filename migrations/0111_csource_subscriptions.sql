-- NGSI-LD context source registration subscriptions (ETSI GS CIM 009 clause 5.11) and
-- their notification outbox, written in the transaction of the registration change.

CREATE TABLE ngsi_csource_subscriptions (
  tenant            text NOT NULL DEFAULT '',
  id                text NOT NULL,
  -- The subscription as the client sent it (terms as given, without @context), minus the
  -- members the node maintains.
  doc               jsonb NOT NULL,
  -- The @context it was created with (URL, object or array; NULL: core).
  context           jsonb,
  -- Expanded entity selectors [{ id?, idPattern?, typesAll: [...] }]; NULL: any entity.
  selectors         jsonb,
  -- Expanded IRIs; NULL: any attribute.
  watched_attrs     text[],
  endpoint          text NOT NULL,
  -- Who created it (the Actor: kind, id, organisation, roles). Each notification is sent
  -- only while that client or person may still read registrations (admin or steward).
  creator           jsonb NOT NULL,
  expires_at        timestamptz,
  is_active         boolean NOT NULL DEFAULT true,
  created_at        timestamptz NOT NULL,
  modified_at       timestamptz NOT NULL,
  times_sent        bigint NOT NULL DEFAULT 0,
  times_failed      bigint NOT NULL DEFAULT 0,
  last_notification timestamptz,
  last_success      timestamptz,
  last_failure      timestamptz,
  last_status       text,
  PRIMARY KEY (tenant, id)
);

-- One row per notification: the registration as it was (or as it was last, when deleted)
-- and why it is sent. Deleted once delivered, or dropped after the notification max age.
CREATE TABLE ngsi_csource_notification_outbox (
  id              bigserial PRIMARY KEY,
  tenant          text NOT NULL,
  subscription_id text NOT NULL,
  trigger_reason  text NOT NULL
    CHECK (trigger_reason IN ('newlyMatching', 'updated', 'noLongerMatching')),
  registration    jsonb NOT NULL,
  committed_at    timestamptz NOT NULL,
  due_at          timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  claimed_until   timestamptz,
  claimed_by      text,
  last_error      text,
  FOREIGN KEY (tenant, subscription_id) REFERENCES ngsi_csource_subscriptions (tenant, id)
    ON DELETE CASCADE
);

CREATE INDEX ngsi_csource_notification_outbox_due ON ngsi_csource_notification_outbox (due_at);
CREATE INDEX ngsi_csource_notification_outbox_subscription
  ON ngsi_csource_notification_outbox (tenant, subscription_id);
