-- A hold's pending intents (Ledger::PendingIntentsOf): a webhook that reports a change a
-- caller is still recording (its intent pending) credits that caller, not "stripe".
CREATE INDEX stripe_intents_pending_of ON stripe_intents (hold_id, created_at, idempotency_key)
  WHERE state = 'pending';
