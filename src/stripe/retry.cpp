#include "stripe/retry.h"

#include <algorithm>

namespace cc::stripe {

bool ShouldRetry(const Result<httpclient::HttpResponse>& outcome) {
  if (!outcome) return outcome.error().kind == ErrorKind::kUnavailable;
  const std::string_view advice = outcome->Header("stripe-should-retry");
  if (advice == "true") return true;
  if (advice == "false") return false;
  const long status = outcome->status;  // NOLINT(google-runtime-int): curl's type
  return status == 409 || status == 429 || (status >= 500 && status <= 599);
}

std::chrono::milliseconds BackoffDelay(int retry, double jitter) {
  using std::chrono::milliseconds;
  const int doublings = std::clamp(retry - 1, 0, 16);
  const milliseconds base =
      std::min(kInitialRetryDelay * (int64_t{1} << doublings), kMaxRetryDelay);
  const double factor = 0.5 * (1.0 + std::clamp(jitter, 0.0, 1.0));
  const auto jittered =
      milliseconds(static_cast<int64_t>(static_cast<double>(base.count()) * factor));
  return std::max(kInitialRetryDelay, jittered);
}

}  // namespace cc::stripe
