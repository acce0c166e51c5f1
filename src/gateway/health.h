// GET /health: the dependencies' state, probed at most once per interval per process.
//
// HealthProbe::Get probes Stripe (every 30 s) and ChittyID (every 10 s) when due, by the
// caller that finds the probe due; the network call is made without the lock. While a
// dependency's first probe is in flight, other callers wait for its result (a fresh
// worker must not report a healthy Stripe as down); after that they answer the last
// known result while a re-probe is in flight. memcached and the ledger (the calling
// loop's PostgreSQL connection, http::Deps::ledger) are pinged on every call: both are
// local and answer in well under a millisecond, and a ledger in its reconnect backoff
// answers at once.
// Thread-safe: one per worker process, shared by its event loops.
#pragma once

#include <cstdint>
#include <mutex>

#include "http/handler.h"
#include "http/http.h"

namespace cc::gateway {

class HealthProbe {
 public:
  struct Snapshot {
    bool stripe_ok = false;
    bool chittyid_ok = false;
  };
  Snapshot Get(const http::Deps& deps, int64_t now);

 private:
  std::mutex mu_;
  int64_t stripe_checked_ = -1000000;
  int64_t chittyid_checked_ = -1000000;
  bool stripe_ok_ = false;
  bool chittyid_ok_ = false;
  bool stripe_probing_ = false;
  bool chittyid_probing_ = false;
  bool stripe_known_ = false;  // a probe has completed: stripe_ok_ is a result
  bool chittyid_known_ = false;
};

// The contract's /health answer: 200 when Stripe, memcached and the ledger are up, else 503
// ("degraded"; a ChittyID outage alone is 200 "degraded").
http::Response Health(HealthProbe& probe, const http::Deps& deps, int64_t now);

}  // namespace cc::gateway
