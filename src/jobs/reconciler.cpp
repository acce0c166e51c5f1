#include "jobs/reconciler.h"

#include <unistd.h>

#include "chittyid/pending_id.h"
#include "core/log.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "holds/stripe_key.h"
#include "stripe/search_query.h"

namespace cc::jobs {
namespace {

std::string Meta(const stripe::PaymentIntent& pi, std::string_view key) {
  auto it = pi.metadata.find(std::string(key));
  return it == pi.metadata.end() ? std::string() : it->second;
}

// One hold: true when replaced (or no longer pending).
bool ReplaceOne(const http::Deps& deps, const std::string& pi_id, int64_t now) {
  auto pi = deps.stripe.Retrieve(pi_id);
  if (!pi) return false;
  const std::string old_id = Meta(*pi, holds::kMetaChittyId);
  if (Meta(*pi, holds::kMetaChittyIdState) != "pending" || !chittyid::IsPendingChittyId(old_id))
    return true;
  stripe::Metadata mint_meta{{"client", Meta(*pi, holds::kMetaClient)}, {"payment_intent", pi_id}};
  auto minted = deps.chittyid.MintAuth(mint_meta);
  if (!minted) return false;
  auto updated = deps.stripe.UpdateMetadata(
      pi_id,
      {{std::string(holds::kMetaChittyId), *minted},
       {std::string(holds::kMetaPendingChittyId), old_id},
       {std::string(holds::kMetaChittyIdState), ""}},  // an empty value removes the key at Stripe
      holds::DeriveStripeKey("reconciler", "chitty-id:" + pi_id, old_id));
  if (!updated) return false;
  holds::HoldRepository repo(deps.stripe, deps.store);
  auto cached = repo.Cached(pi_id);
  repo.Save(holds::HoldRecord::FromStripe(std::move(*updated),
                                          cached ? cached->captured_at : std::nullopt, now));
  [[maybe_unused]] auto old_alias =
      deps.store.Set(holds::ChittyKey(old_id), pi_id, holds::kHoldCacheTtl);
  log::Info("chitty id replaced", {log::Str("pi", pi_id), log::Str("chitty_id", *minted)});
  return true;
}

}  // namespace

ReconcileReport ReconcileOnce(const http::Deps& deps, int64_t now) {
  ReconcileReport report;
  if (!deps.chittyid.Health()) {
    report.skipped = true;
    return report;
  }
  auto locked = deps.store.Add("reconcile:lock", std::to_string(::getpid()), kReconcileLockTtl);
  if (locked && !*locked) {  // another process is on it (memcached down: go ahead alone)
    report.skipped = true;
    return report;
  }
  std::vector<stripe::PaymentIntent> pending;
  if (auto query = stripe::SearchQuery().Metadata(holds::kMetaChittyIdState, "pending").Build()) {
    if (auto page = deps.stripe.Search(*query, 50, "")) pending = std::move(page->data);
  }
  for (const auto& pi : pending) {
    if (ReplaceOne(deps, pi.id, now)) {
      ++report.resolved;
    } else {
      ++report.failed;
    }
  }
  if (locked) [[maybe_unused]]
    auto released = deps.store.Delete("reconcile:lock");
  return report;
}

}  // namespace cc::jobs
