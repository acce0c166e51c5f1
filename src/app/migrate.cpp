// chittycharge-migrate: applies db/migrations/ to the ledger (DATABASE_URL), then, with
// --grant-role, grants the service's role what it may do (0002_service_role.sql).
//
//   DATABASE_URL=postgresql:///chittycharge chittycharge-migrate [--dir DIR] [--grant-role ROLE]
//
// Safe to run from several hosts at once (an advisory lock; each migration applies once).
// Exit 0 with one JSON log line on stderr ("migrations applied"); exit 2 with one JSON
// line ("migrations refused", "error": the reason) when the database is unreachable, an
// applied migration was edited or is missing, or a migration fails. docs/ledger.md.
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log.h"
#include "ledger/migrations.h"
#include "ledger/pg_migrate.h"
#include "ledger/socket_waiter.h"

#ifndef CHITTYCHARGE_MIGRATIONS_DIR
#define CHITTYCHARGE_MIGRATIONS_DIR "/usr/share/chittycharge/migrations"
#endif

namespace {

constexpr int kRefused = 2;

int Refuse(const std::string& reason) {
  cc::log::Error("migrations refused", {cc::log::Str("error", reason)});
  return kRefused;
}

std::string Join(const std::vector<int>& versions) {
  std::string out;
  for (int v : versions) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = CHITTYCHARGE_MIGRATIONS_DIR;
  std::string role;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg =
        argv[i];  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic): argv
    if ((arg == "--dir" || arg == "--grant-role") && i + 1 < argc) {
      (arg == "--dir" ? dir : role) =
          argv[++i];  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic): argv
    } else {
      return Refuse("usage: chittycharge-migrate [--dir DIR] [--grant-role ROLE]");
    }
  }
  const char* url =
      std::getenv("DATABASE_URL");  // NOLINT(concurrency-mt-unsafe): single-threaded tool
  const std::string conninfo = url != nullptr && *url != '\0' ? url : "postgresql:///chittycharge";

  auto files = cc::ledger::LoadMigrations(dir);
  if (!files) return Refuse(files.error().message);
  cc::ledger::PollSocketWaiter waiter;
  auto report = cc::ledger::ApplyMigrations(conninfo, *files, waiter);
  if (!report) return Refuse(report.error().message);
  if (!role.empty()) {
    if (auto granted = cc::ledger::GrantServiceRole(conninfo, role, waiter); !granted) {
      return Refuse(granted.error().message);
    }
  }
  const auto applied = static_cast<int>(report->applied.size());
  cc::log::Info("migrations applied",
                {cc::log::Num("applied", applied), cc::log::Str("versions", Join(report->applied)),
                 cc::log::Num("already_applied", report->already_applied),
                 cc::log::Str("granted_role", role)});
  return 0;
}
