// ChittyID reconciler: replaces CHITTY-AUTH-PENDING- fallback ids with minted ones.
//
// A hold created while ChittyID was down carries metadata chitty_id_state=pending.
// ReconcileOnce() — run every few seconds by one background thread per worker process —
// takes a pool-wide memcached lock (so one process mints at a time), finds pending
// holds with Stripe search (which may lag a hold created in the last minute), mints an id for each,
// and writes chitty_id=<new>, chitty_id_pending=<old> and removes chitty_id_state in one Stripe
// update; the cache learns both ids, so the old PENDING id still finds the hold.
// With ChittyID still down it does nothing. Not thread-safe: one caller.
#pragma once

#include <cstdint>

#include "http/handler.h"

namespace cc::jobs {

inline constexpr uint32_t kReconcileLockTtl = 20;

struct ReconcileReport {
  int resolved = 0;  // replaced, or found no longer pending
  int failed = 0;
  bool skipped = false;  // ChittyID down, or another process holds the lock
};

ReconcileReport ReconcileOnce(const http::Deps& deps, int64_t now);

}  // namespace cc::jobs
