#include "store/memcached_store.h"

#include <libmemcached/memcached.h>

#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <utility>
#include <vector>

#include "store/server_list.h"
#include "store/validate.h"

namespace cc::store {
namespace {

using Value = std::unique_ptr<char, decltype(&std::free)>;

// What a call to a server that is being skipped reports.
constexpr memcached_return_t kSkipped = MEMCACHED_SERVER_TEMPORARILY_DISABLED;

tl::unexpected<Error> Unavailable(memcached_st* mc, memcached_return_t rc) {
  return Fail(ErrorKind::kUnavailable, "service_unavailable",
              std::string("memcached unavailable: ") + memcached_strerror(mc, rc));
}

// The connection broke under the call (e.g. memcached restarted while this instance's
// connection sat idle): the request never reached a live server, so one immediate
// retry on a fresh connection is safe and keeps the caller from falling back to Stripe.
bool ConnectionBroke(memcached_return_t rc) {
  return rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_WRITE_FAILURE ||
         rc == MEMCACHED_READ_FAILURE || rc == MEMCACHED_UNKNOWN_READ_FAILURE ||
         rc == MEMCACHED_ERRNO || rc == MEMCACHED_SERVER_ERROR;
}

template <typename Op>
// NOLINTBEGIN(cppcoreguidelines-missing-std-forward): called twice, not forwarded
memcached_return_t RetriedOnce(Op&& op) {
  // NOLINTEND(cppcoreguidelines-missing-std-forward)
  const memcached_return_t rc = op();
  return ConnectionBroke(rc) ? op() : rc;
}

tl::unexpected<Error> Internal(std::string message) {
  return Fail(ErrorKind::kInternal, "internal_error", std::move(message));
}

struct Behavior {
  memcached_behavior_t flag;
  uint64_t value;
};

Status ApplyBehaviors(memcached_st* mc, const MemcachedOptions& o) {
  const std::initializer_list<Behavior> behaviors = {
      {MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1},
      {MEMCACHED_BEHAVIOR_TCP_NODELAY, 1},
      // Consistent ketama with MD5 hashing, compatible with libketama and other clients.
      {MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1},
      {MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, static_cast<uint64_t>(o.connect_timeout_ms)},
      {MEMCACHED_BEHAVIOR_POLL_TIMEOUT, static_cast<uint64_t>(o.io_timeout_ms)},
      // SO_SNDTIMEO / SO_RCVTIMEO in microseconds (libmemcached puts them in tv_usec).
      {MEMCACHED_BEHAVIOR_SND_TIMEOUT, static_cast<uint64_t>(o.io_timeout_ms) * 1000U},
      {MEMCACHED_BEHAVIOR_RCV_TIMEOUT, static_cast<uint64_t>(o.io_timeout_ms) * 1000U},
      {MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, static_cast<uint64_t>(o.retry_timeout_s)},
  };
  for (const Behavior& b : behaviors) {
    const memcached_return_t rc = memcached_behavior_set(mc, b.flag, b.value);
    if (!memcached_success(rc)) return Internal("memcached_behavior_set failed");
  }
  return Ok();
}

Status ValidateOptions(const MemcachedOptions& o) {
  // tv_usec must stay below one second; retry timeout 0 is refused by libmemcached.
  if (o.connect_timeout_ms < 1 || o.io_timeout_ms < 1 || o.io_timeout_ms > 999 ||
      o.retry_timeout_s < 1) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_config",
                "memcached timeouts out of range (connect ≥ 1 ms, io 1..999 ms, retry ≥ 1 s)");
  }
  return Ok();
}

// For each server, a key that consistent hashing places on it, so Ping reaches them all.
Result<std::vector<std::string>> FindProbeKeys(const memcached_st* mc) {
  const uint32_t servers = memcached_server_count(mc);
  std::vector<std::string> keys(servers);
  uint32_t found = 0;
  for (uint32_t n = 0; n < 100000 && found < servers; ++n) {
    std::string key = "chittycharge:ping:" + std::to_string(n);
    const uint32_t index = memcached_generate_hash(mc, key.data(), key.size());
    if (index < servers && keys[index].empty()) {
      keys[index] = std::move(key);
      ++found;
    }
  }
  if (found < servers) return Internal("no memcached probe key found for every server");
  return keys;
}

}  // namespace

void MemcachedStore::Free::operator()(memcached_st* mc) const noexcept { memcached_free(mc); }

Result<std::unique_ptr<MemcachedStore>> MemcachedStore::Create(std::string_view servers,
                                                               const MemcachedOptions& options) {
  if (auto s = ValidateOptions(options); !s) return Fail(s.error());
  Result<std::vector<ServerAddress>> list = ParseServerList(servers);
  if (!list) return Fail(list.error());
  Handle mc(memcached_create(nullptr));
  if (!mc) return Internal("memcached_create failed");
  if (auto s = ApplyBehaviors(mc.get(), options); !s) return Fail(s.error());
  for (const ServerAddress& server : *list) {
    if (!memcached_success(memcached_server_add(mc.get(), server.host.c_str(), server.port))) {
      return Internal("memcached_server_add failed for " + server.host);
    }
  }
  Result<std::vector<std::string>> probes = FindProbeKeys(mc.get());
  if (!probes) return Fail(probes.error());
  return std::unique_ptr<MemcachedStore>(new MemcachedStore(
      std::move(mc), std::move(*probes), std::chrono::seconds(options.retry_timeout_s)));
}

bool MemcachedStore::Suspended(std::string_view key, uint32_t& server) const {
  server = memcached_generate_hash(mc_.get(), key.data(), key.size());
  return server < suspended_until_.size() &&
         std::chrono::steady_clock::now() < suspended_until_[server];
}

void MemcachedStore::NoteTimeout(uint32_t server, bool timed_out) {
  if (timed_out && server < suspended_until_.size()) {
    suspended_until_[server] = std::chrono::steady_clock::now() + suspend_for_;
  }
}

Result<std::optional<std::string>> MemcachedStore::Get(std::string_view key) {
  if (auto s = ValidateKey(key); !s) return Fail(s.error());
  size_t length = 0;
  uint32_t flags = 0;
  memcached_return_t rc = MEMCACHED_SUCCESS;
  uint32_t server = 0;
  if (Suspended(key, server)) return Unavailable(mc_.get(), kSkipped);
  Value value(nullptr, &std::free);
  rc = RetriedOnce([&] {
    memcached_return_t got = MEMCACHED_SUCCESS;
    value.reset(memcached_get(mc_.get(), key.data(), key.size(), &length, &flags, &got));
    return got;
  });
  NoteTimeout(server, rc == MEMCACHED_TIMEOUT);
  if (rc == MEMCACHED_NOTFOUND) return std::optional<std::string>();
  if (!memcached_success(rc)) return Unavailable(mc_.get(), rc);
  // An empty value comes back as nullptr with MEMCACHED_SUCCESS.
  if (!value) return std::optional<std::string>(std::string());
  return std::optional<std::string>(std::string(value.get(), length));
}

// Binary SETQ: memcached answers only on error, and libmemcached skips such an answer
// when it reads the reply of a later command.
Status MemcachedStore::SetQuietly(std::string_view key, std::string_view value, uint32_t ttl_s) {
  memcached_behavior_set(mc_.get(), MEMCACHED_BEHAVIOR_NOREPLY, 1);
  Status stored = Set(key, value, ttl_s);
  memcached_behavior_set(mc_.get(), MEMCACHED_BEHAVIOR_NOREPLY, 0);
  return stored;
}

Status MemcachedStore::Set(std::string_view key, std::string_view value, uint32_t ttl_s) {
  if (auto s = ValidateEntry(key, value, ttl_s); !s) return s;
  uint32_t server = 0;
  if (Suspended(key, server)) return Unavailable(mc_.get(), kSkipped);
  const memcached_return_t rc = RetriedOnce([&] {
    return memcached_set(mc_.get(), key.data(), key.size(), value.data(), value.size(),
                         static_cast<time_t>(ttl_s), 0);
  });
  NoteTimeout(server, rc == MEMCACHED_TIMEOUT);
  if (!memcached_success(rc)) return Unavailable(mc_.get(), rc);
  return Ok();
}

Result<bool> MemcachedStore::Add(std::string_view key, std::string_view value, uint32_t ttl_s) {
  if (auto s = ValidateEntry(key, value, ttl_s); !s) return Fail(s.error());
  uint32_t server = 0;
  if (Suspended(key, server)) return Unavailable(mc_.get(), kSkipped);
  const memcached_return_t rc = RetriedOnce([&] {
    return memcached_add(mc_.get(), key.data(), key.size(), value.data(), value.size(),
                         static_cast<time_t>(ttl_s), 0);
  });
  NoteTimeout(server, rc == MEMCACHED_TIMEOUT);
  if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS) return false;
  if (!memcached_success(rc)) return Unavailable(mc_.get(), rc);
  return true;
}

Result<uint64_t> MemcachedStore::Incr(std::string_view key, uint64_t delta, uint64_t initial,
                                      uint32_t ttl_s) {
  if (auto s = ValidateKey(key); !s) return Fail(s.error());
  if (auto s = ValidateTtl(ttl_s); !s) return Fail(s.error());
  uint64_t value = 0;
  uint32_t server = 0;
  if (Suspended(key, server)) return Unavailable(mc_.get(), kSkipped);
  const memcached_return_t rc = RetriedOnce([&] {
    return memcached_increment_with_initial(mc_.get(), key.data(), key.size(), delta, initial,
                                            static_cast<time_t>(ttl_s), &value);
  });
  NoteTimeout(server, rc == MEMCACHED_TIMEOUT);
  if (!memcached_success(rc)) return Unavailable(mc_.get(), rc);
  return value;
}

Status MemcachedStore::Delete(std::string_view key) {
  if (auto s = ValidateKey(key); !s) return s;
  uint32_t server = 0;
  if (Suspended(key, server)) return Unavailable(mc_.get(), kSkipped);
  const memcached_return_t rc =
      RetriedOnce([&] { return memcached_delete(mc_.get(), key.data(), key.size(), 0); });
  NoteTimeout(server, rc == MEMCACHED_TIMEOUT);
  if (rc == MEMCACHED_NOTFOUND || memcached_success(rc)) return Ok();
  return Unavailable(mc_.get(), rc);
}

Status MemcachedStore::Ping() {
  for (const std::string& key : probe_keys_) {
    Result<std::optional<std::string>> got = Get(key);
    if (!got) return Fail(got.error());
  }
  return Ok();
}

}  // namespace cc::store
