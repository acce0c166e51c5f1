-- bench/scheduler.sh: EXPLAIN (ANALYZE, BUFFERS) of the due-work statements of a pass, as
-- src/ledger/pg_ledger.cpp prepares them (copied: keep in step), with the pass's parameters
-- (psql -v now=<epoch>), as the service's role, each in a transaction that is rolled back.
\set ON_ERROR_STOP 1
\pset pager off
PREPARE hold_lease_releases(bigint, bigint, integer) AS
UPDATE holds h SET lease_until = to_timestamp($1::bigint + $2::bigint) WHERE h.id IN (
SELECT id FROM holds WHERE release_after <= to_timestamp($1::bigint)
AND status NOT IN ('succeeded', 'canceled')
AND (lease_until IS NULL OR lease_until <= to_timestamp($1::bigint))
ORDER BY release_after, id LIMIT $3::integer FOR UPDATE SKIP LOCKED)
RETURNING h.id, h.chitty_id, h.client, coalesce(h.property_id, ''), coalesce(h.tenant_id, ''),
h.amount, h.currency, h.status, extract(epoch FROM h.created_at)::bigint,
extract(epoch FROM h.expires_at)::bigint,
(SELECT coalesce(string_agg(p.payment_intent, ',' ORDER BY p.position), '')
FROM hold_payment_intents p WHERE p.hold_id = h.id),
extract(epoch FROM h.release_after)::bigint, extract(epoch FROM h.lease_until)::bigint,
coalesce(h.claim::text, '');

\ir scheduler_notify_lease.sql

PREPARE intent_pending(bigint, integer) AS
SELECT idempotency_key, operation, coalesce(hold_id, ''), params_digest, state,
coalesce(result::text, ''), coalesce(stripe_request_id, ''),
extract(epoch FROM created_at)::bigint, extract(epoch FROM finished_at)::bigint, request::text
FROM stripe_intents WHERE state = 'pending' AND created_at < to_timestamp($1::bigint)
ORDER BY created_at, idempotency_key LIMIT $2::integer;

PREPARE hold_list(text, text, text, text, bigint, bigint, bigint, text, integer) AS
SELECT h.id, h.chitty_id, h.client, coalesce(h.property_id, ''), coalesce(h.tenant_id, ''),
h.amount, h.currency, h.status, extract(epoch FROM h.created_at)::bigint,
extract(epoch FROM h.expires_at)::bigint,
(SELECT coalesce(string_agg(p.payment_intent, ',' ORDER BY p.position), '')
FROM hold_payment_intents p WHERE p.hold_id = h.id),
extract(epoch FROM h.release_after)::bigint, extract(epoch FROM h.lease_until)::bigint,
coalesce(h.claim::text, '') FROM holds h WHERE h.client = $1
AND ($2::text IS NULL OR h.property_id = $2)
AND ($3::text IS NULL OR h.tenant_id = $3)
AND ($4::text IS NULL OR h.status = $4)
AND ($5::bigint IS NULL OR (h.status = 'requires_capture'
AND h.expires_at < to_timestamp($5::bigint)))
AND ($6::bigint IS NULL OR h.created_at > to_timestamp($6::bigint))
AND ($7::bigint IS NULL OR h.created_at < to_timestamp($7::bigint))
AND ($8::text IS NULL OR (h.created_at, h.id) <
(SELECT c.created_at, c.id FROM holds c WHERE c.id = $8 AND c.client = $1))
ORDER BY h.created_at DESC, h.id DESC LIMIT $9::integer;

\echo '=== hold_lease_releases (auto-release: the first batch of 50 due holds)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE hold_lease_releases(:now, 300, 50);
ROLLBACK;

\echo '=== notify_lease (20 due notifications; notification_clients as the pass sets it)'
BEGIN;
INSERT INTO notification_clients VALUES ('alpha'), ('beta') ON CONFLICT DO NOTHING;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE notify_lease(:now, 300, 20);
ROLLBACK;

\echo '=== intent_pending (the reconciler: 50 unfinished intents older than the grace)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE intent_pending(:now - 59, 50);

SELECT EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'holds' AND column_name = 'checked_at') AS has_checked_at \gset
\if :has_checked_at
\echo '=== hold_lease_checks (the reconciler''s due comparisons, 0008_reconcile_checks: 100 taken, interval 300 s)'
PREPARE hold_lease_checks(bigint, bigint, integer) AS
UPDATE holds h SET checked_at = to_timestamp($1::bigint) WHERE h.id IN (
SELECT id FROM holds WHERE status NOT IN ('succeeded', 'canceled', 'missing_at_stripe',
'scheduled') AND coalesce(checked_at, created_at) <= to_timestamp($1::bigint - $2::bigint)
ORDER BY coalesce(checked_at, created_at), id LIMIT $3::integer FOR UPDATE SKIP LOCKED)
RETURNING h.id, h.status;
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE hold_lease_checks(:now, 300, 100);
ROLLBACK;
\endif

\echo '=== hold_list, custom plan: the reconciler''s open holds of alpha, status requires_capture (51)'
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE hold_list('alpha', NULL, NULL, 'requires_capture', NULL, NULL, NULL, NULL, 51);
\echo '=== hold_list, custom plan: status requires_payment_method (none in the ledger)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE hold_list('alpha', NULL, NULL, 'requires_payment_method', NULL, NULL, NULL, NULL, 51);
\echo '=== hold_list, generic plan (what a prepared statement uses after 5 executions): requires_payment_method'
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE hold_list('alpha', NULL, NULL, 'requires_payment_method', NULL, NULL, NULL, NULL, 51);
\echo '=== hold_list, generic plan: requires_capture'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE hold_list('alpha', NULL, NULL, 'requires_capture', NULL, NULL, NULL, NULL, 51);
RESET plan_cache_mode;
