-- 0009_evidence: evidence files and the disclosure a guest accepted (CONTRACT.md, Part 2,
-- "Claims, evidence, refunds, disputes" and "The hold's life"; docs/disputes.md).
--
-- holds.disclosure: the create field `disclosure` {"version", "accepted_at"}, kept as the
-- service wrote it (json, not jsonb), set once. NULL: none. The service role's UPDATE on
-- holds (0002) covers it.
ALTER TABLE holds ADD COLUMN disclosure json;

-- One row per file stored with Stripe's Files API (purpose dispute_evidence) for a hold.
-- Inserted with its evidence_added event in one statement; never updated or deleted.
CREATE TABLE evidence (
  id         text        PRIMARY KEY CHECK (id ~ '^file_[A-Za-z0-9_]+$'),
  hold_id    text        NOT NULL REFERENCES holds (id),
  filename   text        NOT NULL CHECK (filename <> ''),
  size       bigint      NOT NULL CHECK (size > 0),
  type       text        NOT NULL CHECK (type IN ('image/jpeg', 'image/png', 'application/pdf')),
  created_at timestamptz NOT NULL,
  -- the order files were recorded in (identity: INSERT needs no grant on its sequence)
  seq        bigint      GENERATED ALWAYS AS IDENTITY
);
-- GET /api/holds/:id/evidence and the claim check: a hold's files, in the order recorded.
CREATE INDEX evidence_by_hold ON evidence (hold_id, seq);

-- The service role's grants, now with evidence (read and insert only).
CREATE OR REPLACE FUNCTION ledger_grant_service_role(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), role_name);
  EXECUTE format('REVOKE ALL ON schema_migrations, holds, hold_payment_intents, '
                 'audit_events, stripe_intents, webhook_events, job_state, notifications, '
                 'notification_clients, evidence FROM %I', role_name);
  EXECUTE format('GRANT SELECT ON schema_migrations TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON holds, stripe_intents TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON hold_payment_intents TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON audit_events TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, DELETE ON webhook_events TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON job_state TO %I', role_name);  -- 0005
  -- The outbox: the trigger (as the owner) inserts; the sender leases and records tries.
  EXECUTE format('GRANT SELECT, UPDATE ON notifications TO %I', role_name);
  -- Synced from the configuration by chittycharge-jobs and the workers.
  EXECUTE format('GRANT SELECT, INSERT, DELETE ON notification_clients TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON evidence TO %I', role_name);  -- 0009
END
$$;
