#include "ledger/pg_migrate.h"

#include <charconv>
#include <utility>

#include "ledger/pg_connection.h"

namespace cc::ledger {
namespace {

constexpr int kConnectTimeoutMs = 10000;
constexpr int kNoLimit = -1;

tl::unexpected<Error> Failed(std::string message) {
  return Fail(ErrorKind::kInternal, "migration_failed", std::move(message));
}

std::string Label(const Migration& m) {
  std::string version = std::to_string(m.version);
  version.insert(0, version.size() < 4 ? 4 - version.size() : 0, '0');
  return version + "_" + m.name + ".sql";
}

Result<std::vector<AppliedMigration>> ReadApplied(PgConnection& conn) {
  auto exists =
      conn.ExecParams("SELECT to_regclass('schema_migrations') IS NOT NULL", {}, kNoLimit);
  if (!exists) return Fail(exists.error());
  if (!exists->ok()) return Failed("cannot read schema_migrations: " + exists->message);
  std::vector<AppliedMigration> applied;
  if (exists->rows.empty() || exists->rows[0].at(0) != PgValue("t")) return applied;
  auto rows = conn.ExecParams(
      "SELECT version, name, checksum FROM schema_migrations ORDER BY version", {}, kNoLimit);
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Failed("cannot read schema_migrations: " + rows->message);
  for (const auto& r : rows->rows) {
    AppliedMigration a;
    const std::string version = r.at(0).value_or("0");
    std::from_chars(version.data(), version.data() + version.size(), a.version);
    a.name = r.at(1).value_or("");
    a.checksum = r.at(2).value_or("");
    applied.push_back(std::move(a));
  }
  return applied;
}

// One migration and its record in one transaction.
Status ApplyOne(PgConnection& conn, const Migration& m) {
  auto begin = conn.ExecScript("BEGIN", kNoLimit);
  if (!begin) return Fail(begin.error());
  auto script = conn.ExecScript(m.sql, kNoLimit);
  if (!script) return Fail(script.error());
  PgRows outcome = std::move(*script);
  if (outcome.ok()) {
    auto record = conn.ExecParams(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::integer, $2, $3)",
        {std::to_string(m.version), m.name, m.checksum}, kNoLimit);
    if (!record) return Fail(record.error());
    outcome = std::move(*record);
  }
  if (!outcome.ok()) {
    auto rollback = conn.ExecScript("ROLLBACK", kNoLimit);
    if (!rollback) return Fail(rollback.error());
    return Failed("migration " + Label(m) + " failed (" + outcome.sqlstate +
                  "): " + outcome.message);
  }
  auto commit = conn.ExecScript("COMMIT", kNoLimit);
  if (!commit) return Fail(commit.error());
  if (!commit->ok()) return Failed("migration " + Label(m) + " did not commit: " + commit->message);
  return Ok();
}

}  // namespace

Result<MigrationReport> ApplyMigrations(const std::string& conninfo,
                                        const std::vector<Migration>& files, SocketWaiter& waiter) {
  auto conn = PgConnection::Connect(conninfo, waiter, kConnectTimeoutMs);
  if (!conn) return Fail(conn.error());
  PgConnection& c = **conn;
  auto locked = c.ExecParams("SELECT pg_advisory_lock($1::bigint)",
                             {std::to_string(kMigrationLockKey)}, kNoLimit);
  if (!locked) return Fail(locked.error());
  if (!locked->ok()) return Failed("cannot take the migration lock: " + locked->message);
  // The lock is the session's: it goes with the connection, whatever happens below.
  auto applied = ReadApplied(c);
  if (!applied) return Fail(applied.error());
  auto plan = Plan(files, *applied);
  if (!plan) return Fail(plan.error());
  MigrationReport report;
  report.already_applied = static_cast<int>(applied->size());
  for (const Migration& m : *plan) {
    if (auto done = ApplyOne(c, m); !done) return Fail(done.error());
    report.applied.push_back(m.version);
  }
  auto unlocked = c.ExecParams("SELECT pg_advisory_unlock($1::bigint)",
                               {std::to_string(kMigrationLockKey)}, kNoLimit);
  if (!unlocked) return Fail(unlocked.error());
  return report;
}

Status GrantServiceRole(const std::string& conninfo, const std::string& role,
                        SocketWaiter& waiter) {
  auto conn = PgConnection::Connect(conninfo, waiter, kConnectTimeoutMs);
  if (!conn) return Fail(conn.error());
  auto granted = (*conn)->ExecParams("SELECT ledger_grant_service_role($1)", {role}, kNoLimit);
  if (!granted) return Fail(granted.error());
  if (!granted->ok()) {
    return Failed("cannot grant the service role '" + role + "': " + granted->message);
  }
  return Ok();
}

}  // namespace cc::ledger
