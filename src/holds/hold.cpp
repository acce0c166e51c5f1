#include "holds/hold.h"

#include <array>

#include "claims/claim.h"
#include "core/time_util.h"
#include "stripe/payment_intent_json.h"

namespace cc::holds {
namespace {

void IsoOrNull(json::Writer& w, std::optional<int64_t> t) {
  if (t) {
    json::String(w, FormatIso8601(*t));
  } else {
    w.Null();
  }
}

std::string_view MetaOr(const stripe::Metadata& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? std::string_view{} : std::string_view(it->second);
}

// The PaymentIntent in Stripe's JSON shape (the fields ParsePaymentIntent reads).
void WriteStripeShape(json::Writer& w, const stripe::PaymentIntent& pi) {
  w.StartObject();
  json::Key(w, "id");
  json::String(w, pi.id);
  json::Key(w, "object");
  json::String(w, "payment_intent");
  json::Key(w, "status");
  json::String(w, pi.status);
  json::Key(w, "amount");
  w.Int64(pi.amount);
  json::Key(w, "amount_capturable");
  w.Int64(pi.amount_capturable);
  json::Key(w, "amount_received");
  w.Int64(pi.amount_received);
  json::Key(w, "currency");
  json::String(w, pi.currency);
  json::Key(w, "description");
  json::StringOrNull(w, pi.description);
  json::Key(w, "receipt_email");
  json::StringOrNull(w, pi.receipt_email);
  json::Key(w, "cancellation_reason");
  json::StringOrNull(w, pi.cancellation_reason);
  json::Key(w, "created");
  w.Int64(pi.created);
  json::Key(w, "canceled_at");
  pi.canceled_at ? w.Int64(*pi.canceled_at) : w.Null();
  json::Key(w, "latest_charge");
  if (pi.latest_charge.empty()) {
    w.Null();
  } else {
    w.StartObject();
    json::Key(w, "id");
    json::String(w, pi.latest_charge);
    json::Key(w, "amount_refunded");
    w.Int64(pi.amount_refunded);
    json::Key(w, "payment_method_details");
    w.StartObject();
    json::Key(w, "card");
    w.StartObject();
    json::Key(w, "capture_before");
    pi.capture_before ? w.Int64(*pi.capture_before) : w.Null();
    w.EndObject();
    w.EndObject();
    w.EndObject();
  }
  json::Key(w, "last_payment_error");
  if (pi.last_payment_error_code.empty()) {
    w.Null();
  } else {
    w.StartObject();
    json::Key(w, "code");
    json::String(w, pi.last_payment_error_code);
    w.EndObject();
  }
  json::Key(w, "metadata");
  w.StartObject();
  for (const auto& [k, v] : pi.metadata) {
    json::Key(w, k);
    json::String(w, v);
  }
  w.EndObject();
  w.EndObject();
}

// The hold's `reauthorization`: null, or what the client app needs to bring the guest back.
void WriteReauthorization(json::Writer& w, std::string_view reauthorization_json) {
  if (reauthorization_json.empty()) {
    w.Null();
    return;
  }
  auto doc = json::ParseStrict(reauthorization_json);
  if (!doc || !doc->IsObject()) {
    w.Null();
    return;
  }
  w.StartObject();
  for (const char* key : {"status", "code", "client_secret", "payment_intent"}) {
    json::Key(w, key);
    json::StringOrNull(w, json::StringMember(*doc, key).value_or(""));
  }
  w.EndObject();
}

}  // namespace

bool IsReservedMetadataKey(std::string_view key) {
  static constexpr std::array<std::string_view, 11> kReserved{kMetaChittyId,
                                                              kMetaTier,
                                                              kMetaPropertyId,
                                                              kMetaTenantId,
                                                              kMetaClient,
                                                              kMetaCaptureReason,
                                                              kMetaCancelReason,
                                                              kMetaPendingChittyId,
                                                              kMetaChittyIdState,
                                                              claims::kMetaClaimItems,
                                                              claims::kMetaClaimTotal};
  for (auto r : kReserved) {
    if (r == key) return true;
  }
  return false;
}

bool IsClientMetadataKey(std::string_view key) { return !IsReservedMetadataKey(key); }

HoldRecord HoldRecord::FromStripe(stripe::PaymentIntent pi, std::optional<int64_t> captured_at,
                                  int64_t now) {
  HoldRecord record{std::move(pi), captured_at, now};
  record.pi.client_secret.clear();
  return record;
}

bool IsTerminal(std::string_view status) { return status == "succeeded" || status == "canceled"; }

Tier HoldTier(const stripe::PaymentIntent& pi) {
  return ParseTier(MetaOr(pi.metadata, kMetaTier)).value_or(Tier::kNewGuest);
}

std::optional<int64_t> ExpiresAt(const stripe::PaymentIntent& pi) {
  if (pi.capture_before) return pi.capture_before;
  const bool authorized = pi.status == "requires_capture" || pi.status == "succeeded" ||
                          (pi.status == "canceled" && (pi.cancellation_reason == "expired" ||
                                                       pi.cancellation_reason == "automatic"));
  if (!authorized) return std::nullopt;
  return pi.created + kAuthorizationWindowEstimate;
}

std::optional<int64_t> EstimatedProcessingFee(const stripe::PaymentIntent& pi) {
  if (pi.currency != "usd" || pi.status != "succeeded") return std::nullopt;
  // round(2.9 % × captured) + 30, half up, in integer arithmetic.
  return (pi.amount_received * 29 + 500) / 1000 + 30;
}

void WriteHold(json::Writer& w, const HoldRecord& record, std::string_view client_secret,
               const HoldSchedule& schedule) {
  const auto& pi = record.pi;
  const Tier tier = HoldTier(pi);
  w.StartObject();
  json::Key(w, "id");
  json::String(w, schedule.hold_id.empty() ? pi.id : schedule.hold_id);
  json::Key(w, "chitty_id");
  json::StringOrNull(w, MetaOr(pi.metadata, kMetaChittyId));
  json::Key(w, "status");
  json::String(w, pi.status);
  json::Key(w, "amount");
  w.Int64(pi.amount);
  json::Key(w, "amount_capturable");
  w.Int64(pi.amount_capturable);
  json::Key(w, "amount_captured");
  w.Int64(pi.amount_received);
  json::Key(w, "amount_refunded");
  w.Int64(pi.amount_refunded);
  json::Key(w, "currency");
  json::String(w, pi.currency);
  json::Key(w, "description");
  json::StringOrNull(w, pi.description);
  json::Key(w, "customer_email");
  json::StringOrNull(w, pi.receipt_email);
  json::Key(w, "property_id");
  json::StringOrNull(w, MetaOr(pi.metadata, kMetaPropertyId));
  json::Key(w, "tenant_id");
  json::StringOrNull(w, MetaOr(pi.metadata, kMetaTenantId));
  json::Key(w, "metadata");
  w.StartObject();
  for (const auto& [k, v] : pi.metadata) {
    if (!IsClientMetadataKey(k)) continue;
    json::Key(w, k);
    json::String(w, v);
  }
  w.EndObject();
  json::Key(w, "tier");
  json::String(w, TierName(tier));
  json::Key(w, "tier_limit");
  w.Int64(schedule.tier_limit.value_or(TierLimit(tier)));
  json::Key(w, "created_at");
  json::String(w, FormatIso8601(pi.created));
  json::Key(w, "expires_at");
  IsoOrNull(w, ExpiresAt(pi));
  json::Key(w, "captured_at");
  IsoOrNull(w, record.captured_at);
  json::Key(w, "canceled_at");
  IsoOrNull(w, pi.canceled_at);
  json::Key(w, "estimated_processing_fee");
  const auto fee = EstimatedProcessingFee(pi);
  fee ? w.Int64(*fee) : w.Null();
  json::Key(w, "payment_intent");
  if (schedule.scheduled) {
    w.Null();
  } else {
    json::String(w, schedule.payment_intents.empty() ? pi.id : schedule.payment_intents.back());
  }
  json::Key(w, "payment_intents");
  w.StartArray();
  if (schedule.payment_intents.empty() && !schedule.scheduled) json::String(w, pi.id);
  for (const std::string& id : schedule.payment_intents) json::String(w, id);
  w.EndArray();
  json::Key(w, "release_after");
  IsoOrNull(w, schedule.release_after);
  json::Key(w, "authorize_at");
  IsoOrNull(w, schedule.authorize_at);
  json::Key(w, "stay_ends_at");
  IsoOrNull(w, schedule.stay_ends_at);
  json::Key(w, "reauthorize");
  w.Bool(schedule.reauthorize);
  json::Key(w, "reauthorization");
  WriteReauthorization(w, schedule.reauthorization_json);
  json::Key(w, "claim");
  if (schedule.claim_json.empty()) {
    w.Null();
  } else {  // the ledger checked it is a JSON object when it was set
    w.RawValue(schedule.claim_json.data(), schedule.claim_json.size(), rapidjson::kObjectType);
  }
  json::Key(w, "disclosure");
  if (schedule.disclosure_json.empty()) {
    w.Null();
  } else {  // the ledger checked it is a JSON object when it was set
    w.RawValue(schedule.disclosure_json.data(), schedule.disclosure_json.size(),
               rapidjson::kObjectType);
  }
  json::Key(w, "dispute");
  if (const auto& d = schedule.dispute) {
    w.StartObject();
    json::Key(w, "id");
    json::String(w, d->id);
    json::Key(w, "status");
    json::String(w, d->status);
    json::Key(w, "reason");
    json::String(w, d->reason);
    json::Key(w, "amount");
    w.Int64(d->amount);
    json::Key(w, "evidence_due_by");
    IsoOrNull(w, d->evidence_due_by);
    json::Key(w, "evidence_staged");
    w.Bool(d->staged_at.has_value());
    json::Key(w, "submitted_at");
    IsoOrNull(w, d->submitted_at);
    w.EndObject();
  } else {
    w.Null();
  }
  if (!client_secret.empty()) {
    json::Key(w, "client_secret");
    json::String(w, client_secret);
  }
  if (!schedule.setup_client_secret.empty()) {
    json::Key(w, "setup_client_secret");
    json::String(w, schedule.setup_client_secret);
  }
  w.EndObject();
}

std::string RenderHold(const HoldRecord& record, std::string_view client_secret,
                       const HoldSchedule& schedule) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  WriteHold(w, record, client_secret, schedule);
  return {buf.GetString(), buf.GetSize()};
}

std::string SerializeRecord(const HoldRecord& record) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "pi");
  WriteStripeShape(w, record.pi);
  json::Key(w, "captured_at");
  record.captured_at ? w.Int64(*record.captured_at) : w.Null();
  json::Key(w, "fetched_at");
  w.Int64(record.fetched_at);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

Result<HoldRecord> DeserializeRecord(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  const auto* pi_json = doc.HasParseError() ? nullptr : json::Member(doc, "pi");
  if (pi_json == nullptr) {
    return Fail(ErrorKind::kInternal, "internal_error", "cached hold is not readable");
  }
  auto pi = stripe::ParsePaymentIntent(*pi_json);
  if (!pi) return Fail(pi.error());
  HoldRecord record{std::move(*pi), json::IntMember(doc, "captured_at"),
                    json::IntMember(doc, "fetched_at").value_or(0)};
  return record;
}

}  // namespace cc::holds
