// chittycharge-jobs: one pass of the scheduler (CONTRACT.md, "The hold's life"), run by a
// systemd timer every CHITTYCHARGE_JOBS_INTERVAL_S (and by the local stack's run command).
//
//   chittycharge-jobs            auto-releases that are due, scheduled authorizations and
//                                re-authorizations, dispute evidence to stage,
//                                notifications to client apps, then the reconciler
//   --now=<RFC 3339|unix>        the pass as of that time (test-mode keys only: a test that
//                                moved the Stripe double's clock moves the scheduler's too)
//   chittycharge-jobs backfill   imports the configured clients' holds from Stripe
//
// Safe on several hosts at once and to kill at any point: due work is leased from the
// ledger row by row, and every Stripe POST goes out under a key derived from the work
// item, recorded as an intent first (jobs/releases.h, jobs/reconciler.h). Prints one JSON
// line with what it did; exit status 0, 1 when the ledger could not be read, 2 for a bad
// configuration.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chittyid/chittyid_client.h"
#include "config/config.h"
#include "core/log.h"
#include "core/time_util.h"
#include "httpclient/curl_transport.h"
#include "jobs/authorizations.h"
#include "jobs/disputes.h"
#include "jobs/notifier.h"
#include "jobs/reconciler.h"
#include "jobs/releases.h"
#include "ledger/pg_ledger.h"
#include "ledger/socket_waiter.h"
#include "store/memcached_store.h"
#include "stripe/stripe_client.h"

namespace {

// The arguments: the mode, and --now=<RFC 3339 | unix seconds> (a test-mode key only).
struct Args {
  std::string_view mode = "pass";
  std::optional<int64_t> now;
  bool ok = true;
};

Args ParseArgs(std::span<char*> argv) {
  Args args;
  bool mode_seen = false;
  for (const char* raw : argv.subspan(1)) {
    const std::string_view arg(raw);
    if (arg.starts_with("--now=")) {
      const std::string value(arg.substr(6));
      args.now = cc::ParseRfc3339(value);
      if (!args.now && !value.empty() && value.size() <= 12 &&
          value.find_first_not_of("0123456789") == std::string::npos) {
        args.now = std::stoll(value);
      }
      args.ok = args.ok && args.now.has_value();
    } else if (!mode_seen && (arg == "pass" || arg == "backfill")) {
      args.mode = arg;
      mode_seen = true;
    } else {
      args.ok = false;
    }
  }
  return args;
}

// The pass's one JSON line.
void PrintReport(const cc::jobs::ReleaseReport& released,
                 const cc::jobs::AuthorizeReport& authorized,
                 const cc::jobs::DisputeReport& disputes, const cc::jobs::NotifyReport& notified,
                 const cc::jobs::ReconcileReport& reconciled, const cc::Result<int>& caught_up) {
  // NOLINTNEXTLINE(*-vararg)
  std::printf(
      "{\"released\":%d,\"settled_elsewhere\":%d,\"release_failed\":%d,"
      "\"authorized\":%d,\"reauthorized\":%d,\"authorization_failed\":%d,"
      "\"reauthorization_failed\":%d,\"authorize_deferred\":%d,"
      "\"notifications_delivered\":%d,\"notifications_failed\":%d,"
      "\"notifications_gave_up\":%d,\"notifications_deferred\":%d,"
      "\"intents_finished\":%d,\"holds_checked\":%d,\"chitty_ids_resolved\":%d,"
      "\"events_applied\":%d,\"disputes_staged\":%d,\"disputes_skipped\":%d,"
      "\"disputes_failed\":%d}\n",
      released.released, released.settled_elsewhere, released.failed, authorized.authorized,
      authorized.reauthorized, authorized.authorization_failed, authorized.reauthorization_failed,
      authorized.deferred, notified.delivered, notified.failed, notified.gave_up, notified.deferred,
      reconciled.intents_finished, reconciled.holds_checked, reconciled.resolved,
      caught_up.value_or(-1), disputes.staged, disputes.skipped, disputes.failed);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(std::span<char*>(argv, static_cast<size_t>(argc)));
  const std::string_view mode = args.mode;
  if (!args.ok) {
    // NOLINTNEXTLINE(*-vararg)
    std::fprintf(stderr, "usage: chittycharge-jobs [pass|backfill] [--now=RFC3339|unix]\n");
    return 2;
  }
  // NOLINTBEGIN(concurrency-mt-unsafe): read once at start, before threads
  auto config = cc::config::Load([](const char* name) { return std::getenv(name); });
  // NOLINTEND(concurrency-mt-unsafe)
  if (!config) {
    cc::log::Error("invalid configuration", {cc::log::Str("error", config.error().message)});
    return 2;
  }
  const cc::httpclient::CurlGlobal curl;
  if (!curl.ok()) {
    cc::log::Error("curl_global_init failed");
    return 1;
  }
  auto kv = cc::store::MemcachedStore::Create(config->memcached_servers);
  if (!kv) {
    cc::log::Error("invalid configuration", {cc::log::Str("error", kv.error().message)});
    return 2;
  }
  cc::httpclient::CurlTransport transport(config->ca_file);
  cc::stripe::StripeClientConfig stripe_config;
  stripe_config.api_base = config->stripe_api_base;
  stripe_config.files_base = config->stripe_files_base;
  stripe_config.secret_key = config->stripe_secret_key;
  stripe_config.api_version = config->stripe_api_version;
  stripe_config.timeout_ms = config->stripe_timeout_ms;
  cc::stripe::StripeClient stripe(transport, stripe_config);
  cc::chittyid::ChittyIdClient chittyid(
      transport, {config->chitty_id_url, config->chitty_id_token, config->chitty_id_timeout_ms});
  cc::ledger::PollSocketWaiter waiter;
  cc::ledger::PgLedger ledger({.conninfo = config->database_url, .durable_records = true}, waiter);
  const cc::http::Deps deps{*config, stripe, chittyid, **kv, ledger};
  // --now runs the pass as of another time: Stripe's test mode lets a test move its clock
  // (STRIPE-NEXT §10) and the scheduler must see the same time. Never with a live key.
  if (args.now && !(config->stripe_secret_key.starts_with("sk_test_") ||
                    config->stripe_secret_key.starts_with("rk_test_"))) {
    cc::log::Error("--now is for test-mode keys only");
    return 2;
  }
  const int64_t now = args.now.value_or(cc::NowSeconds());

  if (mode == "backfill") {
    auto imported = cc::jobs::Backfill(deps, now);
    if (!imported) {
      cc::log::Error("backfill failed", {cc::log::Str("error", imported.error().message)});
      return 1;
    }
    std::printf("{\"imported\":%d}\n", *imported);  // NOLINT(*-vararg)
    return 0;
  }
  if (auto up = ledger.Ping(); !up) {
    cc::log::Error("ledger unavailable", {cc::log::Str("error", up.error().message)});
    return 1;
  }
  const auto released = cc::jobs::ReleaseDue(deps, now);
  const auto authorized = cc::jobs::AuthorizeDue(deps, now);
  const auto disputes = cc::jobs::StageDueDisputes(deps, now);
  // Its own connection: a client's slow endpoint does not share a handle with Stripe's.
  cc::httpclient::CurlTransport notify_transport(config->ca_file);
  const auto notified = cc::jobs::SendNotifications(deps, notify_transport);
  const auto reconciled = cc::jobs::ReconcileOnce(deps, now, /*open_holds=*/true);
  const auto caught_up = cc::jobs::CatchUpEvents(deps, now);
  if (!caught_up) {
    cc::log::Warn("events catch-up stopped; the next pass resumes",
                  {cc::log::Str("error", caught_up.error().message)});
  }
  PrintReport(released, authorized, disputes, notified, reconciled, caught_up);
  return released.ledger_down || authorized.ledger_down || disputes.ledger_down ||
                 notified.ledger_down
             ? 1
             : 0;
}
