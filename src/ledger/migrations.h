// Numbered SQL migrations: reading db/migrations/, and deciding what to apply.
//
// A migration is a file `NNNN_name.sql` (four digits, then lower-case letters, digits and
// underscores): its version is NNNN, its checksum the SHA-256 of its bytes. This is the
// pure half of the runner; the libpq half (ledger/pg_migrate.h) takes the advisory lock,
// reads what the database has applied, asks Plan() and applies each pending migration in
// its own transaction.
//
// Plan() refuses (kInternal, code "migration_refused", a sentence naming the file) when
// the files and the database disagree: an applied migration whose file is gone, whose
// file's checksum or name changed (released migrations are never edited), or a new file
// numbered below the newest applied one (it would run out of order).
// LoadMigrations() fails with kInternal on an unreadable directory or file, a `.sql` file
// that does not follow the naming rule, or two files with one version.
// Pure functions and values: thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cc::ledger {

struct Migration {
  int version = 0;
  std::string name;      // "ledger" for 0001_ledger.sql
  std::string sql;       // the file's text, run as one script
  std::string checksum;  // lower-case hex SHA-256 of sql
};

// What schema_migrations records for an applied migration.
struct AppliedMigration {
  int version = 0;
  std::string name;
  std::string checksum;
};

// Parses "0001_ledger.sql" and its contents; kInternal when the name breaks the rule.
Result<Migration> ParseMigration(std::string_view filename, std::string sql);

// Every `*.sql` file of `dir`, ordered by version. Other files are ignored.
Result<std::vector<Migration>> LoadMigrations(const std::string& dir);

// The migrations to apply, in order (a subset of `files`, by value), or a refusal.
// `files` must be ordered by version (as LoadMigrations returns them).
Result<std::vector<Migration>> Plan(const std::vector<Migration>& files,
                                    const std::vector<AppliedMigration>& applied);

}  // namespace cc::ledger
