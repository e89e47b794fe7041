-- MQTT ingestion: messages the node could not or would not write (malformed, too large,
-- unauthorized, rejected by the entity service), kept with the reason so an operator can
-- see what devices send and purge it. Payloads are stored truncated (payload_bytes keeps
-- the real size).

CREATE TABLE device_dead_letters (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at   timestamptz NOT NULL,
  topic         text NOT NULL,
  -- What the topic named, when it could be read ('' is the default tenant).
  tenant        text,
  client_id     text,
  entity_id     text,
  -- A closed set, see docs/mqtt.md (malformed_json, invalid_topic, unauthorized, …).
  reason        text NOT NULL,
  detail        text NOT NULL,
  payload       bytea NOT NULL,
  payload_bytes integer NOT NULL,
  truncated     boolean NOT NULL
);

CREATE INDEX device_dead_letters_received ON device_dead_letters (received_at, id);
CREATE INDEX device_dead_letters_reason ON device_dead_letters (reason, received_at);
