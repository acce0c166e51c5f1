// Notifications to client apps (CONTRACT.md, Part 2, "Notifications to client apps";
// docs/notifications.md): what is sent, how it is signed, and when a failed one is tried
// again. Pure functions of their arguments (time is a parameter); the sender that leases
// notifications from the ledger and POSTs them is jobs/notifier.h.
//
// - Body: {"id", "type": "hold.<event type>", "created_at", "data": {"hold": {…},
//   "event": {…}}}: the hold as GET /api/holds/:id renders it when the notification is
//   sent (null when Stripe no longer knows it), and the event as GET
//   /api/holds/:id/events renders it. Every try of a notification carries the same id.
// - Header ChittyCharge-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>,
//   Stripe's scheme. With several secrets (rotation) there is one v1 per secret, the first
//   secret's first, so a client that knows either the old or the new one verifies.
// - Retries: 10 s after the first failed try, then doubling, at most an hour apart, until
//   3 days after the event; a try due later than that is made at the 3-day mark, and when
//   it fails too the notification is given up.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ledger/ledger.h"

namespace cc::notify {

inline constexpr std::string_view kSignatureHeader = "ChittyCharge-Signature";
inline constexpr long kSendTimeoutMs = 10000;  // NOLINT(google-runtime-int): curl's type
inline constexpr int64_t kFirstRetrySeconds = 10;
inline constexpr int64_t kMaxRetryIntervalSeconds = 3600;
inline constexpr int64_t kGiveUpAfterSeconds = 3 * 86400;

// The wait after the n-th failed try (n ≥ 1): 10 s × 2^(n-1), at most an hour.
int64_t RetryDelay(int failed_tries);
// After the `failed_tries`-th failed try of a notification queued at `created_at`, ended
// at `now`: when to try again, or nullopt to give up (3 days have passed).
std::optional<int64_t> NextAttemptAt(int64_t created_at, int failed_tries, int64_t now);

// "t=<timestamp>,v1=<hex>[,v1=<hex>…]": one v1 per secret, in order.
std::string SignatureHeader(std::span<const std::string> secrets, int64_t timestamp,
                            std::string_view body);

// The body of a notification; `hold_json` is the rendered hold object, "" for null.
std::string RenderBody(const ledger::Notification& notification, std::string_view hold_json);

// What a failed try's answer says, for last_error: "HTTP 503: <the start of its body>"
// (printable ASCII only, at most 200 characters of it).
std::string HttpFailure(long status, std::string_view body);  // NOLINT(google-runtime-int)

// "retrying" (pending, tried at least once) or "gave_up".
std::string_view FailedStatus(const ledger::Notification& notification);
// GET /api/notifications?status=failed: {"data": [{"id", "type", "hold_id", "status",
// "attempts", "last_error", "next_attempt_at"}], "has_more"}.
std::string RenderFailedPage(const ledger::Page<ledger::Notification>& page);

}  // namespace cc::notify
