// What a handler may use: the configuration and the event loop's ports (Deps), and who
// is calling and when (Caller). Handlers are free functions over these, so unit tests
// pass fakes and a fixed clock. One Deps per event loop (its fibers share it); the
// gateway, the webhook receiver and the background jobs all take the same Deps.
#pragma once

#include <cstdint>
#include <string>

#include "chittyid/chittyid_api.h"
#include "config/config.h"
#include "ledger/ledger.h"
#include "store/kv_store.h"
#include "stripe/stripe_api.h"

namespace cc::holds {
class SettledHolds;
}

namespace cc::http {

struct Deps {
  const config::Config& config;
  stripe::StripeApi& stripe;
  chittyid::ChittyIdApi& chittyid;
  store::KvStore& store;
  ledger::Ledger& ledger;                  // the durable record (CONTRACT.md, Part 2)
  holds::SettledHolds* settled = nullptr;  // the process's settled holds; none in jobs and tests
};

struct Caller {
  const config::ClientToken& client;
  std::string idempotency_key;  // the client's Idempotency-Key, "" when none
  int64_t now = 0;              // unix seconds
  std::string request_id;       // the call's X-Request-Id (audit events carry it)
};

}  // namespace cc::http
