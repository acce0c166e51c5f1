// MemcachedStore: the KvStore over libmemcached, and the only user of <libmemcached/…>.
//
// One instance owns one memcached_st (its connections): NOT thread-safe, one per event
// loop (its fibers take turns) and one for the reconciler thread. Built by Create() from
// MEMCACHED_SERVERS; several servers are spread by ketama consistent hashing
// (libketama-compatible MD5), so adding a server moves ~1/N of the keys. It speaks the
// binary protocol (needed for increment-with-initial) with TCP_NODELAY and short timeouts,
// so a dead or black-holed server costs at most about connect (200 ms) or one I/O wait
// (300 ms) per call, never a hang.
// Failure: every error other than a miss is kUnavailable ("memcached unavailable: …"),
// except argument errors (store/validate.h), which are kInvalidArgument. A server that
// refused a connection or timed out is skipped (immediate kUnavailable) for
// retry_timeout_s, then tried again, so caching resumes by itself once memcached is back
// — no restart needed. (libmemcached skips refused servers itself; this class adds the
// skip after I/O timeouts, so a hung server costs one 300 ms stall per second per
// instance, not one per call.) Delete of an absent key is Ok. Incr of a value that is not
// a counter is kUnavailable (libmemcached reports it as a read failure). Nothing aborts
// when a server is down.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/kv_store.h"

struct memcached_st;

namespace cc::store {

struct MemcachedOptions {
  int connect_timeout_ms = 200;
  int io_timeout_ms = 300;  // poll, send and receive
  int retry_timeout_s = 1;  // how long a failed server is skipped (≥ 1)
};

class MemcachedStore final : public KvStore {
 public:
  // Parses and validates `servers` (store/server_list.h); kInvalidArgument on a bad list.
  // Does not connect: a server that is down at start is not an error here (Ping is).
  static Result<std::unique_ptr<MemcachedStore>> Create(std::string_view servers,
                                                        const MemcachedOptions& options = {});

  Result<std::optional<std::string>> Get(std::string_view key) override;
  Status Set(std::string_view key, std::string_view value, uint32_t ttl_s) override;
  Status SetQuietly(std::string_view key, std::string_view value, uint32_t ttl_s) override;
  Result<bool> Add(std::string_view key, std::string_view value, uint32_t ttl_s) override;
  Result<uint64_t> Incr(std::string_view key, uint64_t delta, uint64_t initial,
                        uint32_t ttl_s) override;
  Status Delete(std::string_view key) override;
  // A get of a fixed probe key on every server (one small round trip each); a miss is
  // fine. (memcached_version is no probe: libmemcached asks each server only once.)
  Status Ping() override;

 private:
  struct Free {
    void operator()(memcached_st* mc) const noexcept;
  };
  using Handle = std::unique_ptr<memcached_st, Free>;

  using SteadyTime = std::chrono::steady_clock::time_point;

  MemcachedStore(Handle mc, std::vector<std::string> probe_keys, std::chrono::seconds suspend)
      : mc_(std::move(mc)),
        probe_keys_(std::move(probe_keys)),
        suspended_until_(probe_keys_.size()),
        suspend_for_(suspend) {}

  // The index of key's server; true when that server is suspended after a timeout.
  bool Suspended(std::string_view key, uint32_t& server) const;
  // Suspends `server` for retry_timeout_s when a call to it timed out.
  void NoteTimeout(uint32_t server, bool timed_out);

  Handle mc_;
  std::vector<std::string> probe_keys_;      // one per server, hashed onto that server
  std::vector<SteadyTime> suspended_until_;  // per server
  std::chrono::seconds suspend_for_;
};

}  // namespace cc::store
