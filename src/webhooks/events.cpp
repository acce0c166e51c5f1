#include "webhooks/events.h"

#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "holds/authorize.h"
#include "holds/disputes.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "holds/journal.h"
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

Result<Event> ReadEvent(const rapidjson::Value& doc) {
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

// Each refund of a refunded PaymentIntent (a Dashboard refund, or the client's own whose
// call recorded it first): one `refunded` event each, by its derived id, credited to the
// caller whose intent key the refund carries, else to `actor` (Stripe).
Status RecordRefunds(const http::Deps& deps, const holds::HoldRecord& record,
                     const holds::Actor& actor, int64_t now) {
  if (record.pi.amount_refunded <= 0) return Ok();
  auto refunds = deps.stripe.ListRefunds(record.pi.id);
  if (!refunds) return Fail(refunds.error());
  for (auto it = refunds->rbegin(); it != refunds->rend(); ++it) {  // oldest first
    const holds::Actor by = holds::RefundActor(deps.ledger, *it, actor);
    if (auto recorded = holds::RecordRefund(deps.ledger, record, *it, by, now); !recorded) {
      return Fail(recorded.error());
    }
  }
  return Ok();
}

// Records Stripe's current state of the PaymentIntent (if it is one of ours).
Result<Outcome> Reread(const http::Deps& deps, const std::string& pi_id, int64_t now,
                       std::string_view request_id) {
  auto pi = deps.stripe.Retrieve(pi_id);
  if (!pi) {
    if (pi.error().kind == ErrorKind::kNotFound) return Outcome::kIgnored;
    return Fail(pi.error());
  }
  if (!IsOurs(*pi)) return Outcome::kIgnored;
  holds::HoldRepository repo(deps.stripe, deps.store);
  auto cached = repo.Cached(pi_id);
  std::optional<int64_t> captured_at = cached ? cached->captured_at : std::nullopt;
  if (pi->status == "succeeded" && !captured_at) captured_at = now;
  const auto record = holds::HoldRecord::FromStripe(std::move(*pi), captured_at, now);
  const holds::Actor stripe{"stripe", std::string(request_id)};
  // A capture or cancel may be a caller's whose record is still on its way (a refund's
  // caller is named by the refund itself: RecordRefunds).
  const holds::Actor actor =
      holds::ChangeActor(deps.ledger, record.pi.id, record.pi.status, stripe);
  // Stripe's state is cached first: once the event below is visible, GET shows it too.
  repo.Save(record);
  // A refused re-authorization the guest has now confirmed: the chain moves on to it.
  if (auto adopted = holds::AdoptAwaited(deps, record, actor, now); !adopted) {
    return Fail(adopted.error());
  }
  if (auto synced = holds::SyncHold(deps.ledger, record, actor, now); !synced) {
    return Fail(synced.error());
  }
  if (auto refunds = RecordRefunds(deps, record, stripe, now); !refunds) {
    return Fail(refunds.error());
  }
  return Outcome::kApplied;
}

// The PaymentIntent an event concerns: the object itself, or a charge's or dispute's.
std::string PaymentIntentOf(const Event& e) {
  if (e.type.starts_with("payment_intent.")) {
    return std::string(json::StringMember(*e.object, "id").value_or(""));
  }
  if (e.type.starts_with("charge.")) {
    return std::string(json::StringMember(*e.object, "payment_intent").value_or(""));
  }
  return "";
}

// charge.dispute.*: the dispute re-read from Stripe, on the hold of its PaymentIntent (a
// hold the ledger does not know yet is imported first, from Stripe).
Result<Outcome> ApplyDispute(const http::Deps& deps, const Event& e, int64_t now,
                             std::string_view request_id) {
  const std::string id(json::StringMember(*e.object, "id").value_or(""));
  auto dispute = deps.stripe.RetrieveDispute(id);
  if (!dispute) {
    if (dispute.error().kind == ErrorKind::kNotFound) return Outcome::kIgnored;
    return Fail(dispute.error());
  }
  if (!dispute->payment_intent.starts_with("pi_")) return Outcome::kIgnored;
  auto hold = deps.ledger.FindHold(dispute->payment_intent);
  if (!hold) return Fail(hold.error());
  if (!*hold) {
    auto imported = Reread(deps, dispute->payment_intent, now, request_id);
    if (!imported) return Fail(imported.error());
    if (*imported == Outcome::kIgnored) return Outcome::kIgnored;
    hold = deps.ledger.FindHold(dispute->payment_intent);
    if (!hold) return Fail(hold.error());
    if (!*hold) return Outcome::kIgnored;
  }
  const holds::Actor actor{"stripe", std::string(request_id)};
  if (auto recorded = holds::RecordDispute(deps.ledger, **hold, *dispute, actor, now); !recorded) {
    return Fail(recorded.error());
  }
  return Outcome::kApplied;
}

Result<Outcome> Apply(const http::Deps& deps, const Event& e, int64_t now,
                      std::string_view request_id) {
  if (e.type.starts_with("charge.dispute.")) return ApplyDispute(deps, e, now, request_id);
  const std::string pi_id = PaymentIntentOf(e);
  if (!pi_id.starts_with("pi_")) return Outcome::kIgnored;  // a type or object we do not use
  return Reread(deps, pi_id, now, request_id);
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
                              std::string_view request_id, WebhookNote* note) {
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
  auto applied = ApplyStripeEvent(deps, *doc, now, request_id);
  if (!applied) {
    note->result = applied.error().code == "invalid_json" ? metrics::WebhookResult::kInvalid
                                                          : metrics::WebhookResult::kFailed;
    return http::ErrorResponse(applied.error());
  }
  note->type = applied->type;
  note->result = applied->duplicate ? metrics::WebhookResult::kDuplicate
                 : applied->ignored ? metrics::WebhookResult::kIgnored
                                    : metrics::WebhookResult::kApplied;
  return Received(applied->duplicate, !applied->duplicate && applied->ignored);
}

Result<AppliedEvent> ApplyStripeEvent(const http::Deps& deps, const rapidjson::Value& doc,
                                      int64_t now, std::string_view request_id) {
  auto event = ReadEvent(doc);
  if (!event) return Fail(event.error());
  AppliedEvent result{event->type, false, false};
  const std::string memo = "evt:" + crypto::Sha256Hex(event->id).substr(0, 40);
  if (auto seen = deps.store.Get(memo); seen && *seen) {
    result.duplicate = true;
    return result;
  }
  auto outcome = Apply(deps, *event, now, request_id);
  if (!outcome) {
    log::Warn("webhook event not applied; Stripe will retry",
              {log::Str("event", event->id), log::Str("type", event->type),
               log::Str("error", outcome.error().message)});
    return Fail(outcome.error());
  }
  auto first = deps.ledger.RecordWebhookEvent(event->id, now);
  if (!first) return Fail(first.error());
  [[maybe_unused]] auto remembered = deps.store.Set(memo, event->type, kEventMemoryTtl);
  result.ignored = *outcome == Outcome::kIgnored;
  result.duplicate = !*first;
  if (!result.duplicate) {
    log::Info("webhook event", {log::Str("event", event->id), log::Str("type", event->type),
                                log::Str("result", result.ignored ? "ignored" : "applied")});
  }
  return result;
}

}  // namespace cc::webhooks
