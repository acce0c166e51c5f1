// SettledHolds: a process-wide memory of rendered holds that can no longer change.
//
// A canceled hold, or a captured one whose capture time is known, with its final
// ChittyID, is final at Stripe; its rendered JSON is kept here so a repeated GET skips
// the memcached read, the parse and the render. Entries live kFreshSeconds (the same
// bound the cache gives a live hold), so an out-of-band change at Stripe (an operator
// editing metadata) shows within seconds, as it does for the shared cache. An entry is
// served only to the client that owns the hold; another client falls through to the
// normal path (and its 404). Bounded: at kCapacity entries, expired ones are dropped,
// and if none has expired the memory starts over.
// Thread-safe: one per worker process, shared by its event loops (and their fibers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "holds/hold.h"

namespace cc::holds {

class SettledHolds {
 public:
  static constexpr size_t kCapacity = 1024;
  using Body = std::shared_ptr<const std::string>;

  // The body remembered for `id` (the id the client asked for: pi_… or chitty_id).
  Body Find(std::string_view id, std::string_view client, int64_t now);
  // Remembers a copy of `body` when `record` is settled.
  void Remember(std::string_view id, const HoldRecord& record, const std::string& body,
                int64_t now);
  size_t size();

 private:
  struct Entry {
    std::string client;
    Body body;
    int64_t stored_at = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// Nothing about the hold can change any more (see above).
bool IsSettled(const HoldRecord& record);

}  // namespace cc::holds
