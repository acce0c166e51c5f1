#include "ledger/migrations.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "core/crypto.h"

namespace cc::ledger {
namespace {

tl::unexpected<Error> Refuse(std::string message) {
  return Fail(ErrorKind::kInternal, "migration_refused", std::move(message));
}

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string FileName(const Migration& m) {
  std::string version = std::to_string(m.version);
  return std::string(4 - std::min<size_t>(4, version.size()), '0') + version + "_" + m.name +
         ".sql";
}

std::string FileName(const AppliedMigration& m) {
  return FileName(Migration{m.version, m.name, {}, {}});
}

}  // namespace

Result<Migration> ParseMigration(std::string_view filename, std::string sql) {
  constexpr std::string_view kSuffix = ".sql";
  const bool shaped = filename.size() > 5 + kSuffix.size() && filename.ends_with(kSuffix) &&
                      std::all_of(filename.begin(), filename.begin() + 4, IsDigit) &&
                      filename[4] == '_';
  const std::string_view name =
      shaped ? filename.substr(5, filename.size() - 5 - kSuffix.size()) : std::string_view();
  if (!shaped || name.empty() || !std::all_of(name.begin(), name.end(), IsNameChar)) {
    return Refuse("migration file '" + std::string(filename) +
                  "' is not named NNNN_name.sql (name: a-z, 0-9, _)");
  }
  Migration m;
  m.version = std::stoi(std::string(filename.substr(0, 4)));
  if (m.version == 0) return Refuse("migration file '" + std::string(filename) + "': version 0");
  m.name = std::string(name);
  m.checksum = crypto::Sha256Hex(sql);
  m.sql = std::move(sql);
  return m;
}

Result<std::vector<Migration>> LoadMigrations(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Refuse("cannot read migrations directory '" + dir + "': " + ec.message());
  std::vector<Migration> out;
  for (const auto& entry : it) {
    const std::string filename = entry.path().filename().string();
    if (!filename.ends_with(".sql")) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return Refuse("cannot read migration file '" + entry.path().string() + "'");
    auto m = ParseMigration(filename, text.str());
    if (!m) return Fail(m.error());
    out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return Refuse("two migration files have version " + std::to_string(out[i].version) + ": '" +
                    FileName(out[i - 1]) + "' and '" + FileName(out[i]) + "'");
    }
  }
  return out;
}

Result<std::vector<Migration>> Plan(const std::vector<Migration>& files,
                                    const std::vector<AppliedMigration>& applied) {
  std::map<int, const Migration*> by_version;
  for (const Migration& m : files) by_version[m.version] = &m;
  int newest_applied = 0;
  for (const AppliedMigration& a : applied) {
    newest_applied = std::max(newest_applied, a.version);
    const auto found = by_version.find(a.version);
    if (found == by_version.end()) {
      return Refuse("migration " + FileName(a) +
                    " is applied in the database but its file is missing");
    }
    const Migration& file = *found->second;
    if (file.name != a.name) {
      return Refuse("migration " + FileName(a) + " was applied but its file is now named " +
                    FileName(file) + "; released migrations are never renamed");
    }
    if (file.checksum != a.checksum) {
      return Refuse("migration " + FileName(a) + " was edited after it was applied (checksum " +
                    a.checksum.substr(0, 12) + "… recorded, " + file.checksum.substr(0, 12) +
                    "… on disk); add a new migration instead");
    }
  }
  std::vector<Migration> pending;
  for (const Migration& m : files) {
    const bool done = std::any_of(applied.begin(), applied.end(), [&](const AppliedMigration& a) {
      return a.version == m.version;
    });
    if (done) continue;
    if (m.version < newest_applied) {
      return Refuse("migration " + FileName(m) + " is older than the newest applied one (" +
                    std::to_string(newest_applied) + "); renumber it above");
    }
    pending.push_back(m);
  }
  return pending;
}

}  // namespace cc::ledger
