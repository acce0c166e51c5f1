// PortsFixture: the ports a handler needs, all fakes, plus two clients. Suites derive
// their Boost fixture from it.
#pragma once

#include "fakes/fake_stripe.h"
#include "http/handler.h"
#include "ledger/faulty_ledger.h"
#include "ledger/in_memory_ledger.h"
#include "store/faulty_store.h"
#include "store/in_memory_store.h"

namespace cc::testing {

struct PortsFixture {
  config::Config config;
  FakeStripe stripe;
  FakeChittyId chittyid;
  store::InMemoryStore memory;
  store::FaultyStore store{memory};  // SetFailing(true): memcached down
  ledger::InMemoryLedger book;
  ledger::FaultyLedger ledger{book};  // SetFailing(true): PostgreSQL down
  config::ClientToken alpha{"alpha", "tok_a", Tier::kPremiumProperty, 10};
  config::ClientToken beta{"beta", "tok_b", Tier::kVerifiedGuest, 10};

  http::Deps deps() { return http::Deps{config, stripe, chittyid, store, ledger}; }
};

}  // namespace cc::testing
