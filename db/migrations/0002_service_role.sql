-- 0002_service_role: what the service's own database role may do, as a function that
-- takes the role's name (roles are per install, so no migration can name one):
--
--   SELECT ledger_grant_service_role('chittycharge');   -- or: chittycharge-migrate --grant-role chittycharge
--
-- Run it as the owner of the tables after the migrations, and again after any later
-- migration that adds a table (grants are per table; it is idempotent). The role must
-- exist (CREATE ROLE chittycharge LOGIN …) and must not own the tables: an owner
-- bypasses grants. The audit trail is append-only for the service: INSERT and SELECT,
-- never UPDATE, DELETE or TRUNCATE (CONTRACT.md, "The ledger").
CREATE FUNCTION ledger_grant_service_role(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), role_name);
  EXECUTE format('REVOKE ALL ON schema_migrations, holds, hold_payment_intents, '
                 'audit_events, stripe_intents, webhook_events FROM %I', role_name);
  EXECUTE format('GRANT SELECT ON schema_migrations TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON holds, stripe_intents TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON hold_payment_intents TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON audit_events TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, DELETE ON webhook_events TO %I', role_name);
END
$$;
REVOKE ALL ON FUNCTION ledger_grant_service_role(text) FROM PUBLIC;
