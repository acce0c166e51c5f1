-- Itemized capture (CONTRACT.md, "Claims, evidence, refunds, disputes"): the claim a
-- capture took, recorded on the hold once Stripe captured it — {"items": [...], "total":
-- ..., "captured_at": ...}, kept as the service wrote it (json, not jsonb). NULL: no claim
-- (a plain capture, or none yet). Set once: the service only writes it while NULL.
-- The service role's UPDATE on holds (0002, 0005) covers it: no new grant.
ALTER TABLE holds ADD COLUMN claim json;
