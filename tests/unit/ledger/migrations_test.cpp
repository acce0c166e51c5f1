// Tests for ledger/migrations.h: naming, ordering, checksums and the plan's refusals.
#include "ledger/migrations.h"

#include "core/crypto.h"
#include "test_util.h"

namespace cc::ledger {
namespace {

Migration M(const std::string& file, const std::string& sql) {
  auto m = ParseMigration(file, sql);
  BOOST_REQUIRE(m.has_value());
  return *m;
}

AppliedMigration Applied(const Migration& m) { return {m.version, m.name, m.checksum}; }

BOOST_AUTO_TEST_SUITE(ledger_migrations)

BOOST_AUTO_TEST_CASE(parses_the_version_name_and_checksum_of_a_file) {
  const Migration m = M("0012_add_claims.sql", "CREATE TABLE x ();");
  BOOST_TEST(m.version == 12);
  BOOST_TEST(m.name == "add_claims");
  BOOST_TEST(m.checksum == crypto::Sha256Hex("CREATE TABLE x ();"));
}

BOOST_AUTO_TEST_CASE(refuses_files_that_break_the_naming_rule) {
  for (const char* name : {"1_x.sql", "0001-x.sql", "0001_.sql", "0001_Upper.sql", "0000_x.sql",
                           "00a1_x.sql", "0001_x.SQL"}) {
    auto m = ParseMigration(name, "");
    BOOST_TEST_INFO(name);
    BOOST_TEST(!m.has_value());
  }
}

BOOST_AUTO_TEST_CASE(loads_the_repository_migrations_in_order) {
  auto all = LoadMigrations(CC_SOURCE_DIR "/db/migrations");
  REQUIRE_OK(all);
  BOOST_REQUIRE(all->size() >= 2U);
  for (size_t i = 0; i < all->size(); ++i) {
    BOOST_TEST((*all)[i].version == static_cast<int>(i) + 1);  // no gaps in the repository
  }
  BOOST_TEST((*all)[0].name == "ledger");
  BOOST_TEST((*all)[0].sql.find("CREATE TABLE schema_migrations") != std::string::npos);
  BOOST_TEST(!LoadMigrations(CC_SOURCE_DIR "/db/no_such_dir").has_value());
}

BOOST_AUTO_TEST_CASE(plans_every_file_on_an_empty_database_and_nothing_when_done) {
  const std::vector<Migration> files = {M("0001_a.sql", "a"), M("0002_b.sql", "b")};
  auto plan = Plan(files, {});
  REQUIRE_OK(plan);
  BOOST_REQUIRE(plan->size() == 2U);
  BOOST_TEST((*plan)[0].version == 1);
  BOOST_TEST((*plan)[1].version == 2);
  auto half = Plan(files, {Applied(files[0])});
  REQUIRE_OK(half);
  BOOST_REQUIRE(half->size() == 1U);
  BOOST_TEST((*half)[0].name == "b");
  auto done = Plan(files, {Applied(files[0]), Applied(files[1])});
  REQUIRE_OK(done);
  BOOST_TEST(done->empty());
}

BOOST_AUTO_TEST_CASE(refuses_an_applied_migration_that_was_edited) {
  const std::vector<Migration> applied_files = {M("0001_a.sql", "a")};
  const std::vector<Migration> edited = {M("0001_a.sql", "a -- edited")};
  auto plan = Plan(edited, {Applied(applied_files[0])});
  REQUIRE_ERROR(plan);
  BOOST_TEST(plan.error().code == "migration_refused");
  BOOST_TEST(plan.error().message.find("0001_a.sql was edited") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refuses_when_an_applied_migrations_file_is_missing_or_renamed) {
  const Migration a = M("0001_a.sql", "a");
  const Migration b = M("0002_b.sql", "b");
  auto missing = Plan({a}, {Applied(a), Applied(b)});
  REQUIRE_ERROR(missing);
  BOOST_TEST(missing.error().message.find("0002_b.sql is applied in the database but its file "
                                          "is missing") != std::string::npos);
  auto renamed = Plan({a, M("0002_c.sql", "b")}, {Applied(a), Applied(b)});
  REQUIRE_ERROR(renamed);
  BOOST_TEST(renamed.error().message.find("renamed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refuses_a_new_migration_numbered_below_the_newest_applied) {
  const Migration a = M("0001_a.sql", "a");
  const Migration c = M("0003_c.sql", "c");
  auto plan = Plan({a, M("0002_late.sql", "late"), c}, {Applied(a), Applied(c)});
  REQUIRE_ERROR(plan);
  BOOST_TEST(plan.error().message.find("0002_late.sql is older") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::ledger
