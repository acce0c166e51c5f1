// The composition root: reads the config, builds the real adapters for the event loop
// and the reconciler thread, and runs the FastCGI loop on the socket spawn-fcgi handed
// over on fd 0.
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stop_token>

#include "chittyid/chittyid_client.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/time_util.h"
#include "fcgi/server.h"
#include "gateway/gateway.h"
#include "gateway/routes.h"
#include "holds/settled_holds.h"
#include "httpclient/curl_transport.h"
#include "httpclient/timed_transport.h"
#include "jobs/notifier.h"
#include "jobs/reconciler.h"
#include "ledger/event_loop_socket_waiter.h"
#include "ledger/pg_ledger.h"
#include "ledger/serial_ledger.h"
#include "ledger/socket_waiter.h"
#include "store/memcached_store.h"
#include "store/timed_store.h"
#include "stripe/stripe_client.h"

namespace {

// The ports of one event loop (its fibers share them; the reconciler thread has its own);
// the loop's handler keeps them alive.
struct LoopPorts {
  cc::httpclient::TimedTransport stripe_transport;
  cc::httpclient::TimedTransport chittyid_transport;
  cc::stripe::StripeClient stripe;
  cc::chittyid::ChittyIdClient chittyid;
  std::unique_ptr<cc::store::MemcachedStore> memcached;
  cc::store::TimedStore store;
  // The ledger: on a loop, the waiter parks the calling fiber on the loop while PostgreSQL
  // answers and SerialLedger shares the loop's few connections among its fibers (a call
  // per connection at a time); the reconciler thread blocks in poll(2) and is the only
  // caller of its one PgLedger.
  std::unique_ptr<cc::ledger::SocketWaiter> waiter;
  std::vector<std::unique_ptr<cc::ledger::PgLedger>> pg_ledgers;
  cc::ledger::SerialLedger ledger;

  LoopPorts(const cc::config::Config& c, cc::metrics::Metrics& m,
            cc::httpclient::Transport& transport, std::unique_ptr<cc::store::MemcachedStore> kv,
            std::unique_ptr<cc::ledger::SocketWaiter> ledger_waiter)
      : stripe_transport(transport, m, cc::metrics::Dependency::kStripe),
        chittyid_transport(transport, m, cc::metrics::Dependency::kChittyId),
        stripe(stripe_transport, StripeConfig(c)),
        chittyid(chittyid_transport, {c.chitty_id_url, c.chitty_id_token, c.chitty_id_timeout_ms}),
        memcached(std::move(kv)),
        store(*memcached, m),
        waiter(std::move(ledger_waiter)),
        pg_ledgers(Connections(c, *waiter)),
        ledger(Targets(pg_ledgers), &m) {}

  static std::vector<std::unique_ptr<cc::ledger::PgLedger>> Connections(
      const cc::config::Config& c, cc::ledger::SocketWaiter& waiter) {
    std::vector<std::unique_ptr<cc::ledger::PgLedger>> out;
    for (int i = 0; i < c.db_connections; ++i) {
      out.push_back(std::make_unique<cc::ledger::PgLedger>(
          cc::ledger::PgLedgerOptions{.conninfo = c.database_url,
                                      .durable_records = c.durable_records},
          waiter));
    }
    return out;
  }
  static std::vector<cc::ledger::Ledger*> Targets(
      const std::vector<std::unique_ptr<cc::ledger::PgLedger>>& ledgers) {
    std::vector<cc::ledger::Ledger*> out;
    for (const auto& l : ledgers) out.push_back(l.get());
    return out;
  }

  static cc::stripe::StripeClientConfig StripeConfig(const cc::config::Config& c) {
    cc::stripe::StripeClientConfig s;
    s.api_base = c.stripe_api_base;
    s.files_base = c.stripe_files_base;
    s.secret_key = c.stripe_secret_key;
    s.api_version = c.stripe_api_version;
    s.timeout_ms = c.stripe_timeout_ms;
    return s;
  }
};

// Every reconcile_interval_s: replace CHITTY-AUTH-PENDING- ids and settle unfinished
// intents (jobs/reconciler.h).
void RunReconciler(const cc::config::Config& config, cc::metrics::Metrics& metrics,
                   const std::stop_token& stop) {
  auto kv = cc::store::MemcachedStore::Create(config.memcached_servers);
  if (!kv) return;
  cc::httpclient::CurlTransport transport(config.ca_file);
  LoopPorts ports(config, metrics, transport, std::move(*kv),
                  std::make_unique<cc::ledger::PollSocketWaiter>());
  const cc::http::Deps deps{config, ports.stripe, ports.chittyid, ports.store,
                            *ports.pg_ledgers.front()};
  // Which clients' events the ledger queues as notifications: written at start (and again
  // each round until the ledger took it), so a new webhook counts from this restart on.
  bool notification_clients_synced = false;
  const auto sync_notification_clients = [&] {
    if (notification_clients_synced) return;
    notification_clients_synced =
        cc::jobs::SyncNotificationClients(config, deps.ledger).has_value();
  };
  sync_notification_clients();
  std::mutex mu;
  std::condition_variable_any wake;
  while (!stop.stop_requested()) {
    std::unique_lock lock(mu);
    wake.wait_for(lock, stop, std::chrono::seconds(config.reconcile_interval_s),
                  [] { return false; });
    if (stop.stop_requested()) break;
    lock.unlock();
    sync_notification_clients();
    // Open holds are compared with Stripe by chittycharge-jobs alone, so that its
    // RECONCILE_RATE_PER_S is the pool's rate, not one per worker.
    const auto report = cc::jobs::ReconcileOnce(deps, cc::NowSeconds(), false, stop);
    if (report.resolved > 0 || report.failed > 0 || report.intents_finished > 0) {
      cc::log::Info("reconciler pass", {cc::log::Num("resolved", report.resolved),
                                        cc::log::Num("failed", report.failed),
                                        cc::log::Num("intents_finished", report.intents_finished)});
    }
  }
}

}  // namespace

int main() {
  // NOLINTBEGIN(concurrency-mt-unsafe): read once at start, before threads
  auto config = cc::config::Load([](const char* name) { return std::getenv(name); });
  // NOLINTEND(concurrency-mt-unsafe)
  if (!config) {
    cc::log::Error("invalid configuration", {cc::log::Str("error", config.error().message)});
    return 2;
  }
  for (const auto& notice : config->notices) {
    cc::log::Warn("configuration", {cc::log::Str("notice", notice)});
  }
  const cc::httpclient::CurlGlobal curl;
  if (!curl.ok()) {
    cc::log::Error("curl_global_init failed");
    return 1;
  }
  // NOLINTBEGIN(concurrency-mt-unsafe): before threads
  const char* metrics_file = std::getenv("CHITTYCHARGE_METRICS_FILE");
  // NOLINTEND(concurrency-mt-unsafe)
  auto metrics = cc::metrics::Metrics::Open(metrics_file == nullptr ? "" : metrics_file,
                                            cc::gateway::RouteNames());
  if (!metrics) {
    cc::log::Error("invalid configuration", {cc::log::Str("error", metrics.error().message)});
    return 2;
  }
  cc::gateway::Gateway gateway(*config, **metrics);
  cc::holds::SettledHolds settled;  // the process's, shared by its loops
  cc::fcgi::ServerOptions options;
  options.slots = config->in_flight;
  options.loops = config->loops;
  options.ca_file = config->ca_file;
  options.upstream_max_idle_connections = static_cast<int>(config->upstream_max_idle_connections);
  options.upstream_idle_timeout_s = static_cast<int>(config->upstream_idle_timeout_s);
  options.max_body_for = &cc::gateway::MaxBodyFor;
  options.background = [&](const std::stop_token& stop) {
    RunReconciler(*config, **metrics, stop);
  };
  const int code = cc::fcgi::Run(
      options,
      [&](cc::httpclient::Transport& transport, cc::runtime::EventLoop& loop) -> cc::fcgi::Handler {
        auto kv = cc::store::MemcachedStore::Create(config->memcached_servers);
        if (!kv) throw std::runtime_error(kv.error().message);
        auto ports =
            std::make_shared<LoopPorts>(*config, **metrics, transport, std::move(*kv),
                                        std::make_unique<cc::ledger::EventLoopSocketWaiter>(loop));
        const cc::http::Deps deps{*config,      ports->stripe, ports->chittyid,
                                  ports->store, ports->ledger, &settled};
        return [&gateway, ports, deps](const cc::http::Request& request) {
          return gateway.Handle(request, deps, cc::NowMillis());
        };
      });
  return code;
}
