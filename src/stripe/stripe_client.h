// StripeClient: StripeApi over one httpclient::Transport (Stripe's v1 REST API).
//
// Every request carries `Authorization: Bearer <secret_key>` and the pinned
// `Stripe-Version`; every POST carries `Content-Type: application/x-www-form-urlencoded`
// and the caller's Idempotency-Key (never empty), the same key on every attempt.
// Transient failures are retried per stripe/retry.h, at most max_retries times and only
// while the time spent plus the next sleep stays within retry_budget; the last failure
// is then mapped by MapStripeError (answers) or to 502 "upstream_error" (connection
// failures). A timeout is 504 "upstream_timeout" at once, without retry. Ids that are not
// `pi_[A-Za-z0-9_]+` (`seti_…` for SetupIntents) are 404 "not_found" without calling Stripe.
// PaymentIntents returned by Create/Retrieve/UpdateMetadata/Capture/Cancel have
// latest_charge expanded (for capture_before); Search expands data.latest_charge;
// SetupIntents come with their customer expanded (its email). ListRefunds pages through
// GET /v1/refunds (100 a page, at most 10 pages). Ping makes one attempt, no retry.
// Neither the key nor a client_secret is ever put into an Error.
// Not thread-safe (one Transport, one PRNG): one StripeClient per event loop or thread.
// The fibers of a loop share it: they interleave only while a Send() is parked, and no
// state is kept across that.
#pragma once

#include <chrono>
#include <functional>
#include <random>
#include <string>

#include "httpclient/transport.h"
#include "stripe/stripe_api.h"

namespace cc::stripe {

inline constexpr const char* kStripeApiVersion = "2026-10-28.endive";

struct StripeClientConfig {
  std::string api_base = "https://api.stripe.com";  // scheme://host[:port], no trailing '/'
  // Where POST /v1/files goes (Stripe's files host); "" = api_base.
  std::string files_base = "https://files.stripe.com";
  std::string secret_key;  // sk_… / rk_…; never logged
  std::string api_version = kStripeApiVersion;
  long timeout_ms = 10000;         // NOLINT(google-runtime-int): curl's type
  long connect_timeout_ms = 3000;  // NOLINT(google-runtime-int): curl's type
  int max_retries = 2;
  std::chrono::milliseconds retry_budget{8000};  // total, first attempt to last
  // Test seams; empty = real sleep (fibers::Pause), an internal PRNG (uniform [0,1)), steady_clock.
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<double()> jitter;
  std::function<std::chrono::steady_clock::time_point()> now;
};

class StripeClient final : public StripeApi {
 public:
  // transport must outlive the client.
  StripeClient(httpclient::Transport& transport, StripeClientConfig config);

  Result<PaymentIntent> Create(const CreateParams& params,
                               const std::string& idempotency_key) override;
  Result<PaymentIntent> Retrieve(const std::string& id) override;
  Result<PaymentIntent> UpdateMetadata(const std::string& id, const Metadata& metadata,
                                       const std::string& idempotency_key) override;
  Result<PaymentIntent> Capture(const std::string& id, const CaptureParams& params,
                                const std::string& idempotency_key) override;
  Result<PaymentIntent> Cancel(const std::string& id, const CancelParams& params,
                               const std::string& idempotency_key) override;
  Result<SearchPage> Search(const std::string& query, int limit, const std::string& page) override;
  Result<EventPage> ListEvents(const std::string& ending_before, int limit) override;
  Result<Refund> CreateRefund(const RefundParams& params,
                              const std::string& idempotency_key) override;
  Result<std::vector<Refund>> ListRefunds(const std::string& payment_intent) override;
  Result<Customer> CreateCustomer(const CustomerParams& params,
                                  const std::string& idempotency_key) override;
  Result<SetupIntent> CreateSetupIntent(const SetupIntentParams& params,
                                        const std::string& idempotency_key) override;
  Result<SetupIntent> RetrieveSetupIntent(const std::string& id) override;
  // multipart/form-data through the transport's FormPart (libcurl's MIME API encodes it):
  // purpose=dispute_evidence and the file part.
  Result<File> UploadFile(const FileUpload& upload, const std::string& idempotency_key) override;
  Result<Dispute> RetrieveDispute(const std::string& id) override;
  Result<Dispute> UpdateDispute(const std::string& id, const DisputeUpdate& update,
                                const std::string& idempotency_key) override;
  Result<File> RetrieveFile(const std::string& id) override;
  Result<std::string> FileContents(const std::string& id) override;
  Status Ping() override;

 private:
  struct Call {
    const char* method;                           // "GET" or "POST"
    std::string path_and_query;                   // "/v1/payment_intents?…"
    std::string body;                             // form-encoded, POST only
    std::string idempotency_key;                  // POST only
    std::vector<httpclient::FormPart> form = {};  // POST only: a multipart body instead
    bool files_host = false;                      // to config.files_base, not api_base
    // Maps a final non-2xx answer (stripe/errors.h); MapStripeError when null.
    Error (*map_error)(long, std::string_view) = nullptr;  // NOLINT(google-runtime-int)
  };

  Result<PaymentIntent> Post(std::string path, std::string body, const std::string& key);
  Result<httpclient::HttpResponse> Execute(const Call& call, int max_retries);
  [[nodiscard]] httpclient::HttpRequest BuildRequest(const Call& call) const;
  [[nodiscard]] Error FinalError(const Call& call, const Result<httpclient::HttpResponse>& outcome,
                                 int attempts) const;
  void Sleep(std::chrono::milliseconds delay);
  double Jitter();
  std::chrono::steady_clock::time_point Now() const;

  httpclient::Transport& transport_;
  StripeClientConfig config_;
  std::minstd_rand rng_;
};

}  // namespace cc::stripe
