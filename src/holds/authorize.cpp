#include "holds/authorize.h"

#include <algorithm>
#include <utility>

#include "claims/claim.h"
#include "core/crypto.h"
#include "core/log.h"
#include "holds/hold_repository.h"
#include "holds/stripe_key.h"

namespace cc::holds {
namespace {

// Stripe keeps idempotency keys 24 hours: a repeat after that would be a new request.
constexpr int64_t kStripeKeyLife = 23LL * 3600;

AuthorizeResult Retry(Error error) { return {AuthorizeOutcome::kRetryLater, std::move(error)}; }

std::string ToJson(const std::function<void(json::Writer&)>& body) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  body(w);
  return {buf.GetString(), buf.GetSize()};
}

// The service's metadata keys that describe one PaymentIntent's capture or cancel rather
// than the hold: not carried over to the PaymentIntent that replaces it.
bool CarriedOver(std::string_view key) {
  return key != kMetaCaptureReason && key != kMetaCancelReason && key != claims::kMetaClaimItems &&
         key != claims::kMetaClaimTotal;
}

bool Lapsed(const stripe::PaymentIntent& pi) {
  return pi.status == "canceled" &&
         (pi.cancellation_reason == "expired" || pi.cancellation_reason == "automatic");
}

std::string AuthorizeKey(const ledger::Hold& hold, std::string_view current, int64_t attempt) {
  return DeriveStripeKey(hold.client, "authorize:" + hold.id + ":" + std::string(current),
                         std::to_string(attempt));
}

// The intent's request: what the attempt is, who asked, and the exact Stripe parameters (a
// repeat under the key must send the same ones).
std::string AuthorizeRequest(const ledger::Hold& hold, std::string_view replaces, int64_t attempt,
                             const Actor& actor, const stripe::CreateParams& p) {
  return ToJson([&](json::Writer& w) {
    w.StartObject();
    for (const auto& [k, v] : {std::pair<std::string_view, std::string_view>{"hold", hold.id},
                               {"replaces", replaces},
                               {"actor", actor.name},
                               {"request_id", actor.request_id}}) {
      json::Key(w, k);
      json::String(w, v);
    }
    json::Key(w, "attempt");
    w.Int64(attempt);
    json::Key(w, "params");
    w.StartObject();
    json::Key(w, "amount");
    w.Int64(p.amount);
    for (const auto& [k, v] :
         {std::pair<std::string_view, std::string_view>{"currency", p.currency},
          {"customer", p.customer},
          {"payment_method", p.payment_method},
          {"description", p.description},
          {"receipt_email", p.receipt_email}}) {
      json::Key(w, k);
      json::String(w, v);
    }
    json::Key(w, "metadata");
    w.StartObject();
    for (const auto& [k, v] : p.metadata) {
      json::Key(w, k);
      json::String(w, v);
    }
    w.EndObject();
    w.EndObject();
    w.EndObject();
  });
}

// The Stripe parameters an authorize intent recorded; nullopt when it holds none.
std::optional<stripe::CreateParams> ParamsOf(std::string_view request_json) {
  auto doc = json::ParseStrict(request_json);
  const auto* params = doc && doc->IsObject() ? json::Member(*doc, "params") : nullptr;
  if (params == nullptr || !params->IsObject()) return std::nullopt;
  stripe::CreateParams p;
  const auto amount = json::IntMember(*params, "amount");
  if (!amount) return std::nullopt;
  p.amount = *amount;
  const auto text = [&](std::string_view key) {
    return std::string(json::StringMember(*params, key).value_or(""));
  };
  p.currency = text("currency");
  p.customer = text("customer");
  p.payment_method = text("payment_method");
  p.description = text("description");
  p.receipt_email = text("receipt_email");
  if (const auto* metadata = json::Member(*params, "metadata");
      metadata != nullptr && metadata->IsObject()) {
    for (const auto& m : metadata->GetObject()) {
      if (!m.value.IsString()) continue;
      p.metadata.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                         std::string(m.value.GetString(), m.value.GetStringLength()));
    }
  }
  p.off_session = true;
  if (p.payment_method.empty() || p.customer.empty()) return std::nullopt;
  return p;
}

Actor ActorOf(const ledger::StripeIntent& intent) {
  std::string name = IntentField(intent.request_json, "actor");
  if (name.empty()) name = "reconciler";
  return Actor{std::move(name), IntentField(intent.request_json, "request_id")};
}

Error Settled(std::string_view status) {
  return MakeError(ErrorKind::kConflict, "hold_not_authorized",
                   "The hold is not authorized (status " + std::string(status) + ")");
}

// The off-session request for `hold` with its saved card; nullopt: no card is saved.
// A current authorization that was captured or cancelled (not lapsed) is kConflict.
Result<std::optional<stripe::CreateParams>> OffSessionParams(const http::Deps& deps,
                                                             const ledger::Hold& hold) {
  stripe::CreateParams p;
  p.off_session = true;
  const std::string current = CurrentPaymentIntent(hold);
  if (current.empty()) {  // a scheduled hold: the card its SetupIntent saved
    auto setup = deps.stripe.RetrieveSetupIntent(hold.id);
    if (!setup) return Fail(setup.error());
    if (setup->status != "succeeded" || setup->payment_method.empty() || setup->customer.empty()) {
      return std::optional<stripe::CreateParams>();
    }
    p.amount = hold.amount;
    p.currency = hold.currency;
    p.customer = setup->customer;
    p.payment_method = setup->payment_method;
    p.description = setup->description;
    p.receipt_email = setup->customer_email;
    p.metadata = setup->metadata;
    return std::optional<stripe::CreateParams>(std::move(p));
  }
  auto pi = deps.stripe.Retrieve(current);
  if (!pi) return Fail(pi.error());
  if (pi->status != "requires_capture" && !Lapsed(*pi)) return Fail(Settled(pi->status));
  p.customer = pi->customer.empty() ? hold.customer : pi->customer;
  if (pi->payment_method.empty() || p.customer.empty()) {
    return std::optional<stripe::CreateParams>();
  }
  p.amount = pi->amount;
  p.currency = pi->currency;
  p.payment_method = pi->payment_method;
  p.description = pi->description;
  p.receipt_email = pi->receipt_email;
  for (const auto& [k, v] : pi->metadata) {
    if (CarriedOver(k)) p.metadata.emplace(k, v);
  }
  return std::optional<stripe::CreateParams>(std::move(p));
}

Status Begin(const http::Deps& deps, const std::string& key, std::string_view operation,
             const std::string& hold_id, std::string digest, std::string request_json, int64_t now,
             std::string* stored_request = nullptr) {
  ledger::StripeIntent intent;
  intent.idempotency_key = key;
  intent.operation = std::string(operation);
  intent.hold_id = hold_id;
  intent.params_digest = std::move(digest);
  intent.request_json = std::move(request_json);
  intent.created_at = now;
  auto begun = deps.ledger.BeginIntent(intent);
  if (!begun) return Fail(begun.error());
  if (stored_request != nullptr) *stored_request = begun->request_json;
  return Ok();
}

// A new authorization nobody needs any more (the one it was to replace was settled):
// cancelled as abandoned, under the key a declined create's leftover gets.
void Abandon(const http::Deps& deps, const ledger::Hold& hold, const std::string& pi_id,
             int64_t now) {
  const std::string key = DeriveStripeKey(hold.client, "abandon", pi_id);
  if (!Begin(deps, key, "abandon", hold.id, RequestDigest(hold.client, "abandon", pi_id),
             IntentRequest({{"payment_intent", pi_id}}), now)) {
    return;  // the ledger is down: the authorization lapses on its own
  }
  auto canceled = deps.stripe.Cancel(pi_id, stripe::CancelParams{"abandoned"}, key);
  if (canceled) {
    FinishIntent(deps.ledger, key, *canceled, now);
  } else {
    log::Warn("could not cancel an authorization nobody needs",
              {log::Str("pi", pi_id), log::Str("error", canceled.error().message)});
  }
}

// What follows a create under an authorize key (a first attempt or a repeat).
AuthorizeResult AfterCreate(const http::Deps& deps, const ledger::Hold& hold,
                            const std::string& key, const std::string& replaces, int64_t attempt,
                            Result<stripe::PaymentIntent> created, const Actor& actor,
                            int64_t now) {
  if (created && created->status == "requires_capture") {
    const HoldRecord record = HoldRecord::FromStripe(std::move(*created), std::nullopt, now);
    auto adopted = Supersede(deps, hold, record, replaces, actor, now);
    if (!adopted) return Retry(adopted.error());
    FinishIntent(deps.ledger, key, record.pi, now);
    HoldRepository(deps.stripe, deps.store).Save(record);
    if (!*adopted) return {AuthorizeOutcome::kNotAuthorizable, Settled("settled")};
    return {AuthorizeOutcome::kAuthorized, {}};
  }
  if (!created && created.error().kind != ErrorKind::kPaymentDeclined) {
    return Retry(created.error());  // 5xx, timeout, a concurrent twin (409): later, same key
  }
  Refusal refusal;
  refusal.attempt = attempt;
  refusal.code = "card_declined";
  Error error = MakeError(ErrorKind::kPaymentDeclined, "card_declined",
                          "The card was not authorized off-session");
  std::string pi_id;
  if (created) {  // answered, not authorized (Stripe wants the guest)
    pi_id = created->id;
    refusal.client_secret = created->client_secret;
    refusal.code = created->last_payment_error_code.empty() ? created->status
                                                            : created->last_payment_error_code;
    refusal.decline_code = created->last_payment_error_decline_code;
  } else {
    error = created.error();
    pi_id = error.id;
    refusal.message = error.message;
  }
  refusal.payment_intent = pi_id;
  if (!pi_id.empty()) {  // Stripe's reason and the client secret the guest confirms with
    auto refused = deps.stripe.Retrieve(pi_id);
    if (!refused) return Retry(refused.error());
    if (!refused->last_payment_error_code.empty()) {
      refusal.code = refused->last_payment_error_code;
      refusal.decline_code = refused->last_payment_error_decline_code;
    }
    if (!refused->client_secret.empty()) refusal.client_secret = refused->client_secret;
  }
  if (auto recorded = RecordRefusal(deps.ledger, hold, refusal, actor, now); !recorded) {
    return Retry(recorded.error());
  }
  if (created) {
    FinishIntent(deps.ledger, key, *created, now);
  } else {
    FailIntent(deps.ledger, key, error, now);
  }
  error.message = "The card was not authorized off-session (" + refusal.code + ")" +
                  (refusal.message.empty() ? "" : ": " + refusal.message);
  error.id = hold.id;
  return {AuthorizeOutcome::kRefused, std::move(error)};
}

}  // namespace

HoldRecord ScheduledRecord(const ledger::Hold& hold, const stripe::SetupIntent& setup,
                           int64_t now) {
  stripe::PaymentIntent pi;
  pi.id = hold.id;
  pi.status = hold.status;
  pi.amount = hold.amount;
  pi.currency = hold.currency;
  pi.description = setup.description;
  pi.receipt_email = setup.customer_email;
  pi.created = hold.created_at;
  pi.customer = setup.customer;
  pi.metadata = setup.metadata;
  return HoldRecord::FromStripe(std::move(pi), std::nullopt, now);
}

Result<bool> Supersede(const http::Deps& deps, const ledger::Hold& hold, const HoldRecord& record,
                       const std::string& replaces, const Actor& actor, int64_t now) {
  const auto& pi = record.pi;
  const Adoption adoption{pi.id, replaces == pi.id ? std::string() : replaces, pi.amount_capturable,
                          pi.currency, ExpiresAt(pi)};
  if (adoption.replaces.empty()) {  // a scheduled hold's first authorization
    if (auto recorded = RecordAdoption(deps.ledger, hold, adoption, actor, now); !recorded) {
      return Fail(recorded.error());
    }
    return true;
  }
  // The replacement is on disk before the old authorization goes: whoever sees its cancel
  // (this call, a webhook, the reconciler) records the same `reauthorized` event.
  const std::string key = SupersedeKey(hold.client, replaces);
  const std::string expires = adoption.expires_at ? std::to_string(*adoption.expires_at) : "";
  const std::string request = ToJson([&](json::Writer& w) {
    w.StartObject();
    for (const auto& [k, v] : {std::pair<std::string_view, std::string_view>{"hold", hold.id},
                               {"payment_intent", replaces},
                               {"replaced_by", pi.id},
                               {"actor", actor.name},
                               {"request_id", actor.request_id}}) {
      json::Key(w, k);
      json::String(w, v);
    }
    json::Key(w, "amount_capturable");
    w.Int64(pi.amount_capturable);
    json::Key(w, "expires_at");
    adoption.expires_at ? w.Int64(*adoption.expires_at) : w.Null();
    w.EndObject();
  });
  if (auto begun = Begin(deps, key, "supersede", hold.id,
                         crypto::Sha256Hex("supersede:" + replaces + ":" + pi.id), request, now);
      !begun) {
    return Fail(begun.error());
  }
  // "duplicate": the authorization is replaced by its twin (and tells our cancel apart).
  auto canceled = deps.stripe.Cancel(replaces, stripe::CancelParams{"duplicate"}, key);
  std::optional<stripe::PaymentIntent> old;
  if (canceled) {
    old = std::move(*canceled);
  } else if (canceled.error().kind == ErrorKind::kConflict) {
    auto read = deps.stripe.Retrieve(replaces);  // cancelled or captured before us
    if (!read) return Fail(read.error());
    old = std::move(*read);
  } else {
    return Fail(canceled.error());  // the intent stays pending: repeated later, same key
  }
  const bool replaced =
      old->status == "canceled" && (old->cancellation_reason == "duplicate" || Lapsed(*old));
  if (!replaced) {  // captured or cancelled by the client meanwhile: the new one goes
    log::Warn("a re-authorization's predecessor was settled meanwhile; abandoning it",
              {log::Str("hold", hold.id), log::Str("pi", pi.id)});
    FailIntent(deps.ledger, key,
               MakeError(ErrorKind::kConflict, "not_applied",
                         "the authorization it replaces was " + old->status + " meanwhile"),
               now);
    Abandon(deps, hold, pi.id, now);
    [[maybe_unused]] auto synced =
        SyncHold(deps.ledger, HoldRecord::FromStripe(*old, std::nullopt, now), actor, now);
    return false;
  }
  if (auto recorded = RecordAdoption(deps.ledger, hold, adoption, actor, now); !recorded) {
    return Fail(recorded.error());
  }
  FinishIntent(deps.ledger, key, *old, now);
  HoldRepository(deps.stripe, deps.store).Save(HoldRecord::FromStripe(*old, std::nullopt, now));
  return true;
}

namespace {

// The refused authorization the hold waits for, if the guest has confirmed it since: it is
// adopted (an outcome); else it is cancelled, since a new attempt replaces it and its
// client secret must not authorize a second hold later (nullopt: go on).
std::optional<AuthorizeResult> SettleAwaited(const http::Deps& deps, const ledger::Hold& hold,
                                             const Actor& actor, int64_t now) {
  const std::string awaited = AwaitedPaymentIntent(hold);
  if (awaited.empty()) return std::nullopt;
  auto pi = deps.stripe.Retrieve(awaited);
  if (!pi) return Retry(pi.error());
  if (pi->status == "requires_capture") {
    const HoldRecord record = HoldRecord::FromStripe(std::move(*pi), std::nullopt, now);
    auto adopted = Supersede(deps, hold, record, CurrentPaymentIntent(hold), actor, now);
    if (!adopted) return Retry(adopted.error());
    if (!*adopted) return AuthorizeResult{AuthorizeOutcome::kNotAuthorizable, Settled("settled")};
    return AuthorizeResult{AuthorizeOutcome::kAuthorized, {}};
  }
  if (pi->status != "canceled" && pi->status != "succeeded") Abandon(deps, hold, awaited, now);
  return std::nullopt;
}

AuthorizeResult NoCard(const http::Deps& deps, const ledger::Hold& hold, int64_t attempt,
                       const Actor& actor, int64_t now) {
  Refusal refusal;
  refusal.code = "no_payment_method";
  refusal.attempt = attempt;
  if (auto recorded = RecordRefusal(deps.ledger, hold, refusal, actor, now); !recorded) {
    return Retry(recorded.error());
  }
  Error error = MakeError(ErrorKind::kConflict, "no_payment_method",
                          "No card is saved for this hold yet: the guest saves one first");
  error.id = hold.id;
  return {AuthorizeOutcome::kNoCard, std::move(error)};
}

}  // namespace

AuthorizeResult Authorize(const http::Deps& deps, const ledger::Hold& hold, const Actor& actor,
                          int64_t now) {
  if (auto settled = SettleAwaited(deps, hold, actor, now)) return std::move(*settled);
  const std::string current = CurrentPaymentIntent(hold);
  const int64_t attempt = RefusedAttempt(hold) + 1;
  const std::string key = AuthorizeKey(hold, current, attempt);
  auto prior = deps.ledger.FindIntent(key);
  if (!prior) return Retry(prior.error());
  std::optional<stripe::CreateParams> params;
  if (*prior) params = ParamsOf((*prior)->request_json);  // a repeat sends the first's request
  if (!params) {
    auto fresh = OffSessionParams(deps, hold);
    if (!fresh && fresh.error().kind == ErrorKind::kConflict) {
      return {AuthorizeOutcome::kNotAuthorizable, fresh.error()};
    }
    if (!fresh) return Retry(fresh.error());
    if (!*fresh) return NoCard(deps, hold, attempt, actor, now);
    std::string stored;
    const std::string what = "authorize:" + hold.id + ":" + current + ":" + std::to_string(attempt);
    if (auto begun = Begin(deps, key, "authorize", hold.id, crypto::Sha256Hex(what),
                           AuthorizeRequest(hold, current, attempt, actor, **fresh), now, &stored);
        !begun) {
      return Retry(begun.error());
    }
    params = ParamsOf(stored);  // a concurrent twin's, maybe
    if (!params) params = std::move(**fresh);
  }
  return AfterCreate(deps, hold, key, current, attempt, deps.stripe.Create(*params, key), actor,
                     now);
}

Result<bool> AdoptAwaited(const http::Deps& deps, const HoldRecord& record, const Actor& actor,
                          int64_t now) {
  if (record.pi.status != "requires_capture") return false;
  auto in_chain = deps.ledger.FindHold(record.pi.id);
  if (!in_chain) return Fail(in_chain.error());
  if (*in_chain) return false;  // a hold's own PaymentIntent: SyncHold's
  for (std::string_view key : {kMetaChittyId, kMetaPendingChittyId}) {
    auto it = record.pi.metadata.find(std::string(key));
    if (it == record.pi.metadata.end() || it->second.empty()) continue;
    auto owner = deps.ledger.FindHold(it->second);
    if (!owner) return Fail(owner.error());
    if (!*owner) continue;
    if (AwaitedPaymentIntent(**owner) != record.pi.id) return false;
    auto adopted = Supersede(deps, **owner, record, CurrentPaymentIntent(**owner), actor, now);
    if (!adopted) return Fail(adopted.error());
    return *adopted;
  }
  return false;
}

bool ResumeIntent(const http::Deps& deps, const ledger::StripeIntent& intent, int64_t now) {
  const std::string& key = intent.idempotency_key;
  if (intent.created_at < now - kStripeKeyLife) {
    FailIntent(deps.ledger, key,
               MakeError(ErrorKind::kDeadlineExceeded, "expired",
                         "unfinished for 23 hours: Stripe no longer knows its key"),
               now);
    return true;
  }
  auto hold = deps.ledger.FindHold(intent.hold_id);
  if (!hold) return false;
  if (!*hold) {
    FailIntent(deps.ledger, key, MakeError(ErrorKind::kNotFound, "not_found", "no such hold"), now);
    return true;
  }
  const Actor actor = ActorOf(intent);
  if (intent.operation == "authorize") {
    auto params = ParamsOf(intent.request_json);
    if (!params) {
      FailIntent(deps.ledger, key,
                 MakeError(ErrorKind::kInternal, "unreadable", "the intent holds no request"), now);
      return true;
    }
    const std::string replaces = IntentField(intent.request_json, "replaces");
    auto doc = json::ParseStrict(intent.request_json);
    const int64_t attempt =
        doc && doc->IsObject() ? json::IntMember(*doc, "attempt").value_or(0) : 0;
    auto created = deps.stripe.Create(*params, key);
    if (created && CurrentPaymentIntent(**hold) != replaces) {
      // The chain moved on meanwhile (this authorization adopted, or another one): only
      // the intent is left to finish, and an authorization nobody adopted to release.
      const auto& chain = (*hold)->payment_intents;
      if (created->status == "requires_capture" &&
          std::find(chain.begin(), chain.end(), created->id) == chain.end()) {
        Abandon(deps, **hold, created->id, now);
      }
      FinishIntent(deps.ledger, key, *created, now);
      return true;
    }
    const AuthorizeResult result =
        AfterCreate(deps, **hold, key, replaces, attempt, std::move(created), actor, now);
    return result.outcome != AuthorizeOutcome::kRetryLater;
  }
  // "supersede": the cancel of what the new authorization replaces, and the event.
  auto pi = deps.stripe.Retrieve(IntentField(intent.request_json, "replaced_by"));
  if (!pi) return false;
  if (pi->status != "requires_capture" && CurrentPaymentIntent(**hold) != pi->id) {
    FailIntent(deps.ledger, key,
               MakeError(ErrorKind::kConflict, "not_applied",
                         "the new authorization is " + pi->status + ": nothing to replace"),
               now);
    return true;
  }
  auto adopted = Supersede(deps, **hold, HoldRecord::FromStripe(std::move(*pi), std::nullopt, now),
                           IntentField(intent.request_json, "payment_intent"), actor, now);
  return static_cast<bool>(adopted);
}

}  // namespace cc::holds
