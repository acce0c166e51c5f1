#include "stripe/errors.h"

#include <rapidjson/document.h>

#include <string>

namespace cc::stripe {
namespace {

struct StripeError {
  bool readable = false;  // the body was {"error": {…}}
  std::string type;
  std::string code;
  std::string message;
  std::string param;
  std::string payment_intent_id;
};

std::string StringAt(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

StripeError ParseBody(std::string_view body) {
  StripeError out;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                    body.size());
  if (doc.HasParseError() || !doc.IsObject()) return out;
  const auto error = doc.FindMember("error");
  if (error == doc.MemberEnd() || !error->value.IsObject()) return out;
  const rapidjson::Value& e = error->value;
  out.readable = true;
  out.type = StringAt(e, "type");
  out.code = StringAt(e, "code");
  out.message = StringAt(e, "message");
  out.param = StringAt(e, "param");
  const auto pi = e.FindMember("payment_intent");
  if (pi != e.MemberEnd() && pi->value.IsObject())
    out.payment_intent_id = StringAt(pi->value, "id");
  return out;
}

// Stripe's message made safe for logs and clients: printable ASCII and UTF-8 only, no run
// of 12+ digits (a card number), at most 200 bytes. "" when nothing usable is left.
std::string Sanitize(std::string_view message) {
  std::string out;
  int digits = 0;
  for (const char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) continue;
    digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
    if (digits >= 12) return {};
    out.push_back(ch);
  }
  constexpr size_t kMax = 200;
  if (out.size() > kMax) {
    size_t cut = kMax;  // step back to the start of the UTF-8 sequence that would be split
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0U) == 0x80U) --cut;
    out.resize(cut);
  }
  return out;
}

Error WithId(Error error, std::string id) {
  error.id = std::move(id);
  return error;
}

std::string StatusText(long status) {  // NOLINT(google-runtime-int)
  return "HTTP " + std::to_string(status);
}

Error Upstream(std::string message) {
  return MakeError(ErrorKind::kUpstream, "upstream_error", std::move(message));
}

Error MapClientError(long status, const StripeError& e) {  // NOLINT(google-runtime-int)
  if (e.type == "idempotency_error") {
    return MakeError(ErrorKind::kUnprocessable, "idempotency_key_reused",
                     "This Idempotency-Key was already used for a different request.");
  }
  if (e.code == "payment_intent_unexpected_state" || e.code == "charge_expired_for_capture" ||
      e.code == "capture_charge_authorization_expired") {
    return WithId(MakeError(ErrorKind::kConflict, "hold_not_capturable",
                            "The hold is not in a state that allows this operation."),
                  e.payment_intent_id);
  }
  if (e.code == "amount_too_large") {
    return MakeError(ErrorKind::kInvalidArgument, "capture_exceeds_capturable",
                     "amount_to_capture exceeds the amount that can be captured.",
                     "amount_to_capture");
  }
  if (status == 404 && e.code == "resource_missing") {
    return MakeError(ErrorKind::kNotFound, "not_found", "No such hold.");
  }
  const std::string message = Sanitize(e.message);
  if (message.empty()) return Upstream("Stripe rejected the request (" + StatusText(status) + ").");
  return Upstream("Stripe rejected the request (" + StatusText(status) + "): " + message);
}

}  // namespace

Error MapStripeError(long http_status, std::string_view body) {  // NOLINT(google-runtime-int)
  const StripeError e = ParseBody(body);
  if (http_status == 402 || e.type == "card_error") {
    std::string message = Sanitize(e.message);
    if (message.empty()) message = "The card was declined.";
    return WithId(MakeError(ErrorKind::kPaymentDeclined, "card_declined", std::move(message)),
                  e.payment_intent_id);
  }
  if (http_status == 401) return Upstream("Stripe rejected the service's API key (HTTP 401).");
  if (http_status == 403) {
    return Upstream("Stripe refused this call for the service's API key (HTTP 403).");
  }
  if (http_status == 409) {
    return MakeError(ErrorKind::kConflict, "idempotency_key_in_use",
                     "A request with this Idempotency-Key is still in progress.");
  }
  if (http_status == 429) return Upstream("Stripe is rate-limiting the service (HTTP 429).");
  if (http_status >= 500 && http_status <= 599) {
    return Upstream("Stripe failed to process the request (" + StatusText(http_status) + ").");
  }
  if (http_status >= 400 && http_status <= 499) {
    if (!e.readable) {
      return Upstream("Stripe answered " + StatusText(http_status) + " with an unreadable body.");
    }
    return MapClientError(http_status, e);
  }
  return Upstream("Stripe answered with unexpected " + StatusText(http_status) + ".");
}

Error MapRefundError(long http_status, std::string_view body) {  // NOLINT(google-runtime-int)
  if (http_status == 400) {
    const StripeError e = ParseBody(body);
    if (e.readable && e.type != "idempotency_error") {
      // Stripe names no code for "Refund amount (…) is greater than …" (param amount), and
      // charge_already_refunded (or amount_too_large) when nothing or too little is left.
      if (e.code == "charge_already_refunded" || e.code == "amount_too_large" ||
          (e.code.empty() && e.param == "amount" &&
           e.message.find("greater than") != std::string::npos)) {
        return MakeError(ErrorKind::kConflict, "refund_exceeds_captured",
                         "The refund exceeds what is left of the captured amount.", "amount");
      }
      if (e.code.empty() && e.param.empty() &&
          e.message.find("does not have a successful charge") != std::string::npos) {
        return MakeError(ErrorKind::kConflict, "hold_not_refundable",
                         "The hold has no captured charge to refund.");
      }
    }
  }
  return MapStripeError(http_status, body);
}

Error MapFileError(long http_status, std::string_view body) {  // NOLINT(google-runtime-int)
  if (http_status == 400) {
    const StripeError e = ParseBody(body);
    if (e.readable && e.type != "idempotency_error" && e.param == "file") {
      const std::string message = Sanitize(e.message);
      return MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                       message.empty() ? std::string("Stripe refused the file.")
                                       : "Stripe refused the file: " + message,
                       "file");
    }
  }
  return MapStripeError(http_status, body);
}

}  // namespace cc::stripe
