// Service-level idempotency for POSTs (the IETF Idempotency-Key draft's semantics).
//
// The key is scoped to the client. Begin() reserves it with one atomic memcached `add`
// (a short-lived "pending" marker, so a crashed worker cannot lock a key for a day):
// another request with the key while the first is in flight ⇒ 409
// idempotency_key_in_use; once the first finished, its status and body are replayed
// byte for byte with `Idempotent-Replayed: true`; the same key with another request
// (method, path, SHA-256 of the body) ⇒ 422 idempotency_key_reused. Finish() stores
// every final answer for 24 h; a 5xx or a conflict a retry resolves (Stripe still
// executing the same key: 409 idempotency_key_in_use) releases the key instead, so the
// client's retry reaches Stripe again and gets its replay. With memcached down the request proceeds
// unguarded: Stripe's own idempotency, under keys derived from the client's, still prevents a
// second effect.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"
#include "store/kv_store.h"

namespace cc::gateway {

inline constexpr uint32_t kIdempotencyTtl = 24U * 3600U;
inline constexpr uint32_t kIdempotencyPendingTtl = 120U;  // > the longest request

struct IdempotencyTicket {
  std::string memo_key;  // "" when the store was unreachable: nothing to finish
  std::string fingerprint;
};

struct IdempotencyBegin {
  std::optional<http::Response> answer;  // set: answer with this, do not run the handler
  IdempotencyTicket ticket;
};

IdempotencyBegin BeginIdempotent(store::KvStore& store, std::string_view client,
                                 std::string_view key, const http::Request& request);
void FinishIdempotent(store::KvStore& store, const IdempotencyTicket& ticket,
                      const http::Response& response);

}  // namespace cc::gateway
