-- Disputes (CONTRACT.md, "Claims, evidence, refunds, disputes"; docs/disputes.md): the
-- dispute of a hold's charge, as the service last read it from Stripe (dispute_id ..
-- dispute_due_by, rewritten on every charge.dispute.* event), and the service's own steps:
-- evidence staged at Stripe (submit=false, by the scheduler) and submitted (the client's
-- POST /api/holds/:id/dispute/submit), each set once. dispute_lease_until is the staging
-- pass's row lease (like lease_until for releases, 0004): a run takes a dispute by setting
-- it under FOR UPDATE SKIP LOCKED, so concurrent runs stage each one once and a killed run's
-- dispute returns to the queue when the lease ends.
-- The service role's UPDATE on holds (0002) covers these columns: no new grant.
ALTER TABLE holds ADD COLUMN dispute_id text CHECK (dispute_id ~ '^d[up]_[A-Za-z0-9_]+$');
ALTER TABLE holds ADD COLUMN dispute_status text;
ALTER TABLE holds ADD COLUMN dispute_reason text;
ALTER TABLE holds ADD COLUMN dispute_amount bigint CHECK (dispute_amount >= 0);
ALTER TABLE holds ADD COLUMN dispute_due_by timestamptz;
ALTER TABLE holds ADD COLUMN dispute_staged_at timestamptz;
ALTER TABLE holds ADD COLUMN dispute_submitted_at timestamptz;
ALTER TABLE holds ADD COLUMN dispute_lease_until timestamptz;
ALTER TABLE holds ADD CONSTRAINT holds_dispute_whole CHECK (
  (dispute_id IS NULL) = (dispute_status IS NULL) AND
  (dispute_id IS NULL) = (dispute_reason IS NULL) AND
  (dispute_id IS NULL) = (dispute_amount IS NULL));
-- The staging pass's queue: open disputes not staged yet, soonest due first.
CREATE INDEX holds_dispute_staging ON holds (dispute_due_by, id)
  WHERE dispute_id IS NOT NULL AND dispute_staged_at IS NULL
    AND dispute_status IN ('needs_response', 'warning_needs_response');
