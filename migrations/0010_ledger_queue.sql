-- Events waiting to be sequenced into the transparency log. Writers insert here inside
-- their own transaction; one sequencer at a time moves them into the log in order.
CREATE TABLE ledger_queue (
  id          bigserial PRIMARY KEY,
  event       jsonb NOT NULL,
  recorded_at timestamptz NOT NULL
);
