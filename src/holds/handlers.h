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

// Guest links (CONTRACT.md Part 3, "Guest links"; docs/guest-page.md). The link's token is
// the guest routes' only credential; unknown, malformed and expired tokens are 404 not_found.
//
// POST /api/holds/:id/guest_link (the hold's owner): 201 {"url", "hold_id", "expires_at"};
// the token's SHA-256 is recorded, the token itself only returned.
http::Response CreateGuestLink(const http::Deps& deps, const http::Caller& caller,
                               std::string_view id);
// GET /pay/:token: the page. A live link ⇒ 200 with X-Accel-Redirect to kGuestPageFile (nginx
// serves the static page); else 404 (nginx shows its "link expired or invalid" page).
inline constexpr std::string_view kGuestPageFile = "/pay/.page/index.html";
http::Response ServeGuestPage(const http::Deps& deps, std::string_view token, int64_t now);
// GET /pay/:token/hold: what the page shows and confirms (the contract's fields).
http::Response GetGuestHold(const http::Deps& deps, std::string_view token, int64_t now);
// POST /pay/:token/accept {"disclosure_version"}: the current version ⇒ the hold's
// `disclosure` (set once) and its `disclosure_accepted` event (actor guest, the user agent
// in its detail), then 200 {"hold_id", "disclosure"}; another version ⇒ 409
// disclosure_outdated.
http::Response AcceptGuestDisclosure(const http::Deps& deps, const http::Request& request,
                                     std::string_view token, int64_t now,
                                     std::string_view request_id);

}  // namespace cc::holds
