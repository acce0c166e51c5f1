-- bench/scheduler.sh's ledger: :holds holds in total (psql -v holds=N -v pis=FILE), as the
-- tables' owner. The rows are what the service would have written (docs/ledger.md):
--   * the PaymentIntents made at the Stripe double (the CSV :pis, loaded below):
--       - due:  requires_capture, release_after 1..:due minutes ago (the work of the pass)
--       - open: requires_capture, created an hour ago, release_after in 2 days: the newest
--               open holds, the ones the reconciler compares with Stripe; each has a
--               pending notification (a failed try a minute ago, due now) and the first
--               10 of each client a pending `capture` intent older than the grace (unfinished work)
--   * the rest (fake PaymentIntent ids, never read from Stripe by a pass), spread over 90 days:
--       - 1 % open (requires_capture, created within the last 6 days, release_after in the
--         future or none)
--       - 69 % captured (succeeded), 30 % canceled; half of them with a release_after long past
--         (terminal: not due)
--   * every hold: its chain (one PI), a `created` event (seq 1) and its create intent
--     (succeeded); a terminal hold also its `captured` / `canceled` event (seq 2); the newest
--     event of every hold but the open real ones has a delivered notification.
--   * the pass's environment: notification_clients (alpha, beta), the events cursor at the
--     double's newest event (so the catch-up reads what the pass itself causes).
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';

CREATE TEMP TABLE real_pis (id text, kind text, client text, chitty_id text, i integer);
COPY real_pis FROM :'pis' WITH (FORMAT csv);  -- read by the server (as its OS user)

CREATE TEMP TABLE seed AS
SELECT r.id, r.chitty_id, r.client, 'requires_capture'::text AS status,
       CASE r.kind WHEN 'due' THEN now() - interval '3 days' - r.i * interval '1 minute'
                   ELSE now() - interval '1 hour' - r.i * interval '1 second' END AS created_at,
       CASE r.kind WHEN 'due' THEN now() - (r.i + 1) * interval '1 minute'
                   ELSE now() + interval '2 days' END AS release_after,
       r.kind
FROM real_pis r
UNION ALL
SELECT 'pi_bench' || lpad(g::text, 8, '0'), 'CHITTY-AUTH-B' || lpad(g::text, 8, '0'),
       CASE g % 2 WHEN 0 THEN 'alpha' ELSE 'beta' END,
       CASE WHEN g % 100 = 0 THEN 'requires_capture'
            WHEN g % 10 < 7 THEN 'succeeded' ELSE 'canceled' END,
       CASE WHEN g % 100 = 0 THEN now() - interval '2 hours' - (g % 5000) * interval '100 seconds'
            ELSE now() - interval '2 hours' - (g::float8 / :holds) * interval '90 days' END,
       CASE WHEN g % 100 = 0 THEN CASE WHEN g % 200 = 0 THEN now() + (1 + g % 29) * interval '1 day' END
            WHEN g % 4 < 2 THEN now() - interval '2 hours' - (g::float8 / :holds) * interval '88 days' END,
       CASE WHEN g % 100 = 0 THEN 'open' ELSE 'terminal' END
FROM generate_series(1, :holds - (SELECT count(*) FROM real_pis)) g;

INSERT INTO holds (id, chitty_id, client, property_id, tenant_id, amount, currency, status,
                   created_at, expires_at, release_after, last_event_seq)
SELECT id, chitty_id, client, 'prop_' || (abs(hashtext(id)) % 500), 'ten_' || (abs(hashtext(chitty_id)) % 100000),
       25000, 'usd', status, created_at, created_at + interval '7 days', release_after,
       CASE kind WHEN 'terminal' THEN 2 ELSE 1 END
FROM seed;

INSERT INTO hold_payment_intents (payment_intent, hold_id, position) SELECT id, id, 0 FROM seed;

INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, status_before, status_after,
                          amount, currency, payment_intent, created_at)
SELECT 'evt_' || substr(id, 4) || '_1', id, 1, chitty_id, 'created', 'client:' || client, NULL,
       'requires_capture', 25000, 'usd', id, created_at
FROM seed;
INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, status_before, status_after,
                          amount, currency, payment_intent, created_at)
SELECT 'evt_' || substr(id, 4) || '_2', id, 2, chitty_id,
       CASE status WHEN 'succeeded' THEN 'captured' ELSE 'canceled' END, 'client:' || client,
       'requires_capture', status, 25000, 'usd', id, created_at + interval '1 day'
FROM seed WHERE kind = 'terminal';

INSERT INTO stripe_intents (idempotency_key, operation, hold_id, params_digest, state, result,
                            created_at, finished_at, request)
SELECT 'create:' || id, 'create', id, repeat('0', 64), 'succeeded', '{}', created_at, created_at,
       json_build_object('chitty_id', chitty_id)
FROM seed;
INSERT INTO stripe_intents (idempotency_key, operation, hold_id, params_digest, created_at, request)
SELECT 'capture:' || id, 'capture', id, repeat('1', 64), now() - interval '30 minutes',
       json_build_object('actor', 'client:' || client, 'payment_intent', id)
FROM seed JOIN real_pis r USING (id, client) WHERE r.kind = 'open' AND r.i < 10;

INSERT INTO notifications (id, event_id, hold_id, hold_seq, client, type, status, attempts,
                           next_attempt_at, created_at, delivered_at)
SELECT 'ntf_' || substr(id, 4) || '_' || n, 'evt_' || substr(id, 4) || '_' || n, id, n, client,
       CASE n WHEN 1 THEN 'hold.created' WHEN 2 THEN
         CASE status WHEN 'succeeded' THEN 'hold.captured' ELSE 'hold.canceled' END END,
       'delivered', 1, NULL, created_at, created_at + interval '1 minute'
FROM (SELECT *, CASE kind WHEN 'terminal' THEN 2 ELSE 1 END AS n FROM seed) s
WHERE NOT (kind = 'open' AND id NOT LIKE 'pi_bench%');
INSERT INTO notifications (id, event_id, hold_id, hold_seq, client, type, status, attempts,
                           next_attempt_at, last_error, created_at)
SELECT 'ntf_' || substr(id, 4) || '_1', 'evt_' || substr(id, 4) || '_1', id, 1, client,
       'hold.created', 'pending', 1, now() - interval '1 minute', 'HTTP 503', created_at
FROM seed WHERE kind = 'open' AND id NOT LIKE 'pi_bench%';

-- When the ledger has holds.checked_at (the reconciler's due comparisons, migration
-- 0008_reconcile_checks in the lead's tree): every open hold was compared with Stripe within
-- the last 4 minutes (RECONCILE_INTERVAL_S is 300 s) but the real open ones (10 minutes ago:
-- due for a comparison) and the due ones (recently, as the rest).
SELECT EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'holds' AND column_name = 'checked_at') AS has_checked_at \gset
\if :has_checked_at
UPDATE holds h SET checked_at = CASE WHEN s.kind = 'open' AND s.id NOT LIKE 'pi_bench%'
                                     THEN now() - interval '10 minutes'
                                     ELSE now() - (abs(hashtext(s.id)) % 240) * interval '1 second' END
FROM seed s WHERE s.id = h.id AND s.kind <> 'terminal';
\endif

INSERT INTO job_state (name, value, updated_at) VALUES ('stripe_events_cursor', :'cursor', now());
-- The clients with a webhook URL, as the workers and earlier passes left them (after the
-- seeded events: the trigger queues nothing for those).
INSERT INTO notification_clients (client) VALUES ('alpha'), ('beta');

VACUUM ANALYZE;

SELECT json_build_object(
  'holds', (SELECT count(*) FROM holds),
  'by_status', (SELECT json_object_agg(status, c) FROM (SELECT status, count(*) c FROM holds GROUP BY 1) x),
  'due', (SELECT count(*) FROM holds WHERE release_after <= now() AND status NOT IN ('succeeded', 'canceled')),
  'terminal_with_past_release_after', (SELECT count(*) FROM holds WHERE release_after <= now() AND status IN ('succeeded', 'canceled')),
  'open_with_future_release_after', (SELECT count(*) FROM holds WHERE release_after > now() AND status NOT IN ('succeeded', 'canceled')),
  'real_pis_at_double', (SELECT count(*) FROM real_pis),
  'audit_events', (SELECT count(*) FROM audit_events),
  'stripe_intents', (SELECT count(*) FROM stripe_intents),
  'pending_intents', (SELECT count(*) FROM stripe_intents WHERE state = 'pending'),
  'notifications', (SELECT count(*) FROM notifications),
  'pending_notifications', (SELECT count(*) FROM notifications WHERE status = 'pending'),
  'holds_checked_at_column', :'has_checked_at',
  'db_size_mb', (SELECT pg_database_size(current_database()) / 1048576))::text AS seeded \gset
\o :seeded_file
\qecho :seeded
\o
