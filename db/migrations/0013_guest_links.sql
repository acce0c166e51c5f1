-- 0013_guest_links: links a guest opens to authorize a hold (CONTRACT.md, Part 3, "Guest
-- links"; docs/guest-page.md).
--
-- The link's token is the guest's only credential, so only its SHA-256 is kept (hex): a
-- copy of the table opens no page. One row per link; a hold may have several (each
-- POST /api/holds/:id/guest_link makes a new one). Never updated or deleted: an expired
-- link is refused by its expires_at.
CREATE TABLE guest_links (
  token_sha256 text        PRIMARY KEY CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  hold_id      text        NOT NULL REFERENCES holds (id),
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX guest_links_by_hold ON guest_links (hold_id);

-- The guest's acceptance of the hold terms on the page: a new audit event type (actor guest).
ALTER TABLE audit_events DROP CONSTRAINT audit_events_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_type_check CHECK (type IN (
  'created', 'scheduled', 'authorized', 'authorization_failed',
  'captured', 'canceled', 'released', 'expired', 'reauthorized',
  'reauthorization_failed', 'refunded', 'evidence_added',
  'dispute_opened', 'dispute_evidence_staged', 'dispute_submitted',
  'dispute_closed', 'chitty_id_assigned', 'reconciled', 'disclosure_accepted'));

-- The service role's grants, now with guest_links (read and insert only).
CREATE OR REPLACE FUNCTION ledger_grant_service_role(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), role_name);
  EXECUTE format('REVOKE ALL ON schema_migrations, holds, hold_payment_intents, '
                 'audit_events, stripe_intents, webhook_events, job_state, notifications, '
                 'notification_clients, evidence, guest_links FROM %I', role_name);
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
  EXECUTE format('GRANT SELECT, INSERT ON evidence TO %I', role_name);     -- 0009
  EXECUTE format('GRANT SELECT, INSERT ON guest_links TO %I', role_name);  -- 0013
END
$$;
