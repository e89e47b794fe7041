-- Attribute history for the temporal API, as a table that can grow to billions of rows:
-- range-partitioned by the time an instance was recorded (modified_at), one partition
-- per calendar month, plus a default partition that catches anything outside the
-- prepared months. Partitions are created ahead of time by the temporal feature at boot
-- and daily (src/temporal/history.partitions.ts); retention drops whole partitions.
--
-- The columns and their names stay those of 0030, so the write path of the entity
-- service appends to this table unchanged. Existing rows are kept (copied here, then
-- moved out of the default partition into monthly ones by the first maintenance run).

ALTER TABLE ngsi_attribute_history RENAME TO ngsi_attribute_history_0030;
ALTER INDEX ngsi_attribute_history_entity_attr_time RENAME TO ngsi_attribute_history_0030_time;
ALTER INDEX ngsi_attribute_history_observed RENAME TO ngsi_attribute_history_0030_observed;
ALTER INDEX ngsi_attribute_history_instance RENAME TO ngsi_attribute_history_0030_instance;

CREATE SEQUENCE ngsi_attribute_history_seq_v2 AS bigint;

CREATE TABLE ngsi_attribute_history (
  seq          bigint NOT NULL DEFAULT nextval('ngsi_attribute_history_seq_v2'),
  tenant       text NOT NULL,
  entity_id    text NOT NULL,
  -- Expanded attribute IRI.
  attr         text NOT NULL,
  -- '' for the default instance.
  dataset_id   text NOT NULL DEFAULT '',
  -- Unique by construction (urn:ngsi-ld:attribute:instance:<uuid>); a partitioned table
  -- cannot enforce uniqueness on a column outside the partition key.
  instance_id  text NOT NULL,
  -- 'create' | 'update' | 'delete' (attribute or entity deleted)
  op           text NOT NULL,
  -- The attribute instance (normalized, expanded member names); NULL for deletions.
  instance     jsonb,
  entity_types text[] NOT NULL,
  observed_at  timestamptz,
  created_at   timestamptz NOT NULL,
  -- When the instance was recorded (or last changed through the temporal API): the
  -- partition key.
  modified_at  timestamptz NOT NULL,
  deleted_at   timestamptz,
  -- The numeric value of a Property, kept beside the document so aggregations read a
  -- float8 column instead of parsing jsonb.
  num_value    double precision GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(instance -> 'value') = 'number'
         THEN (instance ->> 'value')::double precision END
  ) STORED
) PARTITION BY RANGE (modified_at);

ALTER SEQUENCE ngsi_attribute_history_seq_v2 OWNED BY ngsi_attribute_history.seq;

CREATE TABLE ngsi_attribute_history_default PARTITION OF ngsi_attribute_history DEFAULT;

-- The temporal API reads one attribute of one entity over a time range, by whichever
-- time property the query names; observedAt is the default and the one aggregations use
-- most, so its index carries the numeric value (index-only scans for aggregates).
CREATE INDEX ngsi_attribute_history_observed
  ON ngsi_attribute_history (tenant, entity_id, attr, observed_at) INCLUDE (num_value);
CREATE INDEX ngsi_attribute_history_modified
  ON ngsi_attribute_history (tenant, entity_id, attr, modified_at);
CREATE INDEX ngsi_attribute_history_instance ON ngsi_attribute_history (instance_id);

INSERT INTO ngsi_attribute_history
  (seq, tenant, entity_id, attr, dataset_id, instance_id, op, instance, entity_types,
   observed_at, created_at, modified_at, deleted_at)
SELECT seq, tenant, entity_id, attr, dataset_id, instance_id, op, instance, entity_types,
       observed_at, created_at, modified_at, deleted_at
  FROM ngsi_attribute_history_0030;

SELECT setval('ngsi_attribute_history_seq_v2',
              (SELECT coalesce(max(seq), 0) + 1 FROM ngsi_attribute_history_0030), false);

DROP TABLE ngsi_attribute_history_0030;
