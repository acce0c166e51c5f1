-- The hold's whole life (CONTRACT.md, Part 2, "The hold's life"; docs/lifecycle.md):
-- scheduled holds (authorize_at), re-authorization of long stays (stay_ends_at,
-- reauthorize) and the refused re-authorization a guest must act on.
--
-- A scheduled hold's id is its SetupIntent's (seti_…, allowed since 0001) and its chain of
-- PaymentIntents starts empty; the scheduler's first authorization appends its first
-- PaymentIntent, each re-authorization the next one. The current PaymentIntent (the one
-- capture and cancel act on) is the last of the chain.
ALTER TABLE holds ADD COLUMN authorize_at timestamptz;
ALTER TABLE holds ADD COLUMN stay_ends_at timestamptz;
ALTER TABLE holds ADD COLUMN reauthorize boolean NOT NULL DEFAULT false;
-- The Customer the guest's card is saved to (the off-session authorizations use it).
ALTER TABLE holds ADD COLUMN customer text CHECK (customer ~ '^cus_[A-Za-z0-9_]+$');
-- NULL, or the refused (re)authorization the guest must act on: {"status": "failed",
-- "code", "client_secret", "payment_intent", "attempt"}. Set by the event
-- `reauthorization_failed` / `authorization_failed`, cleared by the event that adopts an
-- authorization, in the event's own statement.
ALTER TABLE holds ADD COLUMN reauthorization json
  CHECK (reauthorization IS NULL OR json_typeof(reauthorization) = 'object');
ALTER TABLE holds ADD CONSTRAINT holds_reauthorize_needs_stay_end
  CHECK (NOT reauthorize OR stay_ends_at IS NOT NULL);

-- The scheduler's due work, in due-time order, O(due items): scheduled holds by
-- authorize_at, and holds to re-authorize by the end of their authorization window.
CREATE INDEX holds_authorize_due ON holds (authorize_at, id) WHERE status = 'scheduled';
CREATE INDEX holds_reauthorize_due ON holds (expires_at, id)
  WHERE reauthorize AND status = 'requires_capture' AND reauthorization IS NULL;

-- No new table: the service role's UPDATE on holds and INSERT on hold_payment_intents
-- (0002, 0005) cover these columns and the chain's growth.
