#include "stripe/stripe_client.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "core/crypto.h"
#include "runtime/fibers.h"
#include "stripe/errors.h"
#include "stripe/form.h"
#include "stripe/payment_intent_json.h"
#include "stripe/retry.h"

namespace cc::stripe {
namespace {

using httpclient::HttpRequest;
using httpclient::HttpResponse;

constexpr std::string_view kIntents = "/v1/payment_intents";

// prefix followed by [A-Za-z0-9_]+, at most 255 characters in all.
bool IsStripeId(std::string_view id, std::string_view prefix) {
  if (id.size() <= prefix.size() || id.size() > 255 || !id.starts_with(prefix)) return false;
  return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsPaymentIntentId(std::string_view id) { return IsStripeId(id, "pi_"); }

tl::unexpected<Error> NoSuchHold() {
  return Fail(ErrorKind::kNotFound, "not_found", "No such hold.");
}

std::string IntentPath(std::string_view id, std::string_view suffix = {}) {
  std::string path(kIntents);
  path += '/';
  path += FormEscape(id);
  path += suffix;
  return path;
}

// du_…, file_…: a prefix then [A-Za-z0-9_]; anything else is 404 without calling Stripe.
bool IsObjectId(std::string_view id, std::string_view prefix) {
  if (id.size() <= prefix.size() || id.size() > 255 || !id.starts_with(prefix)) return false;
  return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

tl::unexpected<Error> NoSuch(std::string_view what) {
  return Fail(ErrorKind::kNotFound, "not_found", "No such " + std::string(what) + ".");
}

bool IsSuccess(long status) {
  return status >= 200 && status <= 299;
}  // NOLINT(google-runtime-int)

}  // namespace

StripeClient::StripeClient(httpclient::Transport& transport, StripeClientConfig config)
    : transport_(transport), config_(std::move(config)), rng_(std::random_device{}()) {
  while (!config_.api_base.empty() && config_.api_base.back() == '/') config_.api_base.pop_back();
  while (!config_.files_base.empty() && config_.files_base.back() == '/') {
    config_.files_base.pop_back();
  }
}

Result<PaymentIntent> StripeClient::Create(const CreateParams& params,
                                           const std::string& idempotency_key) {
  FormBuilder form;
  form.Add("amount", std::to_string(params.amount))
      .Add("currency", params.currency)
      .Add("capture_method", "manual");
  if (!params.description.empty()) form.Add("description", params.description);
  if (!params.receipt_email.empty()) form.Add("receipt_email", params.receipt_email);
  if (!params.customer.empty()) form.Add("customer", params.customer);
  if (!params.setup_future_usage.empty()) {
    form.Add("setup_future_usage", params.setup_future_usage);
  }
  form.AddMetadata(params.metadata)
      .AddArray("payment_method_types", {"card"})
      .AddArray("expand", {"latest_charge"});
  if (!params.payment_method.empty()) {
    form.Add("payment_method", params.payment_method).Add("confirm", "true");
    if (params.off_session) form.Add("off_session", "true");
  }
  return Post(std::string(kIntents), form.str(), idempotency_key);
}

Result<Customer> StripeClient::CreateCustomer(const CustomerParams& params,
                                              const std::string& idempotency_key) {
  if (idempotency_key.empty()) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "A Stripe call was attempted without an idempotency key.");
  }
  FormBuilder form;
  if (!params.email.empty()) form.Add("email", params.email);
  form.AddMetadata(params.metadata);
  Result<HttpResponse> response =
      Execute(Call{"POST", "/v1/customers", form.str(), idempotency_key}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseCustomer(response->body);
}

Result<SetupIntent> StripeClient::CreateSetupIntent(const SetupIntentParams& params,
                                                    const std::string& idempotency_key) {
  if (idempotency_key.empty()) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "A Stripe call was attempted without an idempotency key.");
  }
  FormBuilder form;
  form.Add("customer", params.customer).Add("usage", "off_session");
  if (!params.description.empty()) form.Add("description", params.description);
  form.AddMetadata(params.metadata)
      .AddArray("payment_method_types", {"card"})
      .AddArray("expand", {"customer"});
  Result<HttpResponse> response =
      Execute(Call{"POST", "/v1/setup_intents", form.str(), idempotency_key}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseSetupIntent(std::string_view(response->body));
}

Result<SetupIntent> StripeClient::RetrieveSetupIntent(const std::string& id) {
  if (!IsStripeId(id, "seti_")) return NoSuchHold();
  Result<HttpResponse> response =
      Execute(Call{"GET", "/v1/setup_intents/" + FormEscape(id) + "?expand[]=customer", {}, {}},
              config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseSetupIntent(std::string_view(response->body));
}

Result<PaymentIntent> StripeClient::Retrieve(const std::string& id) {
  if (!IsPaymentIntentId(id)) return NoSuchHold();
  Result<HttpResponse> response =
      Execute(Call{"GET", IntentPath(id, "?expand[]=latest_charge"), {}, {}}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParsePaymentIntent(response->body);
}

Result<PaymentIntent> StripeClient::UpdateMetadata(const std::string& id, const Metadata& metadata,
                                                   const std::string& idempotency_key) {
  if (!IsPaymentIntentId(id)) return NoSuchHold();
  FormBuilder form;
  form.AddMetadata(metadata).AddArray("expand", {"latest_charge"});
  return Post(IntentPath(id), form.str(), idempotency_key);
}

Result<PaymentIntent> StripeClient::Capture(const std::string& id, const CaptureParams& params,
                                            const std::string& idempotency_key) {
  if (!IsPaymentIntentId(id)) return NoSuchHold();
  FormBuilder form;
  if (params.amount_to_capture) {
    form.Add("amount_to_capture", std::to_string(*params.amount_to_capture));
  }
  form.AddMetadata(params.metadata).AddArray("expand", {"latest_charge"});
  return Post(IntentPath(id, "/capture"), form.str(), idempotency_key);
}

Result<PaymentIntent> StripeClient::Cancel(const std::string& id, const CancelParams& params,
                                           const std::string& idempotency_key) {
  if (!IsPaymentIntentId(id)) return NoSuchHold();
  FormBuilder form;
  if (!params.cancellation_reason.empty()) {
    form.Add("cancellation_reason", params.cancellation_reason);
  }
  form.AddArray("expand", {"latest_charge"});
  return Post(IntentPath(id, "/cancel"), form.str(), idempotency_key);
}

Result<SearchPage> StripeClient::Search(const std::string& query, int limit,
                                        const std::string& page) {
  FormBuilder form;
  form.Add("query", query).Add("limit", std::to_string(std::clamp(limit, 1, 100)));
  if (!page.empty()) form.Add("page", page);
  form.Add("expand[]", "data.latest_charge");
  const std::string path = std::string(kIntents) + "/search?" + form.str();
  Result<HttpResponse> response = Execute(Call{"GET", path, {}, {}}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseSearchPage(response->body);
}

Result<EventPage> StripeClient::ListEvents(const std::string& ending_before, int limit) {
  FormBuilder form;
  form.Add("limit", std::to_string(std::clamp(limit, 1, 100)));
  if (!ending_before.empty()) form.Add("ending_before", ending_before);
  Result<HttpResponse> response =
      Execute(Call{"GET", "/v1/events?" + form.str(), {}, {}}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseEventPage(response->body);
}

Result<Refund> StripeClient::CreateRefund(const RefundParams& params,
                                          const std::string& idempotency_key) {
  if (!IsPaymentIntentId(params.payment_intent)) return NoSuchHold();
  if (idempotency_key.empty()) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "A Stripe call was attempted without an idempotency key.");
  }
  FormBuilder form;
  form.Add("payment_intent", params.payment_intent);
  if (params.amount) form.Add("amount", std::to_string(*params.amount));
  std::map<std::string, std::string> metadata;
  if (!params.reason.empty()) metadata.emplace("reason", params.reason);
  if (!params.intent.empty()) metadata.emplace("intent", params.intent);
  if (!metadata.empty()) form.AddMetadata(metadata);
  Call call{"POST", "/v1/refunds", form.str(), idempotency_key};
  call.map_error = &MapRefundError;
  Result<HttpResponse> response = Execute(call, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseRefund(std::string_view(response->body));
}

Result<std::vector<Refund>> StripeClient::ListRefunds(const std::string& payment_intent) {
  if (!IsPaymentIntentId(payment_intent)) return NoSuchHold();
  constexpr int kMaxPages = 10;
  std::vector<Refund> all;
  std::string after;
  for (int page_no = 0; page_no < kMaxPages; ++page_no) {
    FormBuilder form;
    form.Add("payment_intent", payment_intent).Add("limit", "100");
    if (!after.empty()) form.Add("starting_after", after);
    Result<HttpResponse> response =
        Execute(Call{"GET", "/v1/refunds?" + form.str(), {}, {}}, config_.max_retries);
    if (!response) return Fail(std::move(response.error()));
    Result<RefundPage> page = ParseRefundPage(response->body);
    if (!page) return Fail(std::move(page.error()));
    for (Refund& refund : page->data) all.push_back(std::move(refund));
    if (!page->has_more || all.empty()) break;
    after = all.back().id;
  }
  return all;
}

Result<Dispute> StripeClient::RetrieveDispute(const std::string& id) {
  if (!IsObjectId(id, "du_") && !IsObjectId(id, "dp_")) return NoSuch("dispute");
  Result<HttpResponse> response =
      Execute(Call{"GET", "/v1/disputes/" + id, {}, {}}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseDispute(std::string_view(response->body));
}

Result<Dispute> StripeClient::UpdateDispute(const std::string& id, const DisputeUpdate& update,
                                            const std::string& idempotency_key) {
  if (!IsObjectId(id, "du_") && !IsObjectId(id, "dp_")) return NoSuch("dispute");
  if (idempotency_key.empty()) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "A Stripe call was attempted without an idempotency key.");
  }
  FormBuilder form;
  for (const auto& [field, value] : update.evidence) form.Add("evidence[" + field + "]", value);
  form.Add("submit", update.submit ? "true" : "false");
  Result<HttpResponse> response =
      Execute(Call{"POST", "/v1/disputes/" + id, form.str(), idempotency_key}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseDispute(std::string_view(response->body));
}

Result<File> StripeClient::RetrieveFile(const std::string& id) {
  if (!IsObjectId(id, "file_")) return NoSuch("file");
  Result<HttpResponse> response =
      Execute(Call{"GET", "/v1/files/" + id, {}, {}}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseFile(std::string_view(response->body));
}

Result<std::string> StripeClient::FileContents(const std::string& id) {
  if (!IsObjectId(id, "file_")) return NoSuch("file");
  Call call{"GET", "/v1/files/" + id + "/contents", {}, {}};
  call.files_host = true;
  Result<HttpResponse> response = Execute(call, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return std::move(response->body);
}

Result<File> StripeClient::UploadFile(const FileUpload& upload,
                                      const std::string& idempotency_key) {
  if (idempotency_key.empty()) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "A Stripe call was attempted without an idempotency key.");
  }
  Call call{"POST", "/v1/files", {}, idempotency_key};
  call.form = {{"purpose", "dispute_evidence", {}, {}},
               {"file", upload.data, upload.filename, upload.content_type}};
  call.files_host = true;
  call.map_error = &MapFileError;
  Result<HttpResponse> response = Execute(call, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParseFile(response->body);
}

Status StripeClient::Ping() {
  Result<HttpResponse> response =
      Execute(Call{"GET", std::string(kIntents) + "?limit=1", {}, {}}, 0);
  if (!response) return Fail(std::move(response.error()));
  return Ok();
}

Result<PaymentIntent> StripeClient::Post(std::string path, std::string body,
                                         const std::string& key) {
  assert(!key.empty() && "every Stripe POST needs an idempotency key");
  if (key.empty()) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "A Stripe call was attempted without an idempotency key.");
  }
  Result<HttpResponse> response =
      Execute(Call{"POST", std::move(path), std::move(body), key}, config_.max_retries);
  if (!response) return Fail(std::move(response.error()));
  return ParsePaymentIntent(response->body);
}

// One exchange plus retries; a 2xx answer, or the mapped final failure.
Result<HttpResponse> StripeClient::Execute(const Call& call, int max_retries) {
  const HttpRequest request = BuildRequest(call);
  const auto start = Now();
  for (int attempt = 1;; ++attempt) {
    Result<HttpResponse> outcome = transport_.Send(request);
    if (outcome && IsSuccess(outcome->status)) return outcome;
    if (!outcome && outcome.error().kind == ErrorKind::kDeadlineExceeded) {
      return Fail(ErrorKind::kDeadlineExceeded, "upstream_timeout",
                  "Stripe did not answer within " + std::to_string(config_.timeout_ms) + " ms.");
    }
    if (attempt > max_retries || !ShouldRetry(outcome)) {
      return Fail(FinalError(call, outcome, attempt));
    }
    const std::chrono::milliseconds delay = BackoffDelay(attempt, Jitter());
    if (Now() - start + delay > config_.retry_budget) {
      return Fail(FinalError(call, outcome, attempt));
    }
    Sleep(delay);
  }
}

HttpRequest StripeClient::BuildRequest(const Call& call) const {
  HttpRequest request;
  request.method = call.method;
  const std::string& base =
      call.files_host && !config_.files_base.empty() ? config_.files_base : config_.api_base;
  request.url = base + call.path_and_query;
  request.headers = {
      {"Authorization", "Bearer " + config_.secret_key},
      {"Stripe-Version", config_.api_version},
      {"Accept", "application/json"},
      {"User-Agent", "ChittyCharge/" CHITTYCHARGE_VERSION},
  };
  if (request.method == "POST") {
    if (call.form.empty()) {
      request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
      request.body = call.body;
    } else {
      request.form = call.form;  // multipart/form-data: the transport writes its Content-Type
    }
    request.headers.emplace_back("Idempotency-Key", call.idempotency_key);
  }
  request.timeout_ms = config_.timeout_ms;
  request.connect_timeout_ms = config_.connect_timeout_ms;
  return request;
}

Error StripeClient::FinalError(const Call& call, const Result<HttpResponse>& outcome,
                               int attempts) const {
  if (outcome) {
    return call.map_error != nullptr ? call.map_error(outcome->status, outcome->body)
                                     : MapStripeError(outcome->status, outcome->body);
  }
  std::string message = "Could not reach Stripe";
  if (attempts > 1) message += " (" + std::to_string(attempts) + " attempts)";
  message += ": " + outcome.error().message;
  return MakeError(ErrorKind::kUpstream, "upstream_error", std::move(message));
}

void StripeClient::Sleep(std::chrono::milliseconds delay) {
  if (config_.sleep) {
    config_.sleep(delay);
  } else {
    fibers::Pause(delay);  // on the event loop, other requests run meanwhile
  }
}

double StripeClient::Jitter() {
  if (config_.jitter) return config_.jitter();
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

std::chrono::steady_clock::time_point StripeClient::Now() const {
  return config_.now ? config_.now() : std::chrono::steady_clock::now();
}

}  // namespace cc::stripe
