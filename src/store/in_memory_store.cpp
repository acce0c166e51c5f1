#include "store/in_memory_store.h"

#include <charconv>
#include <chrono>
#include <utility>

#include "store/validate.h"

namespace cc::store {
namespace {

int64_t SystemNowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<uint64_t> ParseCounter(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

InMemoryStore::InMemoryStore(Clock now_s)
    : now_s_(now_s ? std::move(now_s) : Clock(SystemNowSeconds)) {}

InMemoryStore::Entry* InMemoryStore::FindLive(std::string_view key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  if (it->second.expires_at != 0 && now_s_() >= it->second.expires_at) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second;
}

int64_t InMemoryStore::ExpiryFor(uint32_t ttl_s) const { return ttl_s == 0 ? 0 : now_s_() + ttl_s; }

void InMemoryStore::Put(std::string_view key, std::string_view value, uint32_t ttl_s) {
  entries_.insert_or_assign(std::string(key), Entry{std::string(value), ExpiryFor(ttl_s)});
}

Result<std::optional<std::string>> InMemoryStore::Get(std::string_view key) {
  if (auto s = ValidateKey(key); !s) return Fail(s.error());
  std::lock_guard lock(mu_);
  const Entry* entry = FindLive(key);
  if (entry == nullptr) return std::optional<std::string>();
  return std::optional<std::string>(entry->value);
}

Status InMemoryStore::Set(std::string_view key, std::string_view value, uint32_t ttl_s) {
  if (auto s = ValidateEntry(key, value, ttl_s); !s) return s;
  std::lock_guard lock(mu_);
  Put(key, value, ttl_s);
  return Ok();
}

Result<bool> InMemoryStore::Add(std::string_view key, std::string_view value, uint32_t ttl_s) {
  if (auto s = ValidateEntry(key, value, ttl_s); !s) return Fail(s.error());
  std::lock_guard lock(mu_);
  if (FindLive(key) != nullptr) return false;
  Put(key, value, ttl_s);
  return true;
}

Result<uint64_t> InMemoryStore::Incr(std::string_view key, uint64_t delta, uint64_t initial,
                                     uint32_t ttl_s) {
  if (auto s = ValidateKey(key); !s) return Fail(s.error());
  if (auto s = ValidateTtl(ttl_s); !s) return Fail(s.error());
  std::lock_guard lock(mu_);
  Entry* entry = FindLive(key);
  if (entry == nullptr) {
    Put(key, std::to_string(initial), ttl_s);
    return initial;
  }
  std::optional<uint64_t> current = ParseCounter(entry->value);
  if (!current) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_store_argument",
                "store value is not a counter");
  }
  const uint64_t next = *current + delta;  // wraps at 2^64, as memcached does
  entry->value = std::to_string(next);
  return next;
}

Status InMemoryStore::Delete(std::string_view key) {
  if (auto s = ValidateKey(key); !s) return s;
  std::lock_guard lock(mu_);
  entries_.erase(std::string(key));
  return Ok();
}

Status InMemoryStore::Ping() { return Ok(); }

size_t InMemoryStore::Size() const {
  std::lock_guard lock(mu_);
  const int64_t now = now_s_();
  size_t live = 0;
  for (const auto& [key, entry] : entries_) {
    if (entry.expires_at == 0 || now < entry.expires_at) ++live;
  }
  return live;
}

void InMemoryStore::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

}  // namespace cc::store
