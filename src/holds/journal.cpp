#include "holds/journal.h"

#include "core/crypto.h"
#include "core/log.h"
#include "core/time_util.h"
#include "holds/stripe_key.h"

namespace cc::holds {
namespace {

constexpr int64_t kRecentCreate = 600;  // a hold this young is its create's, not a legacy one

std::string Meta(const stripe::PaymentIntent& pi, std::string_view key) {
  auto it = pi.metadata.find(std::string(key));
  return it == pi.metadata.end() ? std::string() : it->second;
}

std::string ToJson(const std::function<void(json::Writer&)>& body) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  body(w);
  return {buf.GetString(), buf.GetSize()};
}

ledger::Event BaseEvent(const HoldRecord& record, const Actor& actor, int64_t now) {
  ledger::Event e;
  e.hold_id = record.pi.id;
  e.chitty_id = Meta(record.pi, kMetaChittyId);
  e.actor = actor.name;
  e.request_id = actor.request_id;
  e.currency = record.pi.currency;
  e.payment_intent = record.pi.id;
  e.created_at = now;
  return e;
}

// The amount an event of this type concerns.
int64_t EventAmount(std::string_view type, const stripe::PaymentIntent& pi) {
  if (type == "captured") return pi.amount_received;
  if (type == "authorized") return pi.amount_capturable;
  return pi.amount;
}

}  // namespace

Actor ClientActor(std::string_view client, std::string_view request_id) {
  return Actor{"client:" + std::string(client), std::string(request_id)};
}

std::string EventIdFor(std::string_view hold_id, std::string_view what) {
  std::string input(hold_id);
  input += '\n';
  input += what;
  return "evt_" + crypto::Sha256Hex(input).substr(0, 24);
}

std::string ReleaseKey(std::string_view client, std::string_view pi_id) {
  return DeriveStripeKey(client, "release:" + std::string(pi_id), "scheduler");
}

HoldSchedule ScheduleOf(const ledger::Hold& hold) {
  HoldSchedule view{hold.release_after, hold.payment_intents, std::nullopt, hold.claim_json};
  view.hold_id = hold.id;
  view.scheduled = hold.payment_intents.empty();
  view.authorize_at = hold.authorize_at;
  view.stay_ends_at = hold.stay_ends_at;
  view.reauthorize = hold.reauthorize;
  view.reauthorization_json = hold.reauthorization_json;
  view.disclosure_json = hold.disclosure_json;
  view.dispute = hold.dispute;
  return view;
}

std::string CurrentPaymentIntent(const ledger::Hold& hold) {
  return hold.payment_intents.empty() ? std::string() : hold.payment_intents.back();
}

std::string SupersedeKey(std::string_view client, std::string_view pi_id) {
  return DeriveStripeKey(client, "supersede:" + std::string(pi_id), "reauthorization");
}

int64_t RefusedAttempt(const ledger::Hold& hold) {
  if (hold.reauthorization_json.empty()) return -1;
  auto doc = json::ParseStrict(hold.reauthorization_json);
  if (!doc || !doc->IsObject()) return -1;
  return json::IntMember(*doc, "attempt").value_or(0);
}

std::string AwaitedPaymentIntent(const ledger::Hold& hold) {
  if (hold.reauthorization_json.empty()) return "";
  auto doc = json::ParseStrict(hold.reauthorization_json);
  if (!doc || !doc->IsObject()) return "";
  return std::string(json::StringMember(*doc, "payment_intent").value_or(""));
}

Status RecordAdoption(ledger::Ledger& ledger, const ledger::Hold& hold, const Adoption& adoption,
                      const Actor& actor, int64_t now) {
  const bool first =
      hold.payment_intents.empty() ||
      (hold.payment_intents.size() == 1 &&
       hold.payment_intents.front() == adoption.payment_intent && adoption.replaces.empty());
  ledger::Event e;
  e.type = first ? "authorized" : "reauthorized";
  e.id = EventIdFor(hold.id, e.type + ":" + adoption.payment_intent);
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.actor = actor.name;
  e.request_id = actor.request_id;
  e.status_before = hold.status;
  e.status_after = "requires_capture";
  e.amount = adoption.amount_capturable;
  e.currency = adoption.currency.empty() ? hold.currency : adoption.currency;
  e.payment_intent = adoption.payment_intent;
  e.created_at = now;
  e.hold_expires_at = adoption.expires_at;
  e.hold_payment_intent = adoption.payment_intent;
  e.hold_reauthorization = "";
  e.detail_json = ToJson([&](json::Writer& w) {
    w.StartObject();
    json::Key(w, "replaces");
    json::StringOrNull(w, adoption.replaces);
    w.EndObject();
  });
  auto appended = ledger.AppendEvent(e);
  if (!appended) return Fail(appended.error());
  return Ok();
}

Status RecordRefusal(ledger::Ledger& ledger, const ledger::Hold& hold, const Refusal& refusal,
                     const Actor& actor, int64_t now) {
  const std::string current = CurrentPaymentIntent(hold);
  ledger::Event e;
  e.type = current.empty() ? "authorization_failed" : "reauthorization_failed";
  e.id = EventIdFor(hold.id, e.type + ":" + current + ":" + std::to_string(refusal.attempt));
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.actor = actor.name;
  e.request_id = actor.request_id;
  e.status_before = hold.status;
  // A scheduled hold waits for a card; a re-authorized one keeps its authorization.
  e.status_after = current.empty() ? "requires_payment_method" : hold.status;
  e.amount = hold.amount;
  e.currency = hold.currency;
  e.payment_intent = refusal.payment_intent;
  e.created_at = now;
  e.detail_json = ToJson([&](json::Writer& w) {
    w.StartObject();
    json::Key(w, "code");
    json::String(w, refusal.code);
    if (!refusal.decline_code.empty()) {
      json::Key(w, "decline_code");
      json::String(w, refusal.decline_code);
    }
    json::Key(w, "payment_intent");
    json::StringOrNull(w, refusal.payment_intent);
    if (!refusal.message.empty()) {
      json::Key(w, "message");
      json::String(w, refusal.message);
    }
    w.EndObject();
  });
  e.hold_reauthorization = ToJson([&](json::Writer& w) {
    w.StartObject();
    json::Key(w, "status");
    json::String(w, "failed");
    json::Key(w, "code");
    json::String(w, refusal.code);
    json::Key(w, "client_secret");
    json::StringOrNull(w, refusal.client_secret);
    json::Key(w, "payment_intent");
    json::StringOrNull(w, refusal.payment_intent);
    json::Key(w, "attempt");
    w.Int64(refusal.attempt);
    w.EndObject();
  });
  auto appended = ledger.AppendEvent(e);
  if (!appended) return Fail(appended.error());
  return Ok();
}

ledger::Hold LedgerHoldOf(const HoldRecord& record) {
  const auto& pi = record.pi;
  ledger::Hold h;
  h.id = pi.id;
  h.chitty_id = Meta(pi, kMetaChittyId);
  h.client = Meta(pi, kMetaClient);
  h.property_id = Meta(pi, kMetaPropertyId);
  h.tenant_id = Meta(pi, kMetaTenantId);
  h.amount = pi.amount;
  h.currency = pi.currency;
  h.status = pi.status;
  h.created_at = pi.created;
  h.expires_at = ExpiresAt(pi);
  h.payment_intents = {pi.id};
  return h;
}

std::string_view TransitionType(std::string_view before, std::string_view after,
                                std::string_view cancellation_reason) {
  if (after == "succeeded") return "captured";
  if (after == "canceled") {
    const bool lapsed = cancellation_reason == "expired" || cancellation_reason == "automatic";
    return lapsed && before == "requires_capture" ? "expired" : "canceled";
  }
  if (after == "requires_capture") return "authorized";
  if (after == "requires_payment_method" &&
      (before == "requires_action" || before == "requires_confirmation" || before == "processing" ||
       before == "requires_capture")) {
    return "authorization_failed";
  }
  return "reconciled";
}

namespace {

ledger::Event CreatedEvent(const HoldRecord& record, const Actor& actor, int64_t now) {
  ledger::Event e = BaseEvent(record, actor, now);
  e.id = EventIdFor(record.pi.id, "created");
  e.type = "created";
  e.status_after = record.pi.status;
  e.amount = record.pi.amount;
  return e;
}

// The first event of a hold the ledger learns of from Stripe: `created` when Stripe made it
// within kRecentCreate (its create's own record is on its way and names the same event),
// else `reconciled` (a hold older than the ledger).
ledger::Event FirstEventOf(const HoldRecord& record, const Actor& actor, int64_t now) {
  if (record.pi.created >= now - kRecentCreate) return CreatedEvent(record, actor, now);
  ledger::Event e = CreatedEvent(record, actor, now);
  e.id = EventIdFor(record.pi.id, "imported");
  e.type = "reconciled";
  e.detail_json = R"({"imported":"the hold predates the ledger"})";
  return e;
}

std::string IntentResult(const stripe::PaymentIntent& pi) {
  return IntentRequest({{"id", pi.id}, {"status", pi.status}});
}

// The hold a PaymentIntent's chitty_id (or the PENDING one it replaced) names, if any.
Result<std::optional<ledger::Hold>> OwnerByChittyId(ledger::Ledger& ledger,
                                                    const stripe::PaymentIntent& pi) {
  for (std::string_view key : {kMetaChittyId, kMetaPendingChittyId}) {
    const std::string chitty_id = Meta(pi, key);
    if (chitty_id.empty()) continue;
    auto owner = ledger.FindHold(chitty_id);
    if (!owner || *owner) return owner;
  }
  return std::optional<ledger::Hold>();
}

// What a supersede intent (written before its cancel) says of the PaymentIntent that
// replaces `old`.
Adoption AdoptionFromIntent(const ledger::StripeIntent& intent, const stripe::PaymentIntent& old) {
  Adoption a;
  a.payment_intent = IntentField(intent.request_json, "replaced_by");
  a.replaces = old.id;
  a.currency = old.currency;
  auto doc = json::ParseStrict(intent.request_json);
  if (doc && doc->IsObject()) {
    a.amount_capturable = json::IntMember(*doc, "amount_capturable").value_or(old.amount);
    a.expires_at = json::IntMember(*doc, "expires_at");
  }
  return a;
}

// Who a recorded intent acted for (its request's actor and request_id), else `fallback`.
Actor IntentActor(const ledger::StripeIntent& intent, const Actor& fallback) {
  std::string name = IntentField(intent.request_json, "actor");
  if (name.empty()) return fallback;
  return Actor{std::move(name), IntentField(intent.request_json, "request_id")};
}

}  // namespace

Status RecordCreated(ledger::Ledger& ledger, const HoldRecord& record, const Actor& actor,
                     int64_t now) {
  auto recorded = ledger.RecordHold(LedgerHoldOf(record));
  if (!recorded) return Fail(recorded.error());
  auto appended = ledger.AppendEvent(CreatedEvent(record, actor, now));
  if (!appended) return Fail(appended.error());
  return Ok();
}

ledger::Hold LedgerHoldOf(const HoldRecord& record, const HoldTerms& terms) {
  ledger::Hold hold = LedgerHoldOf(record);
  hold.release_after = terms.release_after;
  hold.authorize_at = terms.authorize_at;
  hold.stay_ends_at = terms.stay_ends_at;
  hold.reauthorize = terms.reauthorize;
  hold.customer = terms.customer;
  hold.disclosure_json = terms.disclosure;  // for the answer: RecordHold does not write it
  return hold;
}

Status RecordCreatedAndFinish(ledger::Ledger& ledger, const HoldRecord& record, const Actor& actor,
                              int64_t now, const std::string& intent_key, const HoldTerms& terms) {
  const ledger::Hold hold = LedgerHoldOf(record, terms);
  if (terms.disclosure.empty()) {
    return ledger.RecordCreate(hold, CreatedEvent(record, actor, now), intent_key,
                               IntentResult(record.pi), now);
  }
  // The disclosure goes on the row before the intent is finished: a crash in between
  // leaves the intent pending, and the reconciler's repair sets it from the intent.
  auto recorded = ledger.RecordHold(hold);
  if (!recorded) return Fail(recorded.error());
  auto appended = ledger.AppendEvent(CreatedEvent(record, actor, now));
  if (!appended) return Fail(appended.error());
  if (auto set = RecordDisclosure(ledger, record.pi.id, terms.disclosure); !set) return set;
  return ledger.FinishIntent(intent_key, ledger::IntentState::kSucceeded, IntentResult(record.pi),
                             "", now);
}

Status RecordDisclosure(ledger::Ledger& ledger, const std::string& hold_id,
                        std::string_view disclosure_json) {
  if (disclosure_json.empty()) return Ok();
  auto set = ledger.SetHoldDisclosure(hold_id, disclosure_json);
  if (!set) return Fail(set.error());
  return Ok();
}

namespace {

// The ledger's hold of a PaymentIntent read from Stripe, for SyncHold; nullopt when there
// is nothing more to record: one of a hold's PaymentIntents that its chain does not hold
// (yet), or a hold unknown to the ledger, imported here with its first event.
Result<std::optional<ledger::Hold>> KnownOrImported(ledger::Ledger& ledger,
                                                    const HoldRecord& record, const Actor& actor,
                                                    int64_t now) {
  const auto& pi = record.pi;
  auto known = ledger.FindHold(pi.id);
  if (!known || *known) return known;
  auto owner = OwnerByChittyId(ledger, pi);
  if (!owner) return Fail(owner.error());
  if (*owner) return std::optional<ledger::Hold>();
  auto recorded = ledger.RecordHold(LedgerHoldOf(record));
  if (!recorded) return Fail(recorded.error());
  if (*recorded) {  // recorded with Stripe's status: its first event is all there is to add
    auto appended = ledger.AppendEvent(FirstEventOf(record, actor, now));
    if (!appended) return Fail(appended.error());
    return std::optional<ledger::Hold>();
  }
  known = ledger.FindHold(pi.id);  // another caller recorded it meanwhile
  if (!known) return Fail(known.error());
  if (!*known) return Fail(ErrorKind::kInternal, "ledger_error", "a recorded hold vanished");
  return known;
}

// Whether the scheduler's or a re-authorization's intent names this cancel (pending or
// done): the intent under `key`.
Result<std::optional<ledger::StripeIntent>> LiveIntent(ledger::Ledger& ledger,
                                                       const std::string& key) {
  auto intent = ledger.FindIntent(key);
  if (!intent) return Fail(intent.error());
  if (*intent && (*intent)->state == ledger::IntentState::kFailed) {
    return std::optional<ledger::StripeIntent>();
  }
  return intent;
}

}  // namespace

Actor ChangeActor(ledger::Ledger& ledger, std::string_view pi_id, std::string_view status,
                  const Actor& fallback) {
  const auto makes = [status](std::string_view op) {
    if (status == "succeeded") return op == "capture";
    if (status == "canceled") return op == "cancel" || op == "release";
    return false;
  };
  if (status != "succeeded" && status != "canceled") return fallback;  // no caller's move
  auto hold = ledger.FindHold(pi_id);
  if (!hold || !*hold) return fallback;
  auto pending = ledger.PendingIntentsOf((*hold)->id);
  if (!pending) return fallback;
  for (const auto& intent : *pending) {
    if (!makes(intent.operation)) continue;
    const std::string name = IntentField(intent.request_json, "actor");
    if (name.empty()) continue;
    return Actor{name, IntentField(intent.request_json, "request_id")};
  }
  return fallback;
}

Actor RefundActor(ledger::Ledger& ledger, const stripe::Refund& refund, const Actor& fallback) {
  if (refund.intent.empty()) return fallback;
  auto intent = ledger.FindIntent(refund.intent);
  if (!intent || !*intent || (*intent)->operation != "refund") return fallback;
  const std::string name = IntentField((*intent)->request_json, "actor");
  if (name.empty()) return fallback;
  return Actor{name, IntentField((*intent)->request_json, "request_id")};
}

namespace {

Status SyncHoldOnce(ledger::Ledger& ledger, const HoldRecord& record, const Actor& actor,
                    int64_t now, std::string_view detail_json) {
  const auto& pi = record.pi;
  auto known = KnownOrImported(ledger, record, actor, now);
  if (!known) return Fail(known.error());
  if (!*known) return Ok();
  // Only the current PaymentIntent speaks for its hold (an older one was replaced).
  const std::string current = CurrentPaymentIntent(**known);
  if (current != pi.id) return Ok();
  const std::string before = (*known)->status;
  if (before == pi.status) return Ok();
  // A terminal hold never leaves its state: a non-terminal status is a read of Stripe made
  // before the change the ledger already has (a webhook that re-read Stripe just before a
  // capture, recorded just after it). Recording it would move the hold back.
  if (IsTerminal(before) && !IsTerminal(pi.status)) return Ok();
  std::string_view type = TransitionType(before, pi.status, pi.cancellation_reason);
  // The scheduler's release of this PaymentIntent (its intent pending or done) is
  // `released`, whoever records the cancel first: the run, its webhook, the reconciler.
  if (type == "canceled" && (*known)->release_after && *(*known)->release_after <= now) {
    auto release = LiveIntent(ledger, ReleaseKey((*known)->client, pi.id));
    if (!release) return Fail(release.error());
    if (*release) type = "released";
  }
  if (type == "canceled") {  // a re-authorization's cancel of what it replaces
    auto supersede = LiveIntent(ledger, SupersedeKey((*known)->client, pi.id));
    if (!supersede) return Fail(supersede.error());
    if (*supersede) {
      return RecordAdoption(ledger, **known, AdoptionFromIntent(**supersede, pi),
                            IntentActor(**supersede, actor), now);
    }
  }
  ledger::Event e = BaseEvent(record, type == "released" ? Actor{"scheduler", ""} : actor, now);
  e.hold_id = (*known)->id;
  e.id = EventIdFor(e.hold_id, pi.id + ":" + pi.status);
  e.type = std::string(type);
  e.status_before = before;
  e.status_after = pi.status;
  e.if_status_unchanged = true;  // `before` was read above: nothing may have moved it since
  e.amount = EventAmount(type, pi);
  e.hold_expires_at = ExpiresAt(pi);
  // Settled by the client or the scheduler: no refused re-authorization waits any more (an
  // authorization that lapsed keeps it: the guest may still confirm the new one).
  if (type == "captured" || type == "canceled" || type == "released") e.hold_reauthorization = "";
  if (type == "reconciled") {
    e.detail_json = ToJson([&](json::Writer& w) {
      w.StartObject();
      json::Key(w, "status");
      w.StartObject();
      json::Key(w, "ledger");
      json::String(w, before);
      json::Key(w, "stripe");
      json::String(w, pi.status);
      w.EndObject();
      w.EndObject();
    });
  } else if (type == "captured" && !(*known)->claim_json.empty()) {
    // The hold's claim, whoever records the capture first: the client's call, a webhook
    // racing it, the reconciler.
    e.detail_json = WithClaim(detail_json, (*known)->claim_json);
  } else {
    e.detail_json = std::string(detail_json);
  }
  auto appended = ledger.AppendEvent(e);
  if (!appended) return Fail(appended.error());
  return Ok();
}

}  // namespace

Status SyncHold(ledger::Ledger& ledger, const HoldRecord& record, const Actor& actor, int64_t now,
                std::string_view detail_json) {
  // Another transition committed between this one's read of the ledger and its write (a
  // webhook's read of Stripe made just before a capture, written just after it) refuses the
  // write: read the ledger again, where the terminal status now stops it.
  for (int attempt = 1;; ++attempt) {
    Status synced = SyncHoldOnce(ledger, record, actor, now, detail_json);
    if (synced || synced.error().code != "hold_changed" || attempt == 3) return synced;
  }
}

Status RecordMissingAtStripe(ledger::Ledger& ledger, const ledger::Hold& hold, int64_t now) {
  ledger::Event e;
  e.id = EventIdFor(hold.id, kMissingAtStripe);
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.type = "reconciled";
  e.actor = "reconciler";
  e.status_before = hold.status;
  e.status_after = std::string(kMissingAtStripe);
  e.currency = hold.currency;
  e.payment_intent = hold.payment_intents.empty() ? hold.id : hold.payment_intents.back();
  e.created_at = now;
  e.detail_json = ToJson([&](json::Writer& w) {
    w.StartObject();
    json::Key(w, "missing_at_stripe");
    w.Bool(true);
    json::Key(w, "status");
    w.StartObject();
    json::Key(w, "ledger");
    json::String(w, hold.status);
    w.EndObject();
    w.EndObject();
  });
  auto appended = ledger.AppendEvent(e);
  if (!appended) return Fail(appended.error());
  return Ok();
}

Status RecordRefund(ledger::Ledger& ledger, const HoldRecord& record, const stripe::Refund& refund,
                    const Actor& actor, int64_t now) {
  if (refund.status == "failed" || refund.status == "canceled") return Ok();
  auto known = ledger.FindHold(record.pi.id);
  if (!known) return Fail(known.error());
  ledger::Event e = BaseEvent(record, actor, now);
  if (*known) e.hold_id = (*known)->id;
  e.id = EventIdFor(e.hold_id, "refund:" + refund.id);
  e.type = "refunded";
  e.status_before = record.pi.status;
  e.status_after = record.pi.status;
  e.amount = refund.amount;
  if (!refund.currency.empty()) e.currency = refund.currency;
  e.detail_json = ToJson([&](json::Writer& w) {
    w.StartObject();
    json::Key(w, "refund");
    json::String(w, refund.id);
    json::Key(w, "reason");
    json::StringOrNull(w, refund.reason);
    w.EndObject();
  });
  auto appended = ledger.AppendEvent(e);
  if (!appended) return Fail(appended.error());
  return Ok();
}

Result<std::string> RecordCapture(ledger::Ledger& ledger, const HoldRecord& record,
                                  const Actor& actor, int64_t now, std::string_view detail_json,
                                  const std::string& hold_id, const std::string& claim_json) {
  if (claim_json.empty()) {
    if (auto synced = SyncHold(ledger, record, actor, now, detail_json); !synced) {
      return Fail(synced.error());
    }
    return std::string();
  }
  auto set = ledger.SetHoldClaim(hold_id, claim_json);
  const bool unknown = !set && set.error().kind == ErrorKind::kNotFound;
  if (!set && !unknown) return Fail(set.error());
  if (auto synced = SyncHold(ledger, record, actor, now, detail_json); !synced) {
    return Fail(synced.error());
  }
  if (unknown) set = ledger.SetHoldClaim(hold_id, claim_json);  // imported by SyncHold
  if (!set) return Fail(set.error());
  if (*set) return claim_json;
  auto stored = ledger.FindHold(hold_id);  // claimed before: the first claim stays
  if (!stored) return Fail(stored.error());
  if (!*stored) return Fail(ErrorKind::kInternal, "ledger_error", "a claimed hold vanished");
  return (*stored)->claim_json;
}

std::string CaptureIntentRequest(std::string_view pi_id, const Actor& actor,
                                 std::string_view reason, const claims::Claim* claim) {
  return ToJson([&](json::Writer& w) {
    w.StartObject();
    for (const auto& [k, v] :
         {std::pair<std::string_view, std::string_view>{"payment_intent", pi_id},
          {"actor", actor.name},
          {"request_id", actor.request_id},
          {"reason", reason}}) {
      json::Key(w, k);
      json::String(w, v);
    }
    if (claim != nullptr) {
      json::Key(w, "claim");
      claims::WriteClaim(w, *claim, std::nullopt);
    }
    w.EndObject();
  });
}

std::string IntentClaimJson(std::string_view request_json, int64_t captured_at) {
  auto doc = json::ParseStrict(request_json);
  if (!doc || !doc->IsObject()) return "";
  const auto* claim = json::Member(*doc, "claim");
  const auto* items =
      claim != nullptr && claim->IsObject() ? json::Member(*claim, "items") : nullptr;
  if (items == nullptr) return "";
  auto parsed = claims::ParseClaimItems(*items);
  if (!parsed) return "";
  return claims::RenderClaim(*parsed, captured_at);
}

bool CaptureApplied(std::string_view request_json, const stripe::PaymentIntent& pi) {
  if (pi.status != "succeeded") return false;
  auto doc = json::ParseStrict(request_json);
  const auto* claim = doc && doc->IsObject() ? json::Member(*doc, "claim") : nullptr;
  if (claim == nullptr) return true;
  const auto* items = claim->IsObject() ? json::Member(*claim, "items") : nullptr;
  if (items == nullptr) return false;
  auto parsed = claims::ParseClaimItems(*items);
  if (!parsed) return false;
  const claims::ClaimSummary summary = claims::SummarizeClaim(*parsed);
  return Meta(pi, claims::kMetaClaimItems) == summary.items &&
         Meta(pi, claims::kMetaClaimTotal) == summary.total && pi.amount_received == parsed->total;
}

std::string WithClaim(std::string_view detail_json, std::string_view claim_json) {
  if (claim_json.empty()) return std::string(detail_json);
  auto detail = json::ParseStrict(detail_json);
  return ToJson([&](json::Writer& w) {
    w.StartObject();
    if (detail && detail->IsObject()) {
      for (const auto& m : detail->GetObject()) {
        if (std::string_view(m.name.GetString(), m.name.GetStringLength()) == "claim") continue;
        m.name.Accept(w);
        m.value.Accept(w);
      }
    }
    json::Key(w, "claim");
    w.RawValue(claim_json.data(), claim_json.size(), rapidjson::kObjectType);
    w.EndObject();
  });
}

void WriteEvent(json::Writer& w, const ledger::Event& e) {
  w.StartObject();
  json::Key(w, "id");
  json::String(w, e.id);
  json::Key(w, "hold_id");
  json::String(w, e.hold_id);
  json::Key(w, "chitty_id");
  json::StringOrNull(w, e.chitty_id);
  json::Key(w, "type");
  json::String(w, e.type);
  json::Key(w, "actor");
  json::String(w, e.actor);
  json::Key(w, "request_id");
  json::StringOrNull(w, e.request_id);
  json::Key(w, "status_before");
  json::StringOrNull(w, e.status_before);
  json::Key(w, "status_after");
  json::StringOrNull(w, e.status_after);
  json::Key(w, "amount");
  if (e.amount) {
    w.Int64(*e.amount);
  } else {
    w.Null();
  }
  json::Key(w, "currency");
  json::StringOrNull(w, e.currency);
  json::Key(w, "payment_intent");
  json::StringOrNull(w, e.payment_intent);
  json::Key(w, "stripe_request_id");
  json::StringOrNull(w, e.stripe_request_id);
  json::Key(w, "detail");
  w.RawValue(e.detail_json.data(), e.detail_json.size(), rapidjson::kObjectType);
  json::Key(w, "created_at");
  json::String(w, FormatIso8601(e.created_at));
  w.EndObject();
}

std::string RenderEventPage(const ledger::Page<ledger::Event>& page) {
  return ToJson([&](json::Writer& w) {
    w.StartObject();
    json::Key(w, "data");
    w.StartArray();
    for (const auto& e : page.data) WriteEvent(w, e);
    w.EndArray();
    json::Key(w, "has_more");
    w.Bool(page.has_more);
    w.EndObject();
  });
}

std::string RequestDigest(std::string_view client, std::string_view operation,
                          std::string_view body) {
  std::string input(client);
  input += '\n';
  input += operation;
  input += '\n';
  input += body;
  return crypto::Sha256Hex(input);
}

std::string IntentRequest(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  return ToJson([&](json::Writer& w) {
    w.StartObject();
    for (const auto& [k, v] : kv) {
      json::Key(w, k);
      json::String(w, v);
    }
    w.EndObject();
  });
}

std::string IntentField(std::string_view request_json, std::string_view key) {
  auto doc = json::ParseStrict(request_json);
  if (!doc || !doc->IsObject()) return "";
  return std::string(json::StringMember(*doc, key).value_or(""));
}

void FinishIntent(ledger::Ledger& ledger, const std::string& key, const stripe::PaymentIntent& pi,
                  int64_t now) {
  const std::string result = IntentResult(pi);
  auto done = ledger.FinishIntent(key, ledger::IntentState::kSucceeded, result, "", now);
  if (!done) {
    log::Warn("stripe intent left pending; the reconciler will finish it",
              {log::Str("pi", pi.id), log::Str("error", done.error().message)});
  }
}

void FailIntent(ledger::Ledger& ledger, const std::string& key, const Error& error, int64_t now) {
  const std::string result =
      IntentRequest({{"code", error.code}, {"error", error.message}, {"id", error.id}});
  auto done = ledger.FinishIntent(key, ledger::IntentState::kFailed, result, "", now);
  if (!done) {
    log::Warn("stripe intent left pending; the reconciler will finish it",
              {log::Str("error", done.error().message)});
  }
}

void FinishRefundIntent(ledger::Ledger& ledger, const std::string& key,
                        const stripe::Refund& refund, int64_t now) {
  const std::string result = IntentRequest({{"id", refund.id}, {"status", refund.status}});
  auto done = ledger.FinishIntent(key, ledger::IntentState::kSucceeded, result, "", now);
  if (!done) {
    log::Warn("stripe intent left pending; the reconciler will finish it",
              {log::Str("refund", refund.id), log::Str("error", done.error().message)});
  }
}

}  // namespace cc::holds
