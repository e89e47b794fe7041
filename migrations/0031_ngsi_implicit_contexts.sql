-- Inline @contexts used in requests get a URL of their own ("ImplicitlyCreated" in
-- /jsonldContexts), so application/json responses can name them in a Link header.
ALTER TABLE ngsi_jsonld_contexts DROP CONSTRAINT ngsi_jsonld_contexts_kind_check;
ALTER TABLE ngsi_jsonld_contexts
  ADD CONSTRAINT ngsi_jsonld_contexts_kind_check CHECK (kind IN ('hosted', 'cached', 'implicit'));
