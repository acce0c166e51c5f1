#include "holds/hold_repository.h"

#include "core/log.h"
#include "stripe/search_query.h"

namespace cc::holds {
namespace {

tl::unexpected<Error> NotFound() { return Fail(ErrorKind::kNotFound, "not_found", "No such hold"); }

// Ids are safe as memcached keys and inside a Stripe search string.
bool SafeId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

bool OwnedBy(const stripe::PaymentIntent& pi, std::string_view client) {
  auto it = pi.metadata.find(std::string(kMetaClient));
  return it != pi.metadata.end() && it->second == client;
}

std::string HoldKey(std::string_view pi_id) { return "hold:" + std::string(pi_id); }
std::string ChittyKey(std::string_view chitty_id) { return "chitty:" + std::string(chitty_id); }

std::optional<HoldRecord> HoldRepository::Cached(const std::string& pi_id) {
  auto hit = store_.Get(HoldKey(pi_id));
  if (!hit || !*hit) return std::nullopt;
  auto record = DeserializeRecord(**hit);
  if (!record) return std::nullopt;
  return std::move(*record);
}

Result<std::string> HoldRepository::ResolvePaymentIntentId(std::string_view id,
                                                           std::string_view client) {
  if (!SafeId(id)) return NotFound();
  if (id.starts_with("pi_")) return std::string(id);
  if (auto hit = store_.Get(ChittyKey(id)); hit && *hit) return **hit;
  // Not cached: ask Stripe's search (eventually consistent; may lag a fresh hold), by the
  // current id, then by a replaced PENDING one.
  for (std::string_view key : {kMetaChittyId, kMetaPendingChittyId}) {
    auto query = stripe::SearchQuery().Metadata(kMetaClient, client).Metadata(key, id).Build();
    if (!query) return Fail(query.error());
    auto page = stripe_.Search(*query, 1, "");
    if (!page) return Fail(page.error());
    if (!page->data.empty()) return page->data.front().id;
  }
  return NotFound();
}

Result<HoldRecord> HoldRepository::Load(std::string_view id, std::string_view client, int64_t now,
                                        bool* from_stripe) {
  auto pi_id = ResolvePaymentIntentId(id, client);
  if (!pi_id) return Fail(pi_id.error());
  std::optional<int64_t> captured_at;
  if (auto cached = Cached(*pi_id)) {
    if (!OwnedBy(cached->pi, client)) return NotFound();
    if (IsTerminal(cached->pi.status) || now - cached->fetched_at < kFreshSeconds) return *cached;
    captured_at = cached->captured_at;
  }
  if (from_stripe != nullptr) *from_stripe = true;
  return Fetch(*pi_id, client, now, captured_at);
}

Result<HoldRecord> HoldRepository::Refresh(const std::string& pi_id, std::string_view client,
                                           int64_t now) {
  auto old = Cached(pi_id);
  return Fetch(pi_id, client, now, old ? old->captured_at : std::nullopt);
}

Result<HoldRecord> HoldRepository::Fetch(const std::string& pi_id, std::string_view client,
                                         int64_t now, std::optional<int64_t> captured_at) {
  auto pi = stripe_.Retrieve(pi_id);
  if (!pi) return Fail(pi.error());
  if (!OwnedBy(*pi, client)) return NotFound();
  if (pi->status == "succeeded" && !captured_at) {
    // A capture of this process or another may have cached its time while Stripe was read;
    // caching succeeded without it would hide that time for good (a terminal hold is never
    // re-read). Narrows the race to one memcached round trip.
    if (auto latest = Cached(pi_id)) captured_at = latest->captured_at;
  }
  HoldRecord record = HoldRecord::FromStripe(std::move(*pi), captured_at, now);
  Save(record);
  return record;
}

void HoldRepository::Save(const HoldRecord& record) {
  // Quiet writes: a lost one only sends the next read to Stripe.
  auto stored = store_.SetQuietly(HoldKey(record.pi.id), SerializeRecord(record), kHoldCacheTtl);
  if (stored) {
    auto chitty = record.pi.metadata.find(std::string(kMetaChittyId));
    if (chitty != record.pi.metadata.end() && SafeId(chitty->second)) {
      stored = store_.SetQuietly(ChittyKey(chitty->second), record.pi.id, kHoldCacheTtl);
    }
  }
  if (!stored) log::Warn("hold cache write failed", {log::Str("error", stored.error().message)});
}

}  // namespace cc::holds
