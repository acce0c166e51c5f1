// FakeStripe: a small working in-memory StripeApi for handler tests (leveldb's
// NewMemEnv idea, not a mock): PaymentIntents with Stripe's state rules, idempotency
// by key, the test payment methods, and a record of every call.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "chittyid/chittyid_api.h"
#include "stripe/stripe_api.h"

namespace cc::testing {

class FakeStripe final : public stripe::StripeApi {
 public:
  struct Call {
    std::string op;
    std::string id;
    std::string key;
  };
  std::vector<Call> calls;
  std::map<std::string, stripe::PaymentIntent> intents;
  std::optional<Error> fail_next;  // returned (once) by the next call
  int64_t now = 1767225600;

  Result<stripe::PaymentIntent> Create(const stripe::CreateParams& p,
                                       const std::string& key) override {
    calls.push_back({"create", "", key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    if (auto it = failed_creates_.find(key); it != failed_creates_.end()) {
      return tl::unexpected(it->second);  // Stripe replays a key's 402 too
    }
    // Stripe replays a key's first answer, and refuses the key with other parameters.
    const std::string fingerprint = std::to_string(p.amount) + "|" + p.metadata.at("chitty_id");
    if (auto it = replies_.find(key); it != replies_.end()) {
      if (create_params_.at(key) != fingerprint) {
        return Fail(ErrorKind::kUnprocessable, "idempotency_key_reused",
                    "Keys for idempotent requests can only be used with the same parameters");
      }
      return intents.at(it->second);
    }
    create_params_[key] = fingerprint;
    stripe::PaymentIntent pi;
    pi.id = "pi_fake" + std::to_string(intents.size() + 1);
    pi.status = "requires_payment_method";
    pi.amount = p.amount;
    pi.currency = p.currency;
    pi.description = p.description;
    pi.receipt_email = p.receipt_email;
    pi.client_secret = pi.id + "_secret_x";
    pi.created = now;
    pi.metadata = p.metadata;
    pi.customer = p.customer;
    setup_future_usage_[pi.id] = p.setup_future_usage;
    replies_[key] = pi.id;
    intents[pi.id] = pi;
    if (!p.payment_method.empty()) {
      auto answer = Confirm(pi.id, p.payment_method, p.off_session);
      if (!answer) failed_creates_[key] = answer.error();
      return answer;
    }
    return pi;
  }

  // What the guest's browser does with Stripe.js (off_session: the service's own
  // merchant-initiated confirmation). Off-session, pm_card_authenticationRequired fails
  // with authentication_required and pm_card_chargeCustomerFail declines; a Visa
  // merchant-initiated authorization lasts 4 d 18 h, the others 7 d.
  Result<stripe::PaymentIntent> Confirm(const std::string& id, const std::string& pm,
                                        bool off_session = false) {
    auto& pi = intents.at(id);
    pi.latest_charge = "ch_" + id;
    pi.payment_method = pm;
    const bool declines =
        pm == "pm_card_chargeDeclined" || (off_session && pm == "pm_card_chargeCustomerFail");
    if (declines || (off_session && pm == "pm_card_authenticationRequired")) {
      pi.status = "requires_payment_method";
      pi.payment_method.clear();
      pi.last_payment_error_code = declines ? "card_declined" : "authentication_required";
      pi.last_payment_error_decline_code =
          declines ? "insufficient_funds" : pi.last_payment_error_code;
      Error e = MakeError(ErrorKind::kPaymentDeclined, "card_declined", "Your card was declined.");
      e.id = id;
      return tl::unexpected(e);
    }
    if (pm == "pm_card_authenticationRequired") {
      pi.status = "requires_action";
    } else {
      pi.status = "requires_capture";
      pi.amount_capturable = pi.amount;
      pi.last_payment_error_code.clear();
      pi.capture_before = now + (off_session ? 4 * 86400 + 18 * 3600 : 7 * 86400);
    }
    return pi;
  }

  // The guest's 3-D Secure step of a requires_action intent.
  void Authenticate(const std::string& id) {
    auto& pi = intents.at(id);
    pi.status = "requires_capture";
    pi.amount_capturable = pi.amount;
    pi.capture_before = now + 7 * 86400;
  }

  // The authorization lapses (capture_before passed).
  void Expire(const std::string& id) {
    auto& pi = intents.at(id);
    pi.status = "canceled";
    pi.cancellation_reason = "expired";
    pi.canceled_at = now;
    pi.amount_capturable = 0;
  }

  // Customers and SetupIntents (scheduled holds, re-authorization).
  std::map<std::string, stripe::Customer> customers;
  std::map<std::string, stripe::SetupIntent> setups;

  Result<stripe::Customer> CreateCustomer(const stripe::CustomerParams& p,
                                          const std::string& key) override {
    calls.push_back({"customer", "", key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    if (auto it = customer_replies_.find(key); it != customer_replies_.end()) {
      return customers.at(it->second);
    }
    stripe::Customer c{"cus_fake" + std::to_string(customers.size() + 1), p.email};
    customer_replies_[key] = c.id;
    customers[c.id] = c;
    return c;
  }

  Result<stripe::SetupIntent> CreateSetupIntent(const stripe::SetupIntentParams& p,
                                                const std::string& key) override {
    calls.push_back({"setup", "", key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    if (auto it = setup_replies_.find(key); it != setup_replies_.end()) {
      return setups.at(it->second);
    }
    stripe::SetupIntent si;
    si.id = "seti_fake" + std::to_string(setups.size() + 1);
    si.status = "requires_payment_method";
    si.customer = p.customer;
    if (auto c = customers.find(p.customer); c != customers.end())
      si.customer_email = c->second.email;
    si.client_secret = si.id + "_secret_y";
    si.description = p.description;
    si.metadata = p.metadata;
    si.created = now;
    setup_replies_[key] = si.id;
    setups[si.id] = si;
    return si;
  }

  Result<stripe::SetupIntent> RetrieveSetupIntent(const std::string& id) override {
    calls.push_back({"retrieve_setup", id, ""});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    auto it = setups.find(id);
    if (it == setups.end()) return Fail(ErrorKind::kNotFound, "not_found", "No such hold");
    return it->second;
  }

  // The guest saves a card with the SetupIntent's client secret.
  void SaveCard(const std::string& seti, const std::string& pm) {
    auto& si = setups.at(seti);
    si.status = "succeeded";
    si.payment_method = pm;
  }

  Result<stripe::PaymentIntent> Retrieve(const std::string& id) override {
    calls.push_back({"retrieve", id, ""});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    auto it = intents.find(id);
    if (it == intents.end()) return Fail(ErrorKind::kNotFound, "not_found", "No such hold");
    return it->second;  // with its client_secret, as Stripe answers a secret key
  }

  Result<stripe::PaymentIntent> UpdateMetadata(const std::string& id, const stripe::Metadata& m,
                                               const std::string& key) override {
    calls.push_back({"update", id, key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    auto& pi = intents.at(id);
    for (const auto& [k, v] : m) {
      if (v.empty()) {
        pi.metadata.erase(k);  // Stripe: an empty value removes the key
      } else {
        pi.metadata[k] = v;
      }
    }
    return pi;
  }

  Result<stripe::PaymentIntent> Capture(const std::string& id, const stripe::CaptureParams& p,
                                        const std::string& key) override {
    calls.push_back({"capture", id, key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    if (auto it = replayed_.find(key); it != replayed_.end()) return it->second;
    auto& pi = intents.at(id);
    if (pi.status != "requires_capture") return Unexpected();
    const int64_t amount = p.amount_to_capture.value_or(pi.amount_capturable);
    if (amount > pi.amount_capturable) {
      return Fail(ErrorKind::kInvalidArgument, "capture_exceeds_capturable", "too much");
    }
    pi.status = "succeeded";
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    for (const auto& [k, v] : p.metadata) pi.metadata[k] = v;
    replayed_[key] = pi;
    return pi;
  }

  Result<stripe::PaymentIntent> Cancel(const std::string& id, const stripe::CancelParams& p,
                                       const std::string& key) override {
    calls.push_back({"cancel", id, key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    if (auto it = replayed_.find(key); it != replayed_.end()) return it->second;
    auto& pi = intents.at(id);
    if (pi.status == "succeeded" || pi.status == "canceled") return Unexpected();
    pi.status = "canceled";
    pi.cancellation_reason = p.cancellation_reason;
    pi.canceled_at = now;
    pi.amount_capturable = 0;
    replayed_[key] = pi;
    return pi;
  }

  // Stripe's search compares strings case-insensitively.
  static bool SameIgnoringCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }

  Result<stripe::SearchPage> Search(const std::string& query, int limit,
                                    const std::string& /*page*/) override {
    calls.push_back({"search", query, ""});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    stripe::SearchPage page;
    // Clauses of the form metadata['k']:'v' (a quote in v escaped as \') joined by AND;
    // every one must match. Other clauses (status, created) are not checked.
    std::vector<std::pair<std::string, std::string>> clauses;
    for (size_t pos = query.find("metadata['"); pos != std::string::npos;
         pos = query.find("metadata['", pos)) {
      const size_t key_end = query.find("']:'", pos);
      std::string value;
      size_t i = key_end + 4;
      for (; i < query.size() && query[i] != '\''; ++i) {
        if (query[i] == '\\' && i + 1 < query.size()) ++i;
        value.push_back(query[i]);
      }
      clauses.emplace_back(query.substr(pos + 10, key_end - pos - 10), std::move(value));
      pos = i;
    }
    for (auto it = intents.rbegin(); it != intents.rend(); ++it) {
      bool match = true;
      for (const auto& [k, v] : clauses) {
        auto m = it->second.metadata.find(k);
        match = match && m != it->second.metadata.end() && SameIgnoringCase(m->second, v);
      }
      if (!match) continue;
      if (static_cast<int>(page.data.size()) < limit) {
        page.data.push_back(it->second);
      } else {
        page.has_more = true;
      }
    }
    return page;
  }

  // Refunds as Stripe makes them: only of a succeeded PaymentIntent, at most what is left
  // (the charge's amount_refunded grows), replayed by key.
  std::vector<stripe::Refund> refunds;    // creation order
  std::optional<Error> fail_next_refund;  // returned (once) by the next CreateRefund

  Result<stripe::Refund> CreateRefund(const stripe::RefundParams& p,
                                      const std::string& key) override {
    calls.push_back({"refund", p.payment_intent, key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    if (auto e = std::exchange(fail_next_refund, std::nullopt)) return tl::unexpected(*e);
    if (auto it = refund_replies_.find(key); it != refund_replies_.end()) return it->second;
    auto found = intents.find(p.payment_intent);
    if (found == intents.end()) return Fail(ErrorKind::kNotFound, "not_found", "No such hold");
    auto& pi = found->second;
    if (pi.status != "succeeded") {
      return Fail(ErrorKind::kConflict, "hold_not_refundable", "no successful charge");
    }
    const int64_t left = pi.amount_received - pi.amount_refunded;
    const int64_t amount = p.amount.value_or(left);
    if (left <= 0 || amount > left) {
      return Fail(ErrorKind::kConflict, "refund_exceeds_captured", "too much", "amount");
    }
    stripe::Refund made = RefundAtStripe(pi, amount, p.reason, key);
    made.intent = p.intent;
    refunds.back().intent = p.intent;
    refund_replies_[key] = made;
    return made;
  }

  // Stripe keeps an idempotency key's answer for 24 h: after that the same key is a new
  // request.
  void ForgetRefundKeys() { refund_replies_.clear(); }

  // A refund made elsewhere (the Dashboard), or the one CreateRefund makes.
  stripe::Refund RefundAtStripe(stripe::PaymentIntent& pi, int64_t amount,
                                const std::string& reason, const std::string& key = "") {
    stripe::Refund r{"re_fake" + std::to_string(refunds.size() + 1),
                     amount,
                     pi.currency,
                     "succeeded",
                     pi.id,
                     reason,
                     now};
    pi.amount_refunded += amount;
    refunds.push_back(r);
    if (!key.empty()) refund_replies_[key] = r;
    return r;
  }

  Result<std::vector<stripe::Refund>> ListRefunds(const std::string& payment_intent) override {
    calls.push_back({"list_refunds", payment_intent, ""});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    std::vector<stripe::Refund> out;
    for (auto it = refunds.rbegin(); it != refunds.rend(); ++it) {  // newest first
      if (it->payment_intent == payment_intent) out.push_back(*it);
    }
    return out;
  }

  // Disputes as Stripe has them (a test sets them); an unknown id is 404.
  std::map<std::string, stripe::Dispute> disputes;

  Result<stripe::Dispute> RetrieveDispute(const std::string& id) override {
    calls.push_back({"get_dispute", id, ""});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    auto it = disputes.find(id);
    if (it == disputes.end()) return Fail(ErrorKind::kNotFound, "not_found", "No such dispute");
    return it->second;
  }

  // Files: one per key (a repeat replays it), the bytes kept.
  std::map<std::string, std::string> file_bytes;  // file id → bytes

  Result<stripe::File> UploadFile(const stripe::FileUpload& upload,
                                  const std::string& key) override {
    calls.push_back({"file", "", key});
    if (auto e = TakeFailure()) return tl::unexpected(*e);
    if (auto it = file_replies_.find(key); it != file_replies_.end()) return it->second;
    stripe::File file{"file_fake" + std::to_string(file_bytes.size() + 1),
                      upload.filename,
                      "dispute_evidence",
                      upload.content_type == "application/pdf" ? "pdf" : "png",
                      static_cast<int64_t>(upload.data.size()),
                      now};
    file_bytes[file.id] = upload.data;
    file_replies_[key] = file;
    return file;
  }

  Status Ping() override { return Ok(); }

  size_t Count(const std::string& op) const {
    size_t n = 0;
    for (const auto& c : calls) n += c.op == op ? 1U : 0U;
    return n;
  }

 private:
  std::optional<Error> TakeFailure() {
    auto e = fail_next;
    fail_next.reset();
    return e;
  }
  static tl::unexpected<Error> Unexpected() {
    return Fail(ErrorKind::kConflict, "hold_not_capturable", "unexpected state");
  }
  std::map<std::string, std::string> replies_;             // idempotency key → PaymentIntent id
  std::map<std::string, std::string> create_params_;       // key → amount|chitty_id
  std::map<std::string, stripe::PaymentIntent> replayed_;  // capture/cancel key → answer
  std::map<std::string, stripe::Refund> refund_replies_;   // refund key → answer
  std::map<std::string, Error> failed_creates_;            // create key → its 402
  std::map<std::string, std::string> setup_future_usage_;  // PaymentIntent → its setting
  std::map<std::string, std::string> customer_replies_;    // key → Customer id
  std::map<std::string, std::string> setup_replies_;       // key → SetupIntent id
  std::map<std::string, stripe::File> file_replies_;       // file key → answer
};

class FakeChittyId final : public chittyid::ChittyIdApi {
 public:
  bool down = false;
  int minted = 0;
  std::string prefix = "CHITTY-AUTH-FAKE";
  Result<std::string> MintAuth(const std::map<std::string, std::string>& /*m*/) override {
    if (down) return Fail(ErrorKind::kUnavailable, "upstream_error", "down");
    return prefix + std::to_string(++minted);
  }
  Status Health() override {
    if (down) return Fail(ErrorKind::kUnavailable, "upstream_error", "down");
    return Ok();
  }
};

}  // namespace cc::testing
