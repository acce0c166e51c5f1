// The hold endpoints: create, read, list, capture, cancel, refund. Each validates first (a
// rejected request calls nothing), then talks to Stripe with an idempotency key derived
// from the logical operation, so a retry never moves money twice.
#pragma once

#include <string>
#include <string_view>

#include "http/handler.h"
#include "http/http.h"

namespace cc::holds {

http::Response CreateHold(const http::Deps& deps, const http::Caller& caller,
                          const http::Request& request);
http::Response GetHold(const http::Deps& deps, const http::Caller& caller, std::string_view id);
http::Response ListHolds(const http::Deps& deps, const http::Caller& caller,
                         const http::Request& request);
http::Response ListHoldEvents(const http::Deps& deps, const http::Caller& caller,
                              const http::Request& request, std::string_view id);
http::Response CaptureHold(const http::Deps& deps, const http::Caller& caller,
                           const http::Request& request, std::string_view id);
http::Response CancelHold(const http::Deps& deps, const http::Caller& caller,
                          const http::Request& request, std::string_view id);
// POST /api/holds/:id/refund: a partial or the whole remaining refund of a captured hold.
http::Response RefundHold(const http::Deps& deps, const http::Caller& caller,
                          const http::Request& request, std::string_view id);

// POST /api/holds/:id/dispute/submit: submits the staged dispute evidence (once).
http::Response SubmitDispute(const http::Deps& deps, const http::Caller& caller,
                             const http::Request& request, std::string_view id);

}  // namespace cc::holds
