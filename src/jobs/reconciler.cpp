#include "jobs/reconciler.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "chittyid/pending_id.h"
#include "core/log.h"
#include "holds/authorize.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "holds/journal.h"
#include "holds/stripe_key.h"
#include "jobs/disputes.h"
#include "stripe/search_query.h"
#include "webhooks/events.h"

namespace cc::jobs {
namespace {

std::string Meta(const stripe::PaymentIntent& pi, std::string_view key) {
  auto it = pi.metadata.find(std::string(key));
  return it == pi.metadata.end() ? std::string() : it->second;
}

// One hold: true when replaced (or no longer pending).
constexpr int64_t kCreateSearchLag = 600;  // a create not found by then never reached Stripe
constexpr int kIntentsPerPass = 50;
constexpr int kChecksPerPass = 500;  // 50 s at the default RECONCILE_RATE_PER_S

const holds::Actor kReconciler{"reconciler", ""};

// The PaymentIntent a create intent made, found by the ChittyID it sent; nullopt if none.
Result<std::optional<stripe::PaymentIntent>> FindCreated(const http::Deps& deps,
                                                         const std::string& chitty_id) {
  auto query = stripe::SearchQuery().Metadata(holds::kMetaChittyId, chitty_id).Build();
  if (!query) return Fail(query.error());
  auto page = deps.stripe.Search(*query, 1, "");
  if (!page) return Fail(page.error());
  if (page->data.empty()) return std::optional<stripe::PaymentIntent>();
  return std::optional<stripe::PaymentIntent>(std::move(page->data.front()));
}

// Whether Stripe's state shows the effect of the intent's POST.
bool Applied(const ledger::StripeIntent& intent, const stripe::PaymentIntent& pi) {
  if (intent.operation == "capture") return holds::CaptureApplied(intent.request_json, pi);
  if (intent.operation == "cancel" || intent.operation == "abandon" ||
      intent.operation == "release") {
    return pi.status == "canceled";
  }
  if (intent.operation == "cancel-reason") {
    auto it = pi.metadata.find(std::string(holds::kMetaCancelReason));
    return it != pi.metadata.end() &&
           it->second == holds::IntentField(intent.request_json, "reason");
  }
  if (intent.operation == "chitty-id") {
    auto it = pi.metadata.find(std::string(holds::kMetaChittyId));
    return it != pi.metadata.end() &&
           it->second == holds::IntentField(intent.request_json, holds::kMetaChittyId);
  }
  return false;
}

// The records an unfinished intent's operation makes, from Stripe's state. An itemized
// capture that took effect also gets its claim from the intent (written before the POST),
// its captured_at the time the capture was asked for.
Status RecordRepair(const http::Deps& deps, const ledger::StripeIntent& intent,
                    const holds::HoldRecord& record, int64_t now) {
  if (intent.operation == "create") {
    if (auto created = holds::RecordCreated(deps.ledger, record, kReconciler, now); !created) {
      return created;
    }
    return holds::RecordDisclosure(deps.ledger, record.pi.id,
                                   holds::IntentField(intent.request_json, "disclosure"));
  }
  constexpr std::string_view kRepair = R"({"repair":"unfinished intent"})";
  const std::string claim = intent.operation == "capture" && Applied(intent, record.pi)
                                ? holds::IntentClaimJson(intent.request_json, intent.created_at)
                                : std::string();
  if (claim.empty()) return holds::SyncHold(deps.ledger, record, kReconciler, now, kRepair);
  const std::string hold_id = intent.hold_id.empty() ? record.pi.id : intent.hold_id;
  auto recorded = holds::RecordCapture(deps.ledger, record, kReconciler, now,
                                       holds::WithClaim(kRepair, claim), hold_id, claim);
  if (!recorded) return Fail(recorded.error());
  return Ok();
}

// The hold's-life operations (holds/authorize.h): an authorize or supersede intent is
// repeated under its own key; a Customer's or SetupIntent's create holds no money, and a
// keyed retry of its create repeats the POST itself. nullopt: not one of them.
std::optional<bool> FinishLifeIntent(const http::Deps& deps, const ledger::StripeIntent& intent,
                                     int64_t now) {
  if (intent.operation == "authorize" || intent.operation == "supersede") {
    return holds::ResumeIntent(deps, intent, now);
  }
  if (intent.operation == "customer" || intent.operation == "schedule") {
    holds::FailIntent(deps.ledger, intent.idempotency_key,
                      MakeError(ErrorKind::kDeadlineExceeded, "unfinished",
                                "left unfinished by its caller; no money moved"),
                      now);
    return true;
  }
  return std::nullopt;
}

// An evidence upload's intent: succeeded when its file is recorded (one of the hold's files
// with its filename, type and size), else closed as failed. A file Stripe stored but the
// service never recorded is not evidence (the client got no 201); the same upload again
// uses the same Stripe key, gets the same File and records it.
bool FinishEvidence(const http::Deps& deps, const ledger::StripeIntent& intent, int64_t now) {
  auto files = deps.ledger.ListEvidence(intent.hold_id);
  if (!files) return false;
  const std::string& request = intent.request_json;
  for (const auto& file : *files) {
    if (file.filename == holds::IntentField(request, "filename") &&
        file.type == holds::IntentField(request, "type") &&
        std::to_string(file.size) == holds::IntentField(request, "size")) {
      return deps.ledger
          .FinishIntent(intent.idempotency_key, ledger::IntentState::kSucceeded,
                        holds::IntentRequest({{"id", file.id}}), "", now)
          .has_value();
    }
  }
  holds::FailIntent(deps.ledger, intent.idempotency_key,
                    MakeError(ErrorKind::kConflict, "not_applied",
                              "the upload was never recorded; its retry records it"),
                    now);
  return true;
}

// A refund's intent: applied when one of the PaymentIntent's refunds carries its key
// (metadata[intent]); that refund is recorded (its event names the intent's caller) and the
// intent finished with it. None: the refund never happened, the intent failed.
bool FinishRefund(const http::Deps& deps, const ledger::StripeIntent& intent,
                  const holds::HoldRecord& record, int64_t now) {
  auto refunds = deps.stripe.ListRefunds(record.pi.id);
  if (!refunds) return false;
  for (const auto& refund : *refunds) {
    if (refund.intent != intent.idempotency_key) continue;
    const std::string actor = holds::IntentField(intent.request_json, "actor");
    const holds::Actor by =
        actor.empty() ? kReconciler
                      : holds::Actor{actor, holds::IntentField(intent.request_json, "request_id")};
    if (auto recorded = holds::RecordRefund(deps.ledger, record, refund, by, now); !recorded) {
      return false;
    }
    return deps.ledger
        .FinishIntent(intent.idempotency_key, ledger::IntentState::kSucceeded,
                      holds::IntentRequest({{"id", refund.id}, {"status", refund.status}}), "", now)
        .has_value();
  }
  holds::FailIntent(
      deps.ledger, intent.idempotency_key,
      MakeError(ErrorKind::kConflict, "not_applied", "Stripe shows no refund made under this key"),
      now);
  return true;
}

// Settles one unfinished intent from Stripe's state; true when finished.
bool FinishOne(const http::Deps& deps, const ledger::StripeIntent& intent, int64_t now) {
  if (auto done = FinishLifeIntent(deps, intent, now)) return *done;
  if (intent.operation == "evidence") return FinishEvidence(deps, intent, now);
  std::optional<stripe::PaymentIntent> pi;
  if (intent.operation == "create") {
    auto found = FindCreated(deps, holds::IntentField(intent.request_json, holds::kMetaChittyId));
    if (!found) return false;
    pi = std::move(*found);
    if (!pi) {
      if (intent.created_at > now - kCreateSearchLag) return false;  // search may lag: later
      holds::FailIntent(deps.ledger, intent.idempotency_key,
                        MakeError(ErrorKind::kNotFound, "not_found",
                                  "no PaymentIntent with this ChittyID at Stripe"),
                        now);
      return true;
    }
  } else {
    auto read = deps.stripe.Retrieve(holds::IntentField(intent.request_json, "payment_intent"));
    if (!read) {
      if (read.error().kind != ErrorKind::kNotFound) return false;
      holds::FailIntent(deps.ledger, intent.idempotency_key, read.error(), now);
      return true;
    }
    pi = std::move(*read);
  }
  const auto record = holds::HoldRecord::FromStripe(std::move(*pi), std::nullopt, now);
  if (intent.operation == "abandon") {  // a declined create's leftover: not a hold
    if (Applied(intent, record.pi)) {
      holds::FinishIntent(deps.ledger, intent.idempotency_key, record.pi, now);
    } else {
      holds::FailIntent(deps.ledger, intent.idempotency_key,
                        MakeError(ErrorKind::kConflict, "not_applied", "not canceled at Stripe"),
                        now);
    }
    return true;
  }
  if (intent.operation == "refund") return FinishRefund(deps, intent, record, now);
  if (!RecordRepair(deps, intent, record, now)) return false;
  if (intent.operation == "create" || Applied(intent, record.pi)) {
    holds::FinishIntent(deps.ledger, intent.idempotency_key, record.pi, now);
  } else {
    holds::FailIntent(deps.ledger, intent.idempotency_key,
                      MakeError(ErrorKind::kConflict, "not_applied",
                                "Stripe shows no effect of this " + intent.operation),
                      now);
  }
  return true;
}

int FinishIntents(const http::Deps& deps, int64_t now, const std::stop_token& stop) {
  auto pending =
      deps.ledger.ListPendingIntents(now - deps.config.intent_grace_s + 1, kIntentsPerPass);
  if (!pending) return 0;
  int finished = 0;
  for (const auto& intent : *pending) {
    if (stop.stop_requested()) break;
    const bool done = intent.operation.starts_with("dispute_")
                          ? FinishDisputeIntent(deps, intent, now)
                          : FinishOne(deps, intent, now);
    if (done) ++finished;
  }
  return finished;
}

// A refused (re)authorization the guest may have confirmed since (the webhook lost): the
// chain moves on. false when it did (or could not tell): the hold's row is stale.
bool CheckAwaited(const http::Deps& deps, const ledger::Hold& hold, int64_t now) {
  const std::string awaited = holds::AwaitedPaymentIntent(hold);
  if (awaited.empty()) return true;
  auto pi = deps.stripe.Retrieve(awaited);
  if (!pi) return true;
  auto adopted = holds::AdoptAwaited(
      deps, holds::HoldRecord::FromStripe(std::move(*pi), std::nullopt, now), kReconciler, now);
  return adopted && !*adopted;
}

// Whether the hold has a PaymentIntent to compare (a scheduled hold not authorized yet has
// none, unless a refused one waits for the guest).
bool AtStripe(const ledger::Hold& hold) {
  return !holds::CurrentPaymentIntent(hold).empty() || !holds::AwaitedPaymentIntent(hold).empty();
}

// One open hold against Stripe (its current PaymentIntent, and a refused one it waits
// for); false when Stripe could not be read.
bool CheckOpenHold(const http::Deps& deps, const ledger::Hold& hold, int64_t now) {
  const std::string current = holds::CurrentPaymentIntent(hold);
  if (!CheckAwaited(deps, hold, now) || current.empty()) return true;
  auto pi = deps.stripe.Retrieve(current);
  if (!pi) {
    if (pi.error().kind != ErrorKind::kNotFound) return false;
    [[maybe_unused]] auto marked = holds::RecordMissingAtStripe(deps.ledger, hold, now);
    return true;
  }
  if (pi->status == hold.status) return true;
  [[maybe_unused]] auto synced =
      holds::SyncHold(deps.ledger, holds::HoldRecord::FromStripe(std::move(*pi), std::nullopt, now),
                      holds::Actor{"stripe", ""}, now);
  return true;
}

// Compares the ledger's open holds that are due (not compared for RECONCILE_INTERVAL_S)
// with Stripe, the longest waiting first, at most RECONCILE_RATE_PER_S reads a second and
// kChecksPerPass a pass; returns how many were read.
int SyncOpenHolds(const http::Deps& deps, int64_t now, const std::stop_token& stop) {
  const int batch = static_cast<int>(std::min<int64_t>(deps.config.reconcile_rate_per_s, 100));
  int checked = 0;
  while (checked < kChecksPerPass && !stop.stop_requested()) {
    auto due = deps.ledger.LeaseDueChecks(now, deps.config.open_holds_interval_s,
                                          std::min(batch, kChecksPerPass - checked));
    if (!due || due->empty()) break;
    for (const auto& hold : *due) {
      // A taken hold left unread here waits for its next turn (interval_s).
      if (stop.stop_requested()) return checked;
      if (!AtStripe(hold)) continue;
      if (checked > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1000) /
                                    deps.config.reconcile_rate_per_s);
      }
      if (CheckOpenHold(deps, hold, now)) ++checked;
    }
    if (std::ssize(*due) < batch) break;
  }
  return checked;
}

bool LedgerEmpty(const http::Deps& deps) {
  for (const auto& client : deps.config.clients) {
    ledger::HoldFilter filter;
    filter.client = client.name;
    filter.limit = 1;
    auto page = deps.ledger.ListHolds(filter);
    if (!page || !page->data.empty()) return false;
  }
  return true;
}

bool ReplaceOne(const http::Deps& deps, const std::string& pi_id, int64_t now) {
  auto pi = deps.stripe.Retrieve(pi_id);
  if (!pi) return false;
  const std::string old_id = Meta(*pi, holds::kMetaChittyId);
  if (Meta(*pi, holds::kMetaChittyIdState) != "pending" || !chittyid::IsPendingChittyId(old_id))
    return true;
  stripe::Metadata mint_meta{{"client", Meta(*pi, holds::kMetaClient)}, {"payment_intent", pi_id}};
  // The durable intent first; a later pass repeats the same id under the same key.
  const std::string key = holds::DeriveStripeKey("reconciler", "chitty-id:" + pi_id, old_id);
  auto prior = deps.ledger.FindIntent(key);
  if (!prior) return false;
  std::optional<std::string> minted;
  if (*prior) minted = holds::IntentField((*prior)->request_json, holds::kMetaChittyId);
  if (!minted || minted->empty()) {
    auto fresh = deps.chittyid.MintAuth(mint_meta);
    if (!fresh) return false;
    ledger::StripeIntent intent;
    intent.idempotency_key = key;
    intent.operation = "chitty-id";
    intent.hold_id = pi_id;
    intent.params_digest = holds::RequestDigest("reconciler", "chitty-id:" + pi_id, old_id);
    intent.request_json =
        holds::IntentRequest({{"payment_intent", pi_id}, {holds::kMetaChittyId, *fresh}});
    intent.created_at = now;
    auto begun = deps.ledger.BeginIntent(intent);
    if (!begun) return false;
    minted = holds::IntentField(begun->request_json, holds::kMetaChittyId);
  }
  auto updated = deps.stripe.UpdateMetadata(
      pi_id,
      {{std::string(holds::kMetaChittyId), *minted},
       {std::string(holds::kMetaPendingChittyId), old_id},
       {std::string(holds::kMetaChittyIdState), ""}},  // an empty value removes the key at Stripe
      key);
  if (!updated) return false;
  holds::HoldRepository repo(deps.stripe, deps.store);
  auto cached = repo.Cached(pi_id);
  const auto record = holds::HoldRecord::FromStripe(
      std::move(*updated), cached ? cached->captured_at : std::nullopt, now);
  if (auto synced = holds::SyncHold(deps.ledger, record, kReconciler, now); synced) {
    auto hold = deps.ledger.FindHold(pi_id);  // a re-authorized hold's id is its first PI's
    const std::string hold_id = hold && *hold ? (*hold)->id : pi_id;
    ledger::Event e;
    e.id = holds::EventIdFor(hold_id, "chitty_id:" + *minted);
    e.hold_id = hold_id;
    e.chitty_id = *minted;
    e.type = "chitty_id_assigned";
    e.actor = kReconciler.name;
    e.payment_intent = pi_id;
    e.detail_json = holds::IntentRequest({{"chitty_id", *minted}, {"replaced", old_id}});
    e.created_at = now;
    if (deps.ledger.AppendEvent(e)) holds::FinishIntent(deps.ledger, key, record.pi, now);
  }
  repo.Save(record);
  [[maybe_unused]] auto old_alias =
      deps.store.Set(holds::ChittyKey(old_id), pi_id, holds::kHoldCacheTtl);
  log::Info("chitty id replaced", {log::Str("pi", pi_id), log::Str("chitty_id", *minted)});
  return true;
}

}  // namespace

Result<int> Backfill(const http::Deps& deps, int64_t now) {
  int imported = 0;
  for (const auto& client : deps.config.clients) {
    auto query = stripe::SearchQuery().Metadata(holds::kMetaClient, client.name).Build();
    if (!query) return Fail(query.error());
    std::string next;
    do {
      auto page = deps.stripe.Search(*query, 100, next);
      if (!page) return Fail(page.error());
      for (auto& pi : page->data) {
        if (!holds::OwnedBy(pi, client.name)) continue;  // search ignores case
        auto known = deps.ledger.FindHold(pi.id);
        if (!known) return Fail(known.error());
        if (*known) continue;
        const auto record = holds::HoldRecord::FromStripe(std::move(pi), std::nullopt, now);
        if (auto synced = holds::SyncHold(deps.ledger, record, kReconciler, now); !synced) {
          return Fail(synced.error());
        }
        ++imported;
      }
      next = page->has_more ? page->next_page : "";
    } while (!next.empty());
  }
  return imported;
}

ReconcileReport ReconcileOnce(const http::Deps& deps, int64_t now, bool open_holds,
                              const std::stop_token& stop) {
  ReconcileReport report;
  if (open_holds && LedgerEmpty(deps)) {  // an install that ran without the ledger
    if (auto imported = Backfill(deps, now)) report.holds_imported = *imported;
  }
  report.intents_finished = FinishIntents(deps, now, stop);
  if (open_holds) report.holds_checked = SyncOpenHolds(deps, now, stop);
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

Result<int> CatchUpEvents(const http::Deps& deps, int64_t now, int max_events,
                          const std::stop_token& stop) {
  auto cursor = deps.ledger.JobState(kEventsCursor);
  if (!cursor) return Fail(cursor.error());
  const auto id_of = [](const rapidjson::Value& event) {
    return std::string(json::StringMember(event, "id").value_or(""));
  };
  if (cursor->empty()) {  // the first pass: from now on
    auto newest = deps.stripe.ListEvents("", 1);
    if (!newest) return Fail(newest.error());
    if (newest->events.empty()) return 0;
    auto doc = json::ParseStrict(newest->events.front());
    if (!doc) return Fail(doc.error());
    if (auto set = deps.ledger.SetJobState(kEventsCursor, id_of(*doc), now); !set) {
      return Fail(set.error());
    }
    return 0;
  }
  int applied = 0;
  while (applied < max_events && !stop.stop_requested()) {
    auto page = deps.stripe.ListEvents(*cursor, 100);
    if (!page) return Fail(page.error());
    for (auto it = page->events.rbegin(); it != page->events.rend(); ++it) {  // oldest first
      auto doc = json::ParseStrict(*it);
      if (!doc) return Fail(doc.error());
      auto result = webhooks::ApplyStripeEvent(deps, *doc, now, "");
      if (!result && result.error().code != "invalid_json") return Fail(result.error());
      *cursor = id_of(*doc);
      if (auto set = deps.ledger.SetJobState(kEventsCursor, *cursor, now); !set) {
        return Fail(set.error());
      }
      if (result && !result->duplicate) ++applied;
    }
    if (!page->has_more || page->events.empty()) break;
  }
  return applied;
}

}  // namespace cc::jobs
