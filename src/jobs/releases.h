// Auto-release (CONTRACT.md, "The hold's life": `release_after`): an uncaptured hold is
// cancelled by the scheduler once its release_after has passed.
//
// A pass leases the due holds from the ledger (Ledger::LeaseDueReleases: oldest due
// first, in batches, each hold to one run until its lease ends), and for each one:
// records a durable intent (operation "release") under a Stripe idempotency key derived
// from the hold's current PaymentIntent alone, cancels it at Stripe with that key, and
// records Stripe's answer (SyncHold: the `released` event, actor `scheduler`). A run
// killed at any point leaves the lease to run out; the next run repeats the same steps
// with the same key, so Stripe cancels once. A hold Stripe has already settled
// (captured, cancelled elsewhere) is recorded as Stripe has it and not released.
// Not thread-safe: one caller per Deps.
#pragma once

#include <cstdint>
#include <stop_token>

#include "http/handler.h"

namespace cc::jobs {

struct ReleaseReport {
  int released = 0;
  int settled_elsewhere = 0;  // Stripe had captured or cancelled it already
  int failed = 0;             // left to the next run (its lease runs out)
  bool ledger_down = false;
};

inline constexpr int64_t kReleaseLeaseSeconds = 300;
inline constexpr int kReleaseBatch = 50;

// Releases every hold due at `now`, batch after batch, until none is left, the ledger
// fails, `max_holds` were tried, or `stop` is requested.
ReleaseReport ReleaseDue(const http::Deps& deps, int64_t now, int max_holds = 1000,
                         const std::stop_token& stop = {});

}  // namespace cc::jobs
