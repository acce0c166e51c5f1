-- 0005_notifications: the outbox of notifications to client apps (CONTRACT.md, Part 2,
-- "Notifications to client apps"; docs/notifications.md).
--
-- Every audit event of a hold whose client has a webhook URL becomes one notification,
-- queued by a trigger on audit_events, so it is committed with its event or not at all
-- (whichever statement appends the event: a create's batch, a capture, a webhook, the
-- reconciler). chittycharge-jobs sends them and records each try here.

-- The clients that have a webhook URL (CHITTYCHARGE_CLIENT_WEBHOOKS), written by
-- chittycharge-jobs and by each worker at start from its configuration. Only their holds'
-- events are queued: while it is empty (no webhooks configured) the trigger returns before
-- it reads anything, so the create path pays one look at an empty table per statement.
CREATE TABLE notification_clients (
  client text PRIMARY KEY CHECK (client <> '')
);

-- One row per notification. `id` is derived from its event's id (evt_X ⇒ ntf_X), so every
-- try carries the same id. A hold's notifications are sent in `hold_seq` order (its
-- event's seq): one waits while an older one of its hold is pending.
-- status: pending (due at next_attempt_at; a sender holds it until lease_until),
-- delivered, or gave_up (3 days of failed tries).
CREATE TABLE notifications (
  id              text        PRIMARY KEY CHECK (id ~ '^ntf_[A-Za-z0-9_]+$'),
  event_id        text        NOT NULL UNIQUE REFERENCES audit_events (id),
  hold_id         text        NOT NULL,
  hold_seq        bigint      NOT NULL CHECK (hold_seq > 0),
  client          text        NOT NULL CHECK (client <> ''),
  type            text        NOT NULL CHECK (type ~ '^hold\.[a-z_]+$'),
  status          text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'delivered', 'gave_up')),
  attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL,
  delivered_at    timestamptz,
  lease_until     timestamptz,
  CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
  CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
-- The sender's queue: pending notifications, oldest first.
CREATE INDEX notifications_pending ON notifications (created_at, id) WHERE status = 'pending';
-- "Is an older one of this hold still pending?"
CREATE INDEX notifications_pending_by_hold ON notifications (hold_id, hold_seq)
  WHERE status = 'pending';
-- GET /api/notifications?status=failed: a client's failed ones, newest first.
CREATE INDEX notifications_failed ON notifications (client, created_at DESC, id DESC)
  WHERE attempts > 0 AND status <> 'delivered';

-- The enqueue: once per statement that inserts audit events (a transition table, not a
-- row trigger, so a batch of creates costs one call). SECURITY DEFINER: it runs as the
-- tables' owner, so the audit trail never depends on the outbox's grants (a service role
-- not yet granted these tables after an upgrade would otherwise fail every event insert,
-- and with it every capture's record); the service role itself may not insert
-- notifications. Its search_path is the migration's, fixed here.
CREATE FUNCTION notifications_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM notification_clients) THEN
    RETURN NULL;
  END IF;
  INSERT INTO notifications (id, event_id, hold_id, hold_seq, client, type, created_at,
                             next_attempt_at)
  SELECT 'ntf_' || substr(e.id, 5), e.id, e.hold_id, e.seq, h.client, 'hold.' || e.type,
         e.created_at, e.created_at
  FROM new_events e
  JOIN holds h ON h.id = e.hold_id
  JOIN notification_clients c ON c.client = h.client;
  RETURN NULL;
END
$$;

CREATE TRIGGER audit_events_enqueue_notifications
  AFTER INSERT ON audit_events
  REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION notifications_enqueue();

-- The service role's grants (0002's function, now with the outbox). Run
-- `chittycharge-migrate --grant-role ROLE` again after this migration (docs/ledger.md).
-- audit_events stays INSERT and SELECT only.
CREATE OR REPLACE FUNCTION ledger_grant_service_role(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), role_name);
  EXECUTE format('REVOKE ALL ON schema_migrations, holds, hold_payment_intents, '
                 'audit_events, stripe_intents, webhook_events, job_state, notifications, '
                 'notification_clients FROM %I', role_name);
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
END
$$;
