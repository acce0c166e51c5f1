-- 0015_check_domains: the one-column CHECKs of the tables every create writes (holds,
-- hold_payment_intents, audit_events, stripe_intents, and notifications when its client has
-- a webhook) become domains, with the same conditions.
--
-- Why: PostgreSQL 15 reads a table's CHECK constraints from their stored text (stringToNode)
-- and plans them again at every execution of every INSERT or UPDATE of the table, so the
-- create path paid ~20,000 characters of node parsing per create (audit_events' `type` list
-- alone is 4,094). A domain's conditions are read once per connection (the type cache).
-- Measured with pgbench, 8 clients, one create's two statements (docs/performance.md):
-- CHECK constraints were 16 % of PostgreSQL's samples, half of it parsing.
--
-- Nothing is weaker: each column accepts exactly what its CHECK accepted (a NULL passes a
-- domain's CHECK as it passed the table's; NOT NULL stays on the column). The CHECKs over
-- several columns stay table constraints. Changing a text column to a domain over text
-- rewrites no table, but PostgreSQL checks every existing row against the domain and
-- re-checks the foreign keys to holds(id), under an exclusive lock: on a large ledger this
-- migration takes a while. Workers started before it find their prepared statements'
-- result types changed (PostgreSQL: "cached plan must not change result type"); workers
-- of this release prepare them again on a new connection, older ones answer 503 for ledger
-- calls until restarted (docs/deploy.md, "Upgrades"). A binary of an earlier release
-- still starts on this schema (rollback).

CREATE DOMAIN ledger_nonempty AS text CHECK (VALUE <> '');
CREATE DOMAIN ledger_positive AS bigint CHECK (VALUE > 0);
CREATE DOMAIN ledger_nonnegative AS bigint CHECK (VALUE >= 0);
CREATE DOMAIN ledger_nonnegative_int AS integer CHECK (VALUE >= 0);
CREATE DOMAIN ledger_currency AS text CHECK (VALUE ~ '^[a-z]{3}$');
CREATE DOMAIN ledger_json_object AS json CHECK (json_typeof(VALUE) = 'object');
CREATE DOMAIN ledger_hold_id AS text CHECK (VALUE ~ '^(pi|seti)_[A-Za-z0-9_]+$');
CREATE DOMAIN ledger_customer AS text CHECK (VALUE ~ '^cus_[A-Za-z0-9_]+$');
CREATE DOMAIN ledger_dispute_id AS text CHECK (VALUE ~ '^d[up]_[A-Za-z0-9_]+$');
CREATE DOMAIN ledger_event_id AS text CHECK (VALUE ~ '^evt_[A-Za-z0-9_]+$');
CREATE DOMAIN ledger_event_type AS text CHECK (VALUE IN (
  'created', 'scheduled', 'authorized', 'authorization_failed', 'captured', 'canceled',
  'released', 'expired', 'reauthorized', 'reauthorization_failed', 'refunded',
  'evidence_added', 'dispute_opened', 'dispute_evidence_staged', 'dispute_submitted',
  'dispute_closed', 'chitty_id_assigned', 'reconciled', 'disclosure_accepted'));
CREATE DOMAIN ledger_actor AS text
  CHECK (VALUE ~ '^(client:.+|stripe|scheduler|reconciler|guest)$');
CREATE DOMAIN ledger_sha256_hex AS text CHECK (VALUE ~ '^[0-9a-f]{64}$');
CREATE DOMAIN ledger_intent_state AS text CHECK (VALUE IN ('pending', 'succeeded', 'failed'));
CREATE DOMAIN ledger_notification_id AS text CHECK (VALUE ~ '^ntf_[A-Za-z0-9_]+$');
CREATE DOMAIN ledger_notification_type AS text CHECK (VALUE ~ '^hold\.[a-z_]+$');
CREATE DOMAIN ledger_notification_status AS text
  CHECK (VALUE IN ('pending', 'delivered', 'gave_up'));

ALTER TABLE holds
  DROP CONSTRAINT holds_id_check, ALTER COLUMN id TYPE ledger_hold_id,
  DROP CONSTRAINT holds_client_check, ALTER COLUMN client TYPE ledger_nonempty,
  DROP CONSTRAINT holds_amount_check, ALTER COLUMN amount TYPE ledger_positive,
  DROP CONSTRAINT holds_currency_check, ALTER COLUMN currency TYPE ledger_currency,
  DROP CONSTRAINT holds_status_check, ALTER COLUMN status TYPE ledger_nonempty,
  DROP CONSTRAINT holds_customer_check, ALTER COLUMN customer TYPE ledger_customer,
  DROP CONSTRAINT holds_reauthorization_check,
  ALTER COLUMN reauthorization TYPE ledger_json_object,
  DROP CONSTRAINT holds_dispute_id_check, ALTER COLUMN dispute_id TYPE ledger_dispute_id,
  DROP CONSTRAINT holds_dispute_amount_check,
  ALTER COLUMN dispute_amount TYPE ledger_nonnegative;

-- payment_intent keeps its CHECK: event_append of the releases before this one compares
-- and inserts the same parameter, which PostgreSQL cannot type as both text and a domain,
-- so rolling back the binary past this migration would fail at start.
ALTER TABLE hold_payment_intents
  DROP CONSTRAINT hold_payment_intents_position_check,
  ALTER COLUMN position TYPE ledger_nonnegative_int;

ALTER TABLE audit_events
  DROP CONSTRAINT audit_events_id_check, ALTER COLUMN id TYPE ledger_event_id,
  DROP CONSTRAINT audit_events_seq_check, ALTER COLUMN seq TYPE ledger_positive,
  DROP CONSTRAINT audit_events_type_check, ALTER COLUMN type TYPE ledger_event_type,
  DROP CONSTRAINT audit_events_actor_check, ALTER COLUMN actor TYPE ledger_actor,
  DROP CONSTRAINT audit_events_currency_check, ALTER COLUMN currency TYPE ledger_currency,
  DROP CONSTRAINT audit_events_detail_check, ALTER COLUMN detail TYPE ledger_json_object;

ALTER TABLE stripe_intents
  DROP CONSTRAINT stripe_intents_idempotency_key_check,
  ALTER COLUMN idempotency_key TYPE ledger_nonempty,
  DROP CONSTRAINT stripe_intents_operation_check, ALTER COLUMN operation TYPE ledger_nonempty,
  DROP CONSTRAINT stripe_intents_params_digest_check,
  ALTER COLUMN params_digest TYPE ledger_sha256_hex,
  DROP CONSTRAINT stripe_intents_state_check, ALTER COLUMN state TYPE ledger_intent_state;

ALTER TABLE notifications
  DROP CONSTRAINT notifications_id_check, ALTER COLUMN id TYPE ledger_notification_id,
  DROP CONSTRAINT notifications_hold_seq_check, ALTER COLUMN hold_seq TYPE ledger_positive,
  DROP CONSTRAINT notifications_client_check, ALTER COLUMN client TYPE ledger_nonempty,
  DROP CONSTRAINT notifications_type_check, ALTER COLUMN type TYPE ledger_notification_type,
  DROP CONSTRAINT notifications_status_check,
  ALTER COLUMN status TYPE ledger_notification_status,
  DROP CONSTRAINT notifications_attempts_check,
  ALTER COLUMN attempts TYPE ledger_nonnegative_int;
