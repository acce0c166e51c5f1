#include "jobs/releases.h"

#include <string>

#include "core/crypto.h"
#include "core/log.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "holds/journal.h"

namespace cc::jobs {
namespace {

const holds::Actor kScheduler{"scheduler", ""};

enum class Outcome { kReleased, kSettledElsewhere, kFailed };

// A scheduled hold released before its authorization: no PaymentIntent, no money held;
// the ledger alone records it (status canceled, so the scheduler never authorizes it).
Outcome ReleaseUnauthorized(const http::Deps& deps, const ledger::Hold& hold, int64_t now) {
  ledger::Event e;
  e.id = holds::EventIdFor(hold.id, "released");
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.type = "released";
  e.actor = kScheduler.name;
  e.status_before = hold.status;
  e.status_after = "canceled";
  e.amount = hold.amount;
  e.currency = hold.currency;
  e.created_at = now;
  e.detail_json = R"({"authorized":false})";
  e.hold_reauthorization = "";
  if (auto appended = deps.ledger.AppendEvent(e); !appended) {
    log::Warn("release not recorded; the next run retries",
              {log::Str("hold", hold.id), log::Str("error", appended.error().message)});
    return Outcome::kFailed;
  }
  return Outcome::kReleased;
}

Outcome Release(const http::Deps& deps, const ledger::Hold& hold, int64_t now) {
  if (hold.payment_intents.empty()) return ReleaseUnauthorized(deps, hold, now);
  const std::string pi_id = hold.payment_intents.back();
  const std::string what = "release:" + pi_id;
  const std::string key = holds::ReleaseKey(hold.client, pi_id);
  ledger::StripeIntent intent;
  intent.idempotency_key = key;
  intent.operation = "release";
  intent.hold_id = hold.id;
  intent.params_digest = crypto::Sha256Hex(what);
  intent.created_at = now;
  intent.request_json = holds::IntentRequest({{"actor", "scheduler"}, {"payment_intent", pi_id}});
  if (auto begun = deps.ledger.BeginIntent(intent); !begun) {
    log::Warn("release not started: ledger",
              {log::Str("hold", hold.id), log::Str("error", begun.error().message)});
    return Outcome::kFailed;
  }
  auto pi = deps.stripe.Cancel(pi_id, stripe::CancelParams{}, key);
  if (!pi) {
    if (pi.error().kind != ErrorKind::kConflict) {  // 5xx, 429, timeout: the next run retries
      log::Warn("release failed; the next run retries",
                {log::Str("hold", hold.id), log::Str("error", pi.error().message)});
      return Outcome::kFailed;
    }
    holds::FailIntent(deps.ledger, key, pi.error(), now);
    auto current = deps.stripe.Retrieve(pi_id);  // settled elsewhere: record Stripe's state
    if (current) {
      (void)holds::SyncHold(deps.ledger, holds::HoldRecord::FromStripe(*current, std::nullopt, now),
                            holds::Actor{"reconciler", ""}, now);
    }
    return Outcome::kSettledElsewhere;
  }
  holds::FinishIntent(deps.ledger, key, *pi, now);
  const auto record = holds::HoldRecord::FromStripe(std::move(*pi), std::nullopt, now);
  if (auto synced = holds::SyncHold(deps.ledger, record, kScheduler, now); !synced) {
    log::Warn("released hold not recorded; the reconciler will",
              {log::Str("hold", hold.id), log::Str("error", synced.error().message)});
  }
  holds::HoldRepository(deps.stripe, deps.store).Save(record);  // GET sees it at once
  return Outcome::kReleased;
}

}  // namespace

ReleaseReport ReleaseDue(const http::Deps& deps, int64_t now, int max_holds,
                         const std::stop_token& stop) {
  ReleaseReport report;
  int tried = 0;
  while (tried < max_holds && !stop.stop_requested()) {
    auto due = deps.ledger.LeaseDueReleases(now, kReleaseLeaseSeconds, kReleaseBatch);
    if (!due) {
      report.ledger_down = true;
      break;
    }
    if (due->empty()) break;
    for (const ledger::Hold& hold : *due) {
      if (stop.stop_requested()) break;
      ++tried;
      switch (Release(deps, hold, now)) {
        case Outcome::kReleased: ++report.released; break;
        case Outcome::kSettledElsewhere: ++report.settled_elsewhere; break;
        case Outcome::kFailed: ++report.failed; break;
      }
    }
  }
  return report;
}

}  // namespace cc::jobs
