-- Aggregations filter on op and group by dataset_id besides reading num_value: carry
-- both in the observedAt index so an aggregate over a time range is an index-only scan
-- (no heap access) once the visibility map is set by (auto)vacuum.
DROP INDEX ngsi_attribute_history_observed;
CREATE INDEX ngsi_attribute_history_observed_covering
  ON ngsi_attribute_history (tenant, entity_id, attr, observed_at) INCLUDE (num_value, dataset_id, op);
