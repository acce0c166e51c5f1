-- Auto-release (CONTRACT.md, "The hold's life": release_after): the scheduler cancels an
-- uncaptured hold at release_after. lease_until is the scheduler's row lease: a run takes
-- a due hold by setting it (under FOR UPDATE SKIP LOCKED), so concurrent runs take each
-- hold once and a killed run's holds return to the queue when the lease ends.
ALTER TABLE holds ADD COLUMN release_after timestamptz;
ALTER TABLE holds ADD COLUMN lease_until timestamptz;
CREATE INDEX holds_release_due ON holds (release_after, id)
  WHERE release_after IS NOT NULL AND status NOT IN ('succeeded', 'canceled');
