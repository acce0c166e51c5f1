// Scheduled authorizations and re-authorizations (CONTRACT.md, "The hold's life":
// `authorize_at`, `reauthorize`): the scheduler's part of holds/authorize.h.
//
// A pass leases the due holds from the ledger (Ledger::LeaseDueAuthorizations: scheduled
// holds whose authorize_at has passed, and holds with `reauthorize` whose authorization
// ends within REAUTH_MARGIN_H while the stay goes on; oldest due first, in batches, each
// hold to one run until its lease ends) and makes one attempt for each
// (holds::Authorize, actor `scheduler`). Every Stripe POST goes out under a key derived
// from the hold, its current PaymentIntent and the attempt, recorded as an intent first: a
// run killed at any point leaves the lease to run out and the next run repeats the same
// requests under the same keys, so Stripe authorizes and cancels once. A refusal is
// recorded (`authorization_failed` / `reauthorization_failed`) and not retried by the
// scheduler: the guest confirms, or the client calls POST /api/holds/:id/reauthorize.
// Not thread-safe: one caller per Deps.
#pragma once

#include <cstdint>
#include <stop_token>

#include "http/handler.h"

namespace cc::jobs {

struct AuthorizeReport {
  int authorized = 0;              // scheduled holds authorized
  int reauthorized = 0;            // long stays re-authorized
  int authorization_failed = 0;    // refused, or no card saved (recorded)
  int reauthorization_failed = 0;  // refused (recorded; the old authorization stays)
  int deferred = 0;                // Stripe or the ledger failed: the next run after the lease
  bool ledger_down = false;
};

inline constexpr int64_t kAuthorizeLeaseSeconds = 300;
inline constexpr int kAuthorizeBatch = 50;

// Authorizes every hold due at `now`, batch after batch, until none is left, the ledger
// fails, `max_holds` were tried, or `stop` is requested.
AuthorizeReport AuthorizeDue(const http::Deps& deps, int64_t now, int max_holds = 1000,
                             const std::stop_token& stop = {});

}  // namespace cc::jobs
