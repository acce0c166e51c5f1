-- 0001_ledger: the ledger's first tables (docs/ledger.md).
-- Released migrations are never edited: the runner refuses to start when an applied
-- migration's file no longer has the checksum recorded in schema_migrations. Change the
-- schema with a new, higher-numbered file instead.

-- What the runner has applied: one row per migration, written in the migration's own
-- transaction. The runner reads it before applying anything (absent ⇒ nothing applied).
CREATE TABLE schema_migrations (
  version    integer     PRIMARY KEY CHECK (version > 0),
  name       text        NOT NULL,
  checksum   text        NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),  -- SHA-256 of the file
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- A hold: its id is its first PaymentIntent id (a scheduled hold's SetupIntent id).
-- Stripe stays the record of money state; `status` is the last status the service
-- recorded (with the audit event that changed it). Later migrations add the schedule
-- (authorize_at, stay_ends_at, release_after, reauthorize), claims and disputes.
CREATE TABLE holds (
  id             text        PRIMARY KEY CHECK (id ~ '^(pi|seti)_[A-Za-z0-9_]+$'),
  chitty_id      text        NOT NULL UNIQUE,
  client         text        NOT NULL CHECK (client <> ''),
  property_id    text,
  tenant_id      text,
  amount         bigint      NOT NULL CHECK (amount > 0),
  currency       text        NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  status         text        NOT NULL CHECK (status <> ''),
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz,                     -- end of the authorization window
  last_event_seq bigint      NOT NULL DEFAULT 0   -- the seq of its newest audit event
);
-- GET /api/holds: a client's holds, newest first, stable cursor on (created_at, id).
CREATE INDEX holds_by_client ON holds (client, created_at DESC, id DESC);
CREATE INDEX holds_by_client_property ON holds (client, property_id, created_at DESC, id DESC);
-- expiring_before= and the scheduler's due work: authorized holds by end of window.
CREATE INDEX holds_by_status_expiry ON holds (status, expires_at);

-- The chain of PaymentIntents of a hold (re-authorization adds one), oldest first.
-- Any of them finds the hold.
CREATE TABLE hold_payment_intents (
  payment_intent text        PRIMARY KEY CHECK (payment_intent ~ '^pi_[A-Za-z0-9_]+$'),
  hold_id        text        NOT NULL REFERENCES holds (id),
  position       integer     NOT NULL CHECK (position >= 0),
  UNIQUE (hold_id, position)
);

-- The audit trail (CONTRACT.md, "Audit trail"): append-only. The service's role gets
-- INSERT and SELECT only (0002). `seq` orders a hold's events: the insert takes the
-- next value from holds.last_event_seq under that row's lock, so seq order is commit
-- order and a cursor over (hold_id, seq) never skips.
CREATE TABLE audit_events (
  id                text        PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9_]+$'),
  hold_id           text        NOT NULL REFERENCES holds (id),
  seq               bigint      NOT NULL CHECK (seq > 0),
  chitty_id         text        NOT NULL,
  type              text        NOT NULL CHECK (type IN (
                      'created', 'scheduled', 'authorized', 'authorization_failed',
                      'captured', 'canceled', 'released', 'expired', 'reauthorized',
                      'reauthorization_failed', 'refunded', 'evidence_added',
                      'dispute_opened', 'dispute_evidence_staged', 'dispute_submitted',
                      'dispute_closed', 'chitty_id_assigned', 'reconciled')),
  actor             text        NOT NULL
                      CHECK (actor ~ '^(client:.+|stripe|scheduler|reconciler|guest)$'),
  request_id        text,
  status_before     text,
  status_after      text,
  amount            bigint,
  currency          text        CHECK (currency ~ '^[a-z]{3}$'),
  payment_intent    text,
  stripe_request_id text,
  detail            json        NOT NULL DEFAULT '{}' CHECK (json_typeof(detail) = 'object'),
  created_at        timestamptz NOT NULL,
  UNIQUE (hold_id, seq)
);

-- Every Stripe POST: a durable intent before it, its result after it. A pending intent
-- older than a call's timeout is unfinished work for the reconciler, which repeats the
-- POST with the same Idempotency-Key or reads Stripe's state.
CREATE TABLE stripe_intents (
  idempotency_key   text        PRIMARY KEY CHECK (idempotency_key <> ''),
  operation         text        NOT NULL CHECK (operation <> ''),
  hold_id           text,       -- no foreign key: a create's intent precedes its hold
  params_digest     text        NOT NULL CHECK (params_digest ~ '^[0-9a-f]{64}$'),
  state             text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'succeeded', 'failed')),
  result            json,
  stripe_request_id text,
  created_at        timestamptz NOT NULL,
  finished_at       timestamptz,
  CHECK ((state = 'pending') = (finished_at IS NULL))
);
CREATE INDEX stripe_intents_pending ON stripe_intents (created_at, idempotency_key)
  WHERE state = 'pending';

-- Stripe event ids seen (CONTRACT.md, "Webhooks, exactly once"); kept at least 30 days
-- (a retention job deletes rows older than that by received_at).
CREATE TABLE webhook_events (
  event_id    text        PRIMARY KEY CHECK (event_id <> ''),
  received_at timestamptz NOT NULL
);
CREATE INDEX webhook_events_by_received ON webhook_events (received_at);
