-- Node-wide secrets of the ledger. `person_salt` keys the HMAC by which a person may
-- appear in the public log (actor.personHash); it is never published, so the hashes
-- cannot be linked to people from outside, while the city can still answer a person's
-- request about their own entries.
CREATE TABLE ledger_secrets (
  name  text PRIMARY KEY,
  value bytea NOT NULL
);
