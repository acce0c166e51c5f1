// The libpq half of the migration runner: applies db/migrations/ to a database.
//
// ApplyMigrations() connects, takes the session advisory lock kMigrationLockKey (so
// several processes or hosts starting at once queue, and each migration is applied
// once), reads schema_migrations (absent ⇒ nothing applied: 0001 creates it), asks
// Plan() (ledger/migrations.h) and applies each pending migration in its own
// transaction together with its schema_migrations row (version, name, SHA-256). A
// migration therefore cannot use statements that refuse a transaction block
// (CREATE INDEX CONCURRENTLY, VACUUM).
// Failure: kUnavailable when the database cannot be reached or is lost; kInternal
// "migration_refused" for Plan()'s refusals (an edited or missing applied migration);
// kInternal "migration_failed" when a migration's SQL fails (that migration is rolled
// back; the ones before it stay applied). Blocking in the caller's SocketWaiter; waits
// for the lock without a limit. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "ledger/migrations.h"
#include "ledger/socket_waiter.h"

namespace cc::ledger {

// pg_advisory_lock key: "chitty" in ASCII, then 1.
inline constexpr int64_t kMigrationLockKey = 0x636869747479'0001;

struct MigrationReport {
  std::vector<int> applied;  // versions applied by this call, in order
  int already_applied = 0;   // migrations found applied
};

Result<MigrationReport> ApplyMigrations(const std::string& conninfo,
                                        const std::vector<Migration>& files, SocketWaiter& waiter);

// SELECT ledger_grant_service_role(role) (db/migrations/0002_service_role.sql).
Status GrantServiceRole(const std::string& conninfo, const std::string& role, SocketWaiter& waiter);

}  // namespace cc::ledger
