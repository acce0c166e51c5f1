#include "gateway/idempotency.h"

#include <charconv>

#include "core/crypto.h"
#include "core/log.h"

namespace cc::gateway {
namespace {

constexpr std::string_view kPending = "pending\n";
constexpr std::string_view kDone = "done\n";

std::string Fingerprint(const http::Request& r) {
  return crypto::Sha256Hex(r.method + " " + r.path + "\n" + crypto::Sha256Hex(r.body));
}

// "done\n<fingerprint>\n<status>\n<content type>\n<body>"
std::optional<http::Response> ParseDone(std::string_view v, std::string_view* fingerprint) {
  v.remove_prefix(kDone.size());
  auto next = [&v]() {
    const size_t nl = v.find('\n');
    std::string_view field = v.substr(0, nl);
    v = nl == std::string_view::npos ? std::string_view{} : v.substr(nl + 1);
    return field;
  };
  *fingerprint = next();
  const std::string_view status = next();
  const std::string_view type = next();
  http::Response r;
  if (std::from_chars(status.data(), status.data() + status.size(), r.status).ec != std::errc()) {
    return std::nullopt;
  }
  r.content_type = type;
  r.body = v;
  r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

http::Response Conflict(ErrorKind kind, std::string code, std::string message) {
  return http::ErrorResponse(
      MakeError(kind, std::move(code), std::move(message), "Idempotency-Key"));
}

}  // namespace

IdempotencyBegin BeginIdempotent(store::KvStore& store, std::string_view client,
                                 std::string_view key, const http::Request& request) {
  IdempotencyBegin begin;
  begin.ticket.fingerprint = Fingerprint(request);
  const std::string memo_key =
      "idem:" + crypto::Sha256Hex(std::string(client) + "\n" + std::string(key)).substr(0, 48);
  auto added =
      store.Add(memo_key, std::string(kPending) + begin.ticket.fingerprint, kIdempotencyPendingTtl);
  if (!added) return begin;  // store down: proceed, protected by Stripe's idempotency
  if (*added) {
    begin.ticket.memo_key = memo_key;
    return begin;
  }
  auto existing = store.Get(memo_key);
  if (!existing || !*existing) {  // expired between add and get, or store failed: proceed
    return begin;
  }
  const std::string_view v = **existing;
  std::string_view stored_fingerprint;
  std::optional<http::Response> replay;
  if (v.starts_with(kDone)) {
    replay = ParseDone(v, &stored_fingerprint);
  } else if (v.starts_with(kPending)) {
    stored_fingerprint = v.substr(kPending.size());
  }
  if (stored_fingerprint != begin.ticket.fingerprint) {
    begin.answer = Conflict(ErrorKind::kUnprocessable, "idempotency_key_reused",
                            "Idempotency-Key was already used for a different request");
  } else if (replay) {
    begin.answer = std::move(replay);
  } else {
    begin.answer = Conflict(ErrorKind::kConflict, "idempotency_key_in_use",
                            "A request with this Idempotency-Key is still in progress");
  }
  return begin;
}

void FinishIdempotent(store::KvStore& store, const IdempotencyTicket& ticket,
                      const http::Response& response) {
  if (ticket.memo_key.empty()) return;
  Status stored;
  if (!response.final) {  // let the client retry
    stored = store.Delete(ticket.memo_key);
  } else {
    std::string value(kDone);
    value.append(ticket.fingerprint).append("\n").append(std::to_string(response.status));
    value.append("\n").append(response.content_type).append("\n").append(response.body);
    stored = store.Set(ticket.memo_key, value, kIdempotencyTtl);
  }
  if (!stored)
    log::Warn("idempotency record not stored", {log::Str("error", stored.error().message)});
}

}  // namespace cc::gateway
