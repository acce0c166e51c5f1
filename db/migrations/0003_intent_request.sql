-- What a retry or the reconciler needs to repeat a Stripe POST with the same parameters
-- (CONTRACT.md, "Audit trail": a crash between an intent and its result is repaired from
-- it): a JSON object, e.g. the ChittyID a create sent to Stripe.
ALTER TABLE stripe_intents ADD COLUMN request json NOT NULL DEFAULT '{}';
