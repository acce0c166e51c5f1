// What a handler may use: the configuration and the event loop's own ports, plus
// who is calling and when. Handlers are free functions over these, so unit tests pass
// fakes and a fixed clock.
#pragma once

#include <cstdint>
#include <string>

#include "chittyid/chittyid_api.h"
#include "config/config.h"
#include "store/kv_store.h"
#include "stripe/stripe_api.h"

namespace cc::api {

class SettledHolds;

struct Deps {
  const config::Config& config;
  stripe::StripeApi& stripe;
  chittyid::ChittyIdApi& chittyid;
  store::KvStore& store;
  SettledHolds* settled = nullptr;  // the process's settled holds; none in tools and tests
};

struct Caller {
  const config::ClientToken& client;
  std::string idempotency_key;  // the client's Idempotency-Key, "" when none
  int64_t now = 0;              // unix seconds
};

}  // namespace cc::api
