-- The reconciler's comparisons with Stripe (CONTRACT.md, "Reconciler": a non-terminal hold
-- not checked for RECONCILE_INTERVAL_S is compared). checked_at is when it was last taken
-- for a comparison (NULL: never, so its created_at counts); a pass takes the longest
-- waiting first under FOR UPDATE SKIP LOCKED and sets it, so the work is O(due), not
-- O(open holds), and concurrent passes take each hold once.
ALTER TABLE holds ADD COLUMN checked_at timestamptz;
CREATE INDEX holds_check_due ON holds ((coalesce(checked_at, created_at)), id)
  WHERE status NOT IN ('succeeded', 'canceled', 'missing_at_stripe', 'scheduled');
