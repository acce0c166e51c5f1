-- bench/scheduler.sh, after the pass: notify_lease (src/ledger/pg_ledger.cpp, copied from
-- scheduler_explain.sql) when :backlog more notifications are pending and due (a client app
-- down for a while), in a transaction that is rolled back: first with the statistics as the
-- pass saw them (autovacuum re-analyzes a table only after 10 % of it changed), then after
-- ANALYZE (so run as the owner). Writes the two plans as JSON to :plan_stale and :plan_fresh.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only on
BEGIN;
UPDATE notifications SET status = 'pending', next_attempt_at = now() - interval '1 minute',
       delivered_at = NULL, attempts = 1
WHERE id IN (SELECT id FROM notifications WHERE status = 'delivered'
             ORDER BY created_at DESC LIMIT :backlog);
\ir scheduler_notify_lease.sql
\o :plan_stale
EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE notify_lease(:now, 300, 20);
\o
ANALYZE notifications;
DEALLOCATE notify_lease;
\ir scheduler_notify_lease.sql
\o :plan_fresh
EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE notify_lease(:now, 300, 20);
\o
ROLLBACK;
