// chittycharge-jobs: one pass of the scheduler (CONTRACT.md, "The hold's life"), run by a
// systemd timer every CHITTYCHARGE_JOBS_INTERVAL_S (and by the local stack's run command).
//
//   chittycharge-jobs            auto-releases that are due, dispute evidence to stage,
//                                notifications to client apps, then the reconciler
//   chittycharge-jobs backfill   imports the configured clients' holds from Stripe
//
// Safe on several hosts at once and to kill at any point: due work is leased from the
// ledger row by row, and every Stripe POST goes out under a key derived from the work
// item, recorded as an intent first (jobs/releases.h, jobs/reconciler.h). Prints one JSON
// line with what it did; exit status 0, 1 when the ledger could not be read, 2 for a bad
// configuration.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "chittyid/chittyid_client.h"
#include "config/config.h"
#include "core/log.h"
#include "core/time_util.h"
#include "httpclient/curl_transport.h"
#include "jobs/disputes.h"
#include "jobs/notifier.h"
#include "jobs/reconciler.h"
#include "jobs/releases.h"
#include "ledger/pg_ledger.h"
#include "ledger/socket_waiter.h"
#include "store/memcached_store.h"
#include "stripe/stripe_client.h"

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "pass";  // NOLINT(*-pointer-arithmetic)
  if (mode != "pass" && mode != "backfill") {
    std::fprintf(stderr, "usage: chittycharge-jobs [pass|backfill]\n");  // NOLINT(*-vararg)
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
  const int64_t now = cc::NowSeconds();

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
  // NOLINTNEXTLINE(*-vararg)
  std::printf(
      "{\"released\":%d,\"settled_elsewhere\":%d,\"release_failed\":%d,"
      "\"notifications_delivered\":%d,\"notifications_failed\":%d,"
      "\"notifications_gave_up\":%d,\"notifications_deferred\":%d,"
      "\"intents_finished\":%d,\"holds_checked\":%d,\"chitty_ids_resolved\":%d,"
      "\"events_applied\":%d,\"disputes_staged\":%d,\"disputes_skipped\":%d,"
      "\"disputes_failed\":%d}\n",
      released.released, released.settled_elsewhere, released.failed, notified.delivered,
      notified.failed, notified.gave_up, notified.deferred, reconciled.intents_finished,
      reconciled.holds_checked, reconciled.resolved, caught_up.value_or(-1), disputes.staged,
      disputes.skipped, disputes.failed);
  return released.ledger_down || notified.ledger_down || disputes.ledger_down ? 1 : 0;
}
