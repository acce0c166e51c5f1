#include "holds/settled_holds.h"

#include <iterator>

#include "chittyid/pending_id.h"
#include "holds/hold_repository.h"

namespace cc::holds {
namespace {

bool Expired(int64_t stored_at, int64_t now) { return now - stored_at >= kFreshSeconds; }

}  // namespace

bool IsSettled(const HoldRecord& record) {
  const stripe::PaymentIntent& pi = record.pi;
  const bool final_state =
      pi.status == "canceled" || (pi.status == "succeeded" && record.captured_at.has_value());
  auto chitty = pi.metadata.find(std::string(kMetaChittyId));
  return final_state && chitty != pi.metadata.end() &&
         !chittyid::IsPendingChittyId(chitty->second) &&
         !pi.metadata.contains(std::string(kMetaChittyIdState));
}

SettledHolds::Body SettledHolds::Find(std::string_view id, std::string_view client, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(id));
  if (it == entries_.end() || it->second.client != client || Expired(it->second.stored_at, now)) {
    return nullptr;
  }
  return it->second.body;
}

void SettledHolds::Remember(std::string_view id, const HoldRecord& record, const std::string& body,
                            int64_t now) {
  if (!IsSettled(record)) return;
  auto owner = record.pi.metadata.find(std::string(kMetaClient));
  if (owner == record.pi.metadata.end()) return;
  auto shared = std::make_shared<const std::string>(body);
  std::lock_guard lock(mu_);
  if (entries_.size() >= kCapacity) {
    std::erase_if(entries_, [now](const auto& e) { return Expired(e.second.stored_at, now); });
    if (entries_.size() >= kCapacity) entries_.clear();
  }
  entries_.insert_or_assign(std::string(id), Entry{owner->second, std::move(shared), now});
}

size_t SettledHolds::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace cc::holds
