// The per-client rate limit (CONTRACT.md "Rate limit"): one counter per client and fixed
// 60 s window in memcached, `rl:<client>:<window>`, shared by every worker process.
//
// A process takes tokens from that counter in leases: one `incr` by the lease size, then
// it admits that many requests from memory. The lease is the client's limit / 1,000,
// from 1 to 64 tokens, so limits below 2,000 a minute are counted request by request.
// Above that, tokens a process leased and did not use are lost at the window's end: the
// pool may refuse up to (lease - 1) × processes requests too early in a window, never
// admit one beyond the limit. A busy client then costs one memcached round trip per
// lease instead of per request. Once the counter has reached the limit, the process
// answers 429 without asking memcached until the window ends. memcached down ⇒ fail
// open (nginx's per-IP limit remains).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "store/kv_store.h"

namespace cc::gateway {

class RateLimiter {
 public:
  // Tokens taken per `incr` for a limit of `per_minute`.
  static int64_t LeaseSize(int64_t per_minute);

  // Seconds until the window ends when `client` is over its limit at `now` (unix
  // seconds); nullopt when the request may go on. Thread-safe.
  std::optional<int64_t> RetryAfter(const config::ClientToken& client, store::KvStore& store,
                                    int64_t now);

 private:
  struct Lease {
    int64_t window = -1;
    int64_t left = 0;        // tokens leased and not used yet
    bool exhausted = false;  // the counter has reached the limit in this window
  };
  std::mutex mu_;
  std::unordered_map<std::string, Lease> leases_;  // by client name
};

}  // namespace cc::gateway
