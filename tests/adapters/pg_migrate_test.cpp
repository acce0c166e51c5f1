// Tests for ledger/pg_migrate.h against a real PostgreSQL: applying, concurrency across
// processes, and the refusals.
#include "ledger/pg_migrate.h"

#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "ledger/migrations.h"
#include "ledger/socket_waiter.h"
#include "postgres_process.h"
#include "test_util.h"

namespace cc::ledger {
namespace {

using cc::testing::SharedCluster;

std::vector<Migration> RepositoryMigrations() {
  auto files = LoadMigrations(CC_SOURCE_DIR "/db/migrations");
  BOOST_REQUIRE_MESSAGE(files.has_value(), files.error().message);
  return *files;
}

Migration Parsed(const std::string& file, const std::string& sql) {
  auto m = ParseMigration(file, sql);
  BOOST_REQUIRE(m.has_value());
  return *m;
}

std::string Scalar(const std::string& db, const std::string& sql) {
  const PgRows rows = SharedCluster().Sql(db, sql);
  BOOST_REQUIRE(!rows.rows.empty());
  return rows.rows.at(0).at(0).value_or("NULL");
}

BOOST_AUTO_TEST_SUITE(ledger_pg_migrate)

BOOST_AUTO_TEST_CASE(applies_every_migration_once_with_its_checksum) {
  const std::string db = SharedCluster().CreateDatabase();
  const auto files = RepositoryMigrations();
  PollSocketWaiter waiter;
  auto first = ApplyMigrations(SharedCluster().Conninfo(db), files, waiter);
  REQUIRE_OK(first);
  BOOST_TEST(first->applied.size() == files.size());
  BOOST_TEST(first->already_applied == 0);
  for (const Migration& m : files) {
    BOOST_TEST(Scalar(db, "SELECT checksum FROM schema_migrations WHERE version = " +
                              std::to_string(m.version)) == m.checksum);
  }
  auto second = ApplyMigrations(SharedCluster().Conninfo(db), files, waiter);
  REQUIRE_OK(second);
  BOOST_TEST(second->applied.empty());
  BOOST_TEST(second->already_applied == static_cast<int>(files.size()));
  BOOST_TEST(Scalar(db, "SELECT count(*) FROM schema_migrations") == std::to_string(files.size()));
}

// Four processes start at once: the advisory lock queues them, so each migration runs
// once, and the others find it applied.
BOOST_AUTO_TEST_CASE(four_processes_at_once_apply_each_migration_exactly_once) {
  const std::string db = SharedCluster().CreateDatabase();
  const std::string conninfo = SharedCluster().Conninfo(db);
  const auto files = RepositoryMigrations();
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    const pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {  // the child reports how many it applied (100 = failed)
      PollSocketWaiter waiter;
      auto report = ApplyMigrations(conninfo, files, waiter);
      _exit(report ? static_cast<int>(report->applied.size()) : 100);
    }
    children.push_back(pid);
  }
  int applied = 0;
  for (const pid_t pid : children) {
    int status = 0;
    BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) != 100);
    applied += WEXITSTATUS(status);
  }
  BOOST_TEST(applied == static_cast<int>(files.size()));
  BOOST_TEST(Scalar(db, "SELECT count(*) FROM schema_migrations") == std::to_string(files.size()));
}

BOOST_AUTO_TEST_CASE(an_edited_applied_migration_is_refused) {
  const std::string db = SharedCluster().CreateDatabase();
  auto files = RepositoryMigrations();
  PollSocketWaiter waiter;
  REQUIRE_OK(ApplyMigrations(SharedCluster().Conninfo(db), files, waiter));
  files[0] = Parsed("0001_ledger.sql", files[0].sql + "\n-- a harmless-looking edit\n");
  files.push_back(Parsed("0099_later.sql", "CREATE TABLE later_table (x integer);"));
  auto refused = ApplyMigrations(SharedCluster().Conninfo(db), files, waiter);
  REQUIRE_ERROR(refused);
  BOOST_TEST(refused.error().code == "migration_refused");
  BOOST_TEST(refused.error().message.find("0001_ledger.sql was edited") != std::string::npos);
  BOOST_TEST(Scalar(db, "SELECT to_regclass('later_table') IS NULL") == "t");  // nothing applied
}

BOOST_AUTO_TEST_CASE(a_missing_applied_migration_is_refused) {
  const std::string db = SharedCluster().CreateDatabase();
  auto files = RepositoryMigrations();
  PollSocketWaiter waiter;
  REQUIRE_OK(ApplyMigrations(SharedCluster().Conninfo(db), files, waiter));
  files.pop_back();
  auto refused = ApplyMigrations(SharedCluster().Conninfo(db), files, waiter);
  REQUIRE_ERROR(refused);
  BOOST_TEST(refused.error().message.find("its file is missing") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_failing_migration_is_rolled_back_alone) {
  const std::string db = SharedCluster().CreateDatabase();
  auto files = RepositoryMigrations();
  files.push_back(Parsed("0098_broken.sql",
                         "CREATE TABLE half_done (x integer);\nSELECT * FROM no_such_table;"));
  PollSocketWaiter waiter;
  auto failed = ApplyMigrations(SharedCluster().Conninfo(db), files, waiter);
  REQUIRE_ERROR(failed);
  BOOST_TEST(failed.error().code == "migration_failed");
  BOOST_TEST(failed.error().message.find("0098_broken.sql") != std::string::npos);
  BOOST_TEST(Scalar(db, "SELECT to_regclass('half_done') IS NULL") == "t");
  BOOST_TEST(Scalar(db, "SELECT count(*) FROM schema_migrations") ==
             std::to_string(files.size() - 1));
}

BOOST_AUTO_TEST_CASE(an_unreachable_database_is_unavailable) {
  PollSocketWaiter waiter;
  auto r = ApplyMigrations("host=/nonexistent port=1 dbname=x", RepositoryMigrations(), waiter);
  REQUIRE_ERROR(r);
  BOOST_TEST((r.error().kind == ErrorKind::kUnavailable));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::ledger
