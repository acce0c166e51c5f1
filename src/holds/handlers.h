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

// POST /api/holds/:id/reauthorize: a new off-session authorization now (holds/authorize.h);
// 409 hold_not_authorized unless the hold is authorized or waits after a refused one.
http::Response ReauthorizeHold(const http::Deps& deps, const http::Caller& caller,
                               const http::Request& request, std::string_view id);
// POST /api/holds/:id/evidence?filename=…: the raw body (JPEG, PNG or PDF, ≤ 5 MiB) stored
// with Stripe's Files API (purpose dispute_evidence), recorded with its evidence_added
// event before the 201. GET: the hold's files, oldest first.
http::Response UploadEvidence(const http::Deps& deps, const http::Caller& caller,
                              const http::Request& request, std::string_view id);
http::Response ListEvidence(const http::Deps& deps, const http::Caller& caller,
                            std::string_view id);
// POST /api/holds/:id/dispute/submit: submits the staged dispute evidence (once).
http::Response SubmitDispute(const http::Deps& deps, const http::Caller& caller,
                             const http::Request& request, std::string_view id);

}  // namespace cc::holds
