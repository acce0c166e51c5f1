// AppFixture: the whole Gateway over fake ports, with its own metrics, for suites that test
// through Gateway::Handle. A suite derives from it and passes its clients: the config is
// complete before the Gateway is built (the Gateway digests the tokens when constructed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/metrics.h"
#include "fakes/fake_stripe.h"
#include "gateway/gateway.h"
#include "gateway/routes.h"
#include "holds/settled_holds.h"
#include "ledger/faulty_ledger.h"
#include "ledger/in_memory_ledger.h"
#include "store/faulty_store.h"
#include "store/in_memory_store.h"

namespace cc::testing {

struct AppFixture {
  explicit AppFixture(std::vector<config::ClientToken> clients)
      : config(ConfigWith(std::move(clients))) {}

  config::Config config;
  FakeStripe stripe;
  FakeChittyId chittyid;
  store::InMemoryStore memory;
  store::FaultyStore store{memory};  // SetFailing(true): memcached down
  ledger::InMemoryLedger book;
  ledger::FaultyLedger ledger{book};  // SetFailing(true): PostgreSQL down
  std::unique_ptr<metrics::Metrics> metrics = *metrics::Metrics::Open("", gateway::RouteNames());
  gateway::Gateway app{config, *metrics};
  holds::SettledHolds settled;
  int64_t now_ms = 1767225600000;  // a window boundary: 60 s rate windows start here

  http::Response Handle(const http::Request& r) {
    return app.Handle(r, http::Deps{config, stripe, chittyid, store, ledger, &settled}, now_ms);
  }
  static std::string Header(const http::Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

 private:
  static config::Config ConfigWith(std::vector<config::ClientToken> clients) {
    config::Config c;
    c.stripe_secret_key = "sk_test_dummy";
    c.clients = std::move(clients);
    return c;
  }
};

}  // namespace cc::testing
