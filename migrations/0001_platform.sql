-- The node itself: one row naming this installation. Later features (federation, the
-- ledger origin) hang off this identity; it is created once and never changes.
CREATE TABLE ocp_node (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  node_id    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO ocp_node (node_id) VALUES ('node_' || replace(gen_random_uuid()::text, '-', ''));
