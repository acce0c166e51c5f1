-- notify_lease as src/ledger/pg_ledger.cpp prepares it (copied: keep in step); \ir'd by
-- scheduler_explain.sql and scheduler_backlog.sql.
PREPARE notify_lease(bigint, bigint, integer) AS
WITH l AS (UPDATE notifications n SET lease_until = to_timestamp($1::bigint + $2::bigint)
WHERE n.id IN (SELECT x.id FROM notifications x WHERE x.status = 'pending'
AND x.next_attempt_at <= to_timestamp($1::bigint)
AND (x.lease_until IS NULL OR x.lease_until <= to_timestamp($1::bigint))
AND x.client IN (SELECT client FROM notification_clients)
AND NOT EXISTS (SELECT 1 FROM notifications p WHERE p.hold_id = x.hold_id
AND p.status = 'pending' AND p.hold_seq < x.hold_seq)
ORDER BY x.created_at, x.id LIMIT $3::integer FOR UPDATE OF x SKIP LOCKED)
RETURNING id, client, hold_id, type, status, attempts, coalesce(last_error, ''),
extract(epoch FROM next_attempt_at)::bigint, extract(epoch FROM created_at)::bigint,
extract(epoch FROM delivered_at)::bigint, extract(epoch FROM lease_until)::bigint,
event_id, hold_seq)
SELECT l.*, ev.* FROM l CROSS JOIN LATERAL (SELECT id, hold_id, seq, chitty_id, type, actor,
coalesce(request_id, ''), coalesce(status_before, ''), coalesce(status_after, ''), amount,
coalesce(currency, ''), coalesce(payment_intent, ''), coalesce(stripe_request_id, ''),
detail::text, extract(epoch FROM created_at)::bigint FROM audit_events WHERE id = l.event_id) ev;
