-- Small named values the scheduler keeps between passes: the reconciler's cursor in
-- Stripe's event list (GET /v1/events), so a pass applies what the webhook endpoint
-- missed since the last one (CONTRACT.md, "Reconciler").
CREATE TABLE job_state (
  name       text        PRIMARY KEY CHECK (name <> ''),
  value      text        NOT NULL,
  updated_at timestamptz NOT NULL
);

-- The service role's grants, now with job_state (read and write its rows).
CREATE OR REPLACE FUNCTION ledger_grant_service_role(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), role_name);
  EXECUTE format('REVOKE ALL ON schema_migrations, holds, hold_payment_intents, '
                 'audit_events, stripe_intents, webhook_events, job_state FROM %I', role_name);
  EXECUTE format('GRANT SELECT ON schema_migrations TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON holds, stripe_intents TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON hold_payment_intents TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON audit_events TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, DELETE ON webhook_events TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON job_state TO %I', role_name);
END
$$;
REVOKE ALL ON FUNCTION ledger_grant_service_role(text) FROM PUBLIC;
