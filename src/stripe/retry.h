// When and how long StripeClient waits before trying a request again: stripe-node's
// rules (RequestSender._shouldRetry / _getSleepTimeInMS), plus 429 as Stripe's docs advise.
//
// ShouldRetry: a Stripe-Should-Retry header of "true"/"false" decides first; otherwise a
// connection failure (kUnavailable), 409, 429 and 5xx are retried, every other answer is
// not. A timeout (kDeadlineExceeded) and other transport failures (TLS, kUpstream) are
// not: the caller answers 504 at once rather than holding a worker for another timeout.
// BackoffDelay(n) = min(0.5 s · 2^(n-1), 5 s) scaled by a jitter factor in [0.5, 1],
// never below 0.5 s. Pure functions; thread-safe.
#pragma once

#include <chrono>

#include "core/result.h"
#include "httpclient/transport.h"

namespace cc::stripe {

inline constexpr std::chrono::milliseconds kInitialRetryDelay{500};
inline constexpr std::chrono::milliseconds kMaxRetryDelay{5000};

// outcome: what the transport returned for a request that did not succeed (non-2xx).
bool ShouldRetry(const Result<httpclient::HttpResponse>& outcome);

// retry: 1 for the first retry. jitter: uniform in [0, 1] (clamped).
std::chrono::milliseconds BackoffDelay(int retry, double jitter);

}  // namespace cc::stripe
