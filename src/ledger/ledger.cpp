#include "ledger/ledger.h"

#include <algorithm>
#include <array>
#include <utility>

#include "core/json.h"

namespace cc::ledger {
namespace {

tl::unexpected<Error> Invalid(std::string message, std::string param) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_request", std::move(message), std::move(param));
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// prefix followed by one or more [A-Za-z0-9_].
bool IsStripeId(std::string_view id, std::string_view prefix) {
  return id.size() > prefix.size() && id.starts_with(prefix) &&
         std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(), IsIdChar);
}

bool IsCurrency(std::string_view c) {
  return c.size() == 3 &&
         std::all_of(c.begin(), c.end(), [](char x) { return x >= 'a' && x <= 'z'; });
}

bool IsHexDigest(std::string_view d) {
  return d.size() == 64 && std::all_of(d.begin(), d.end(), [](char x) {
           return (x >= '0' && x <= '9') || (x >= 'a' && x <= 'f');
         });
}

constexpr std::array<std::string_view, 19> kEventTypes = {"created",
                                                          "scheduled",
                                                          "authorized",
                                                          "authorization_failed",
                                                          "captured",
                                                          "canceled",
                                                          "released",
                                                          "expired",
                                                          "reauthorized",
                                                          "reauthorization_failed",
                                                          "refunded",
                                                          "evidence_added",
                                                          "disclosure_accepted",
                                                          "dispute_opened",
                                                          "dispute_evidence_staged",
                                                          "dispute_submitted",
                                                          "dispute_closed",
                                                          "chitty_id_assigned",
                                                          "reconciled"};

bool IsActor(std::string_view a) {
  return (a.starts_with("client:") && a.size() > 7) || a == "stripe" || a == "scheduler" ||
         a == "reconciler" || a == "guest";
}

}  // namespace

bool ComparedWithStripe(std::string_view status) {
  return status != "succeeded" && status != "canceled" && status != "missing_at_stripe" &&
         status != "scheduled";
}

Status ValidateLimit(int limit) {
  if (limit < 1 || limit > 100) return Invalid("limit must be between 1 and 100", "limit");
  return Ok();
}

Status ValidateHold(const Hold& h) {
  if (!IsStripeId(h.id, "pi_") && !IsStripeId(h.id, "seti_")) {
    return Invalid("a hold id is a PaymentIntent or SetupIntent id", "id");
  }
  if (h.chitty_id.empty()) return Invalid("a hold needs its chitty_id", "chitty_id");
  if (h.client.empty()) return Invalid("a hold needs its client", "client");
  if (h.amount <= 0) return Invalid("a hold's amount is positive", "amount");
  if (!IsCurrency(h.currency)) return Invalid("currency is three lower-case letters", "currency");
  if (h.status.empty()) return Invalid("a hold needs its status", "status");
  if (h.created_at <= 0) return Invalid("a hold needs its creation time", "created_at");
  for (const std::string& pi : h.payment_intents) {
    if (!IsStripeId(pi, "pi_"))
      return Invalid("the chain holds PaymentIntent ids", "payment_intents");
  }
  if (h.id.starts_with("pi_") && (h.payment_intents.empty() || h.payment_intents.front() != h.id)) {
    return Invalid("a hold's id is the first PaymentIntent of its chain", "payment_intents");
  }
  if (!h.customer.empty() && !IsStripeId(h.customer, "cus_")) {
    return Invalid("a hold's customer is a Customer id", "customer");
  }
  if (h.reauthorize && !h.stay_ends_at) {
    return Invalid("a hold re-authorized until the end of the stay needs stay_ends_at",
                   "stay_ends_at");
  }
  std::vector<std::string> sorted = h.payment_intents;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return Invalid("a PaymentIntent appears twice in the chain", "payment_intents");
  }
  return Ok();
}

Status ValidateEvent(const Event& e) {
  if (!IsStripeId(e.id, "evt_")) return Invalid("an event id is evt_ and [A-Za-z0-9_]", "id");
  if (e.hold_id.empty()) return Invalid("an event needs its hold", "hold_id");
  if (e.chitty_id.empty()) return Invalid("an event needs its chitty_id", "chitty_id");
  if (std::find(kEventTypes.begin(), kEventTypes.end(), e.type) == kEventTypes.end()) {
    return Invalid("unknown event type", "type");
  }
  if (!IsActor(e.actor)) return Invalid("unknown actor", "actor");
  if (!e.currency.empty() && !IsCurrency(e.currency)) {
    return Invalid("currency is three lower-case letters", "currency");
  }
  if (e.created_at <= 0) return Invalid("an event needs its time", "created_at");
  if (!json::IsObjectText(e.detail_json)) return Invalid("detail is a JSON object", "detail");
  if (!e.hold_payment_intent.empty() && !IsStripeId(e.hold_payment_intent, "pi_")) {
    return Invalid("the chain holds PaymentIntent ids", "hold_payment_intent");
  }
  if (e.hold_reauthorization && !e.hold_reauthorization->empty()) {
    if (!json::IsObjectText(*e.hold_reauthorization)) {
      return Invalid("a reauthorization is a JSON object", "hold_reauthorization");
    }
  }
  return Ok();
}

Status Ledger::RecordCreate(const Hold& hold, const Event& created, std::string_view intent_key,
                            std::string_view result_json, int64_t now) {
  auto recorded = RecordHold(hold);
  if (!recorded) return Fail(recorded.error());
  auto appended = AppendEvent(created);
  if (!appended) return Fail(appended.error());
  return FinishIntent(intent_key, IntentState::kSucceeded, result_json, "", now);
}

std::vector<Result<StripeIntent>> Ledger::BeginIntents(
    std::span<const StripeIntent* const> intents) {
  std::vector<Result<StripeIntent>> answers;
  answers.reserve(intents.size());
  for (const StripeIntent* intent : intents) answers.push_back(BeginIntent(*intent));
  return answers;
}

std::vector<Status> Ledger::RecordCreates(std::span<const CreateRecord> records) {
  std::vector<Status> answers;
  answers.reserve(records.size());
  for (const CreateRecord& r : records) {
    answers.push_back(RecordCreate(*r.hold, *r.created, r.intent_key, r.result_json, r.now));
  }
  return answers;
}

Result<std::string> Ledger::JobState(std::string_view /*name*/) {
  return Fail(ErrorKind::kInternal, "ledger_error", "this ledger keeps no job state");
}

Status Ledger::SetJobState(std::string_view /*name*/, std::string_view /*value*/, int64_t /*now*/) {
  return Fail(ErrorKind::kInternal, "ledger_error", "this ledger keeps no job state");
}

Status ValidateIntent(const StripeIntent& i) {
  if (i.idempotency_key.empty()) return Invalid("an intent needs its key", "idempotency_key");
  if (i.operation.empty()) return Invalid("an intent needs its operation", "operation");
  if (!IsHexDigest(i.params_digest)) {
    return Invalid("params_digest is a lower-case hex SHA-256", "params_digest");
  }
  if (i.created_at <= 0) return Invalid("an intent needs its time", "created_at");
  if (!json::IsObjectText(i.request_json)) return Invalid("request is a JSON object", "request");
  return Ok();
}

Status ValidateClaim(std::string_view claim_json) {
  if (!json::IsObjectText(claim_json)) return Invalid("a claim is a JSON object", "claim");
  return Ok();
}

Status ValidateDisclosure(std::string_view disclosure_json) {
  if (!json::IsObjectText(disclosure_json)) {
    return Invalid("a disclosure is a JSON object", "disclosure");
  }
  return Ok();
}

Status ValidateEvidence(const Evidence& e, const Event& added) {
  const bool id_ok = e.id.size() > 5 && e.id.size() <= 255 && e.id.starts_with("file_") &&
                     std::all_of(e.id.begin() + 5, e.id.end(), [](char c) {
                       return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                              (c >= '0' && c <= '9') || c == '_';
                     });
  if (!id_ok) return Invalid("an evidence id is a Stripe file id (file_…)", "id");
  if (e.hold_id.empty()) return Invalid("evidence belongs to a hold", "hold_id");
  if (e.filename.empty()) return Invalid("evidence needs its filename", "filename");
  if (e.size <= 0) return Invalid("evidence has at least one byte", "size");
  if (e.type != "image/jpeg" && e.type != "image/png" && e.type != "application/pdf") {
    return Invalid("evidence is image/jpeg, image/png or application/pdf", "type");
  }
  if (e.created_at <= 0) return Invalid("evidence needs its time", "created_at");
  if (added.hold_id != e.hold_id) return Invalid("the event is of another hold", "hold_id");
  return ValidateEvent(added);
}

Status ValidateGuestLink(const GuestLink& link) {
  const bool hash_ok = link.token_sha256.size() == 64 &&
                       std::all_of(link.token_sha256.begin(), link.token_sha256.end(), [](char c) {
                         return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                       });
  if (!hash_ok) return Invalid("a guest link keeps its token's SHA-256 (hex)", "token_sha256");
  if (link.hold_id.empty()) return Invalid("a guest link belongs to a hold", "hold_id");
  if (link.created_at <= 0) return Invalid("a guest link needs its time", "created_at");
  if (link.expires_at <= link.created_at) {
    return Invalid("a guest link expires after it is made", "expires_at");
  }
  return Ok();
}

Status ValidateDispute(const Dispute& d) {
  const auto word = [](std::string_view s, bool id) {
    if (s.empty() || s.size() > (id ? 255U : 64U)) return false;
    return std::all_of(s.begin(), s.end(), [id](char c) {
      return (c >= 'a' && c <= 'z') || c == '_' ||
             (id && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')));
    });
  };
  if (!(d.id.starts_with("du_") || d.id.starts_with("dp_")) || !word(d.id, true)) {
    return Invalid("a dispute id is du_… or dp_…", "dispute.id");
  }
  if (!word(d.status, false)) return Invalid("a dispute needs its status", "dispute.status");
  if (!word(d.reason, false)) return Invalid("a dispute needs its reason", "dispute.reason");
  if (d.amount < 0) return Invalid("a dispute's amount is >= 0", "dispute.amount");
  return Ok();
}

Status ValidateHoldFilter(const HoldFilter& f) {
  if (f.client.empty()) return Invalid("a list is per client", "client");
  return ValidateLimit(f.limit);
}

std::string_view IntentStateName(IntentState state) {
  switch (state) {
    case IntentState::kPending: return "pending";
    case IntentState::kSucceeded: return "succeeded";
    case IntentState::kFailed: return "failed";
  }
  return "pending";
}

std::optional<IntentState> ParseIntentState(std::string_view name) {
  if (name == "pending") return IntentState::kPending;
  if (name == "succeeded") return IntentState::kSucceeded;
  if (name == "failed") return IntentState::kFailed;
  return std::nullopt;
}

std::string NotificationIdFor(std::string_view event_id) {
  return "ntf_" + std::string(event_id.starts_with("evt_") ? event_id.substr(4) : event_id);
}

std::string_view NotificationStatusName(NotificationStatus status) {
  switch (status) {
    case NotificationStatus::kPending: return "pending";
    case NotificationStatus::kDelivered: return "delivered";
    case NotificationStatus::kGaveUp: return "gave_up";
  }
  return "pending";
}

std::optional<NotificationStatus> ParseNotificationStatus(std::string_view name) {
  if (name == "pending") return NotificationStatus::kPending;
  if (name == "delivered") return NotificationStatus::kDelivered;
  if (name == "gave_up") return NotificationStatus::kGaveUp;
  return std::nullopt;
}

Status ValidateNotificationAttempt(const NotificationAttempt& a) {
  using Outcome = NotificationAttempt::Outcome;
  if (!IsStripeId(a.id, "ntf_")) return Invalid("a notification id is ntf_ and [A-Za-z0-9_]", "id");
  if ((a.outcome == Outcome::kFailed || a.outcome == Outcome::kNotTried) && !a.next_attempt_at) {
    return Invalid("a notification not delivered needs its next attempt", "next_attempt_at");
  }
  if (a.at <= 0) return Invalid("an attempt needs its time", "at");
  return Ok();
}

}  // namespace cc::ledger
