// StripeApi: the PaymentIntent calls ChittyCharge makes, as typed values.
//
// Every POST takes an idempotency key that the caller derives from the logical
// operation (so a retry never moves money twice); the client retries transient
// failures (429/409/5xx/connection reset, honouring Stripe-Should-Retry) with backoff
// under the same key, bounded in total time.
// Errors arrive already mapped to the contract (see stripe/errors.h):
//   card declined → kPaymentDeclined "card_declined" (Error.id = the PaymentIntent id);
//   PaymentIntent in the wrong state → kConflict "hold_not_capturable";
//   capture amount too large → kInvalidArgument "capture_exceeds_capturable";
//   unknown id → kNotFound "not_found"; timeout → kDeadlineExceeded "upstream_timeout";
//   anything else → kUpstream "upstream_error" / kUnavailable.
// Not thread-safe (owns a Transport): one per event loop (its fibers share it) or thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace cc::stripe {

using Metadata = std::map<std::string, std::string>;

struct PaymentIntent {
  std::string id;
  std::string status;  // Stripe's status string
  int64_t amount = 0;
  int64_t amount_capturable = 0;
  int64_t amount_received = 0;
  std::string currency;
  std::string description;
  std::string receipt_email;
  std::string client_secret;        // only from create; never stored or logged
  std::string cancellation_reason;  // "" when none
  int64_t created = 0;              // unix seconds
  std::optional<int64_t> canceled_at;
  std::optional<int64_t> capture_before;        // latest_charge.payment_method_details.card
  std::string latest_charge;                    // ch_… id, "" when none
  int64_t amount_refunded = 0;                  // latest_charge.amount_refunded (expanded), else 0
  std::string last_payment_error_code;          // e.g. "card_declined", "" when none
  std::string last_payment_error_decline_code;  // e.g. "insufficient_funds", "" when none
  std::string customer;        // cus_… (an id, or an expanded Customer's), "" when none
  std::string payment_method;  // pm_… the card confirmed with, "" when none
  Metadata metadata;
};

struct CreateParams {
  int64_t amount = 0;
  std::string currency;
  std::string description;
  std::string receipt_email;   // "" = not sent
  std::string payment_method;  // "" = not sent; when set, confirm=true is sent too
  Metadata metadata;
  // The saved-card fields (CONTRACT.md "The hold's life", STRIPE-NEXT §1); "" / false = not
  // sent. customer: the Customer the card is (or will be) attached to; setup_future_usage
  // "off_session" saves the guest's card on the first hold; off_session=true (with
  // payment_method, so confirm=true) is a merchant-initiated hold with the saved card.
  std::string customer = {};
  std::string setup_future_usage = {};
  bool off_session = false;
};

// A Customer (POST /v1/customers): the owner of a guest's saved card.
struct Customer {
  std::string id;  // cus_…
  std::string email;
};

struct CustomerParams {
  std::string email;  // "" = not sent
  Metadata metadata;
};

// A SetupIntent: the guest saves a card for the scheduled hold's off-session authorization.
struct SetupIntent {
  std::string id;  // seti_…
  std::string status;
  std::string customer;        // cus_…
  std::string customer_email;  // when `customer` came expanded
  std::string payment_method;  // the saved card once the guest confirmed it, else ""
  std::string client_secret;   // never stored or logged
  std::string description;
  std::string last_setup_error_code;
  int64_t created = 0;
  Metadata metadata;
};

// POST /v1/setup_intents: usage=off_session and payment_method_types[]=card always.
struct SetupIntentParams {
  std::string customer;
  std::string description;
  Metadata metadata;
};

struct CaptureParams {
  std::optional<int64_t> amount_to_capture;
  Metadata metadata;  // merged into the PaymentIntent's metadata
};

struct CancelParams {
  std::string cancellation_reason;  // "" = not sent
};

struct SearchPage {
  std::vector<PaymentIntent> data;
  bool has_more = false;
  std::string next_page;  // "" when none
};

// A Refund (POST/GET /v1/refunds); reason = our free text, metadata[reason].
struct Refund {
  std::string id;  // re_…
  int64_t amount = 0;
  std::string currency;
  std::string status;  // pending | requires_action | succeeded | failed | canceled
  std::string payment_intent;
  std::string reason;  // metadata[reason], "" when none
  int64_t created = 0;
  std::string intent = {};  // metadata[intent]: the key of the ledger intent that made it
};

struct RefundParams {
  std::string payment_intent;
  std::optional<int64_t> amount;  // unset: Stripe refunds what is left
  std::string reason;             // free text → metadata[reason]; "" = not sent
  // The ledger intent's key → metadata[intent], so a refund whose caller died before
  // recording it is found again (the reconciler); "" = not sent.
  std::string intent = {};
};

// POST /v1/files (the files host, multipart/form-data): one dispute evidence file.
struct FileUpload {
  std::string filename;      // the part's filename
  std::string content_type;  // image/jpeg | image/png | application/pdf
  std::string data;          // the bytes
};

// A File (Stripe's answer): id file_…, type pdf | jpg | png | …
struct File {
  std::string id;
  std::string filename;
  std::string purpose;
  std::string type;
  int64_t size = 0;
  int64_t created = 0;
};

// A Dispute (GET/POST /v1/disputes/:id; STRIPE-NEXT §4.1), the fields the service keeps.
struct Dispute {
  std::string id;  // du_…
  std::string status;
  std::string reason;
  int64_t amount = 0;
  std::string currency;
  std::string charge;
  std::string payment_intent;              // "" when none
  std::optional<int64_t> evidence_due_by;  // evidence_details.due_by; 0 or null ⇒ none
  int submission_count = 0;                // evidence_details.submission_count
  int balance_transactions = 0;            // 1: funds withdrawn, 2: and reinstated
  int64_t created = 0;
};

// POST /v1/disputes/:id: evidence fields (text, or a file id for the file fields), and
// whether to submit them (false: staged only).
struct DisputeUpdate {
  std::map<std::string, std::string> evidence;
  bool submit = false;
};
// A page of GET /v1/events: each event as Stripe's JSON, newest first.
struct EventPage {
  std::vector<std::string> events;
  bool has_more = false;
};

class StripeApi {
 public:
  virtual ~StripeApi() = default;
  virtual Result<PaymentIntent> Create(const CreateParams& params,
                                       const std::string& idempotency_key) = 0;
  // Always expands latest_charge (for capture_before).
  virtual Result<PaymentIntent> Retrieve(const std::string& id) = 0;
  virtual Result<PaymentIntent> UpdateMetadata(const std::string& id, const Metadata& metadata,
                                               const std::string& idempotency_key) = 0;
  virtual Result<PaymentIntent> Capture(const std::string& id, const CaptureParams& params,
                                        const std::string& idempotency_key) = 0;
  virtual Result<PaymentIntent> Cancel(const std::string& id, const CancelParams& params,
                                       const std::string& idempotency_key) = 0;
  // query in Stripe's search syntax; limit 1..100; page = previous next_page or "".
  virtual Result<SearchPage> Search(const std::string& query, int limit,
                                    const std::string& page) = 0;
  // Events newer than the event `ending_before` ("": the newest), newest first; limit
  // 1..100 (the reconciler's catch-up on missed webhooks). Not every double has it.
  virtual Result<EventPage> ListEvents(const std::string& ending_before, int limit) {
    (void)ending_before;
    (void)limit;
    return Fail(ErrorKind::kInternal, "internal_error", "events are not listed here");
  }
  // POST /v1/refunds. Over-refunding (or a fully refunded charge) → kConflict
  // "refund_exceeds_captured"; nothing captured to refund → kConflict "hold_not_refundable".
  virtual Result<Refund> CreateRefund(const RefundParams& params,
                                      const std::string& idempotency_key) {
    (void)params;
    (void)idempotency_key;
    return Fail(ErrorKind::kInternal, "internal_error", "refunds are not made here");
  }
  // GET /v1/refunds?payment_intent=…: every refund of the PaymentIntent, newest first.
  virtual Result<std::vector<Refund>> ListRefunds(const std::string& payment_intent) {
    (void)payment_intent;
    return Fail(ErrorKind::kInternal, "internal_error", "refunds are not listed here");
  }
  // POST /v1/customers.
  virtual Result<Customer> CreateCustomer(const CustomerParams& params,
                                          const std::string& idempotency_key) {
    (void)params;
    (void)idempotency_key;
    return Fail(ErrorKind::kInternal, "internal_error", "customers are not made here");
  }
  // POST /v1/setup_intents (customer expanded in the answer).
  virtual Result<SetupIntent> CreateSetupIntent(const SetupIntentParams& params,
                                                const std::string& idempotency_key) {
    (void)params;
    (void)idempotency_key;
    return Fail(ErrorKind::kInternal, "internal_error", "setup intents are not made here");
  }
  // GET /v1/setup_intents/{id} with the customer expanded; an id that is not seti_… is
  // kNotFound without a call.
  virtual Result<SetupIntent> RetrieveSetupIntent(const std::string& id) {
    (void)id;
    return Fail(ErrorKind::kInternal, "internal_error", "setup intents are not read here");
  }
  // GET /v1/disputes/:id. Not every double has disputes or files.
  virtual Result<Dispute> RetrieveDispute(const std::string& id) {
    (void)id;
    return Fail(ErrorKind::kInternal, "internal_error", "disputes are not read here");
  }
  // POST /v1/disputes/:id with evidence[…] and submit=true|false.
  virtual Result<Dispute> UpdateDispute(const std::string& id, const DisputeUpdate& update,
                                        const std::string& idempotency_key) {
    (void)id;
    (void)update;
    (void)idempotency_key;
    return Fail(ErrorKind::kInternal, "internal_error", "disputes are not updated here");
  }
  // GET /v1/files/:id (the API host) and GET /v1/files/:id/contents (the files host).
  virtual Result<File> RetrieveFile(const std::string& id) {
    (void)id;
    return Fail(ErrorKind::kInternal, "internal_error", "files are not read here");
  }
  virtual Result<std::string> FileContents(const std::string& id) {
    (void)id;
    return Fail(ErrorKind::kInternal, "internal_error", "files are not read here");
  }
  // POST /v1/files with purpose=dispute_evidence, to the files host. A 400 on param file
  // → kInvalidArgument "invalid_request" param file (stripe/errors.h MapFileError).
  virtual Result<File> UploadFile(const FileUpload& upload, const std::string& idempotency_key) {
    (void)upload;
    (void)idempotency_key;
    return Fail(ErrorKind::kInternal, "internal_error", "files are not uploaded here");
  }
  // A cheap authenticated call for health (GET /v1/payment_intents?limit=1).
  virtual Status Ping() = 0;
};

}  // namespace cc::stripe
