#include "webhooks/events.h"

#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "stripe/payment_intent_json.h"
#include "webhooks/signature.h"

namespace cc::webhooks {
namespace {

struct Event {
  std::string id;
  std::string type;
  int64_t created = 0;
  const rapidjson::Value* object = nullptr;  // data.object
};

enum class Outcome { kApplied, kIgnored };

// Created by ChittyCharge: the creating client is named in the metadata.
bool IsOurs(const stripe::PaymentIntent& pi) {
  auto it = pi.metadata.find(std::string(holds::kMetaClient));
  return it != pi.metadata.end() && !it->second.empty();
}

http::Response Received(bool duplicate, bool ignored) {
  std::string body = R"({"received":true)";
  if (duplicate) body += R"(,"duplicate":true)";
  if (ignored) body += R"(,"ignored":true)";
  return http::Json(200, body + "}");
}

Result<Event> ReadEvent(const rapidjson::Document& doc) {
  Event e;
  auto id = json::StringMember(doc, "id");
  auto type = json::StringMember(doc, "type");
  const auto* data = json::Member(doc, "data");
  e.object = data == nullptr ? nullptr : json::Member(*data, "object");
  if (!id || id->empty() || id->size() > 200 || !type || e.object == nullptr ||
      !e.object->IsObject() || json::StringMember(doc, "object") != "event") {
    return Fail(ErrorKind::kInvalidArgument, "invalid_json", "Body is not a Stripe event");
  }
  e.id = std::string(*id);
  e.type = std::string(*type);
  e.created = json::IntMember(doc, "created").value_or(0);
  return e;
}

// Stores Stripe's current state of the PaymentIntent (if it is one of ours).
Result<Outcome> Reread(const http::Deps& deps, const std::string& pi_id, int64_t now) {
  auto pi = deps.stripe.Retrieve(pi_id);
  if (!pi) {
    if (pi.error().kind == ErrorKind::kNotFound) return Outcome::kIgnored;
    return Fail(pi.error());
  }
  if (!IsOurs(*pi)) return Outcome::kIgnored;
  holds::HoldRepository repo(deps.stripe, deps.store);
  auto cached = repo.Cached(pi_id);
  repo.Save(holds::HoldRecord::FromStripe(std::move(*pi),
                                          cached ? cached->captured_at : std::nullopt, now));
  return Outcome::kApplied;
}

Result<Outcome> ApplyPaymentIntent(const http::Deps& deps, const Event& e, int64_t now) {
  auto pi = stripe::ParsePaymentIntent(*e.object);
  if (!pi)
    return Fail(ErrorKind::kInvalidArgument, "invalid_json", "event object is not a PaymentIntent");
  if (!IsOurs(*pi)) return Outcome::kIgnored;
  holds::HoldRepository repo(deps.stripe, deps.store);
  auto cached = repo.Cached(pi->id);
  if (cached && holds::IsTerminal(cached->pi.status)) {  // final already
    // A charge.captured re-read (or a GET) may have stored the capture first; the
    // succeeded event still tells when it happened.
    if (cached->pi.status == "succeeded" && pi->status == "succeeded" && !cached->captured_at &&
        e.created > 0) {
      cached->captured_at = e.created;
      repo.Save(*cached);
    }
    return Outcome::kApplied;
  }
  if (cached && StatusRank(pi->status) < StatusRank(cached->pi.status)) {
    return Reread(deps, pi->id, now);  // older-looking event: ask Stripe
  }
  auto record = holds::HoldRecord::FromStripe(std::move(*pi),
                                              cached ? cached->captured_at : std::nullopt, now);
  if (cached && cached->pi.latest_charge == record.pi.latest_charge && !record.pi.capture_before) {
    record.pi.capture_before = cached->pi.capture_before;  // events do not expand the charge
  }
  if (record.pi.status == "succeeded" && !record.captured_at) record.captured_at = e.created;
  repo.Save(record);
  return Outcome::kApplied;
}

Result<Outcome> Apply(const http::Deps& deps, const Event& e, int64_t now) {
  if (e.type.starts_with("payment_intent.")) return ApplyPaymentIntent(deps, e, now);
  if (e.type.starts_with("charge.")) {
    auto pi_id = json::StringMember(*e.object, "payment_intent");
    if (!pi_id || !pi_id->starts_with("pi_")) return Outcome::kIgnored;
    return Reread(deps, std::string(*pi_id), now);
  }
  return Outcome::kIgnored;  // a type we do not use
}

}  // namespace

int StatusRank(std::string_view status) {
  if (status == "requires_payment_method") return 0;
  if (status == "requires_confirmation") return 1;
  if (status == "requires_action") return 2;
  if (status == "processing") return 3;
  if (status == "requires_capture") return 4;
  if (status == "succeeded" || status == "canceled") return 5;
  return 0;
}

http::Response ReceiveWebhook(const http::Deps& deps, const http::Request& request, int64_t now,
                              WebhookNote* note) {
  WebhookNote ignored_note;
  if (note == nullptr) note = &ignored_note;
  if (deps.config.webhook_secrets.empty()) {
    return http::ErrorResponse(MakeError(ErrorKind::kUnavailable, "service_unavailable",
                                         "STRIPE_WEBHOOK_SECRET is not configured"));
  }
  const auto check = VerifyStripeSignature(deps.config.webhook_secrets,
                                           request.Header("stripe-signature"), request.body, now);
  if (check != SignatureCheck::kValid) {
    return http::ErrorResponse(
        MakeError(ErrorKind::kInvalidArgument, "invalid_signature", Describe(check)));
  }
  auto doc = json::ParseStrict(request.body);
  if (!doc) return http::ErrorResponse(doc.error());
  auto event = ReadEvent(*doc);
  if (!event) return http::ErrorResponse(event.error());
  note->type = event->type;
  const std::string memo = "evt:" + crypto::Sha256Hex(event->id).substr(0, 40);
  if (auto seen = deps.store.Get(memo); seen && *seen) {
    note->result = metrics::WebhookResult::kDuplicate;
    return Received(true, false);
  }
  auto outcome = Apply(deps, *event, now);
  if (!outcome) {
    log::Warn("webhook event not applied; Stripe will retry",
              {log::Str("event", event->id), log::Str("type", event->type),
               log::Str("error", outcome.error().message)});
    note->result = metrics::WebhookResult::kFailed;
    return http::ErrorResponse(outcome.error());
  }
  [[maybe_unused]] auto remembered = deps.store.Set(memo, event->type, kEventMemoryTtl);
  log::Info("webhook event",
            {log::Str("event", event->id), log::Str("type", event->type),
             log::Str("result", *outcome == Outcome::kApplied ? "applied" : "ignored")});
  note->result = *outcome == Outcome::kApplied ? metrics::WebhookResult::kApplied
                                               : metrics::WebhookResult::kIgnored;
  return Received(false, *outcome == Outcome::kIgnored);
}

}  // namespace cc::webhooks
