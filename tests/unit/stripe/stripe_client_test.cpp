#include "stripe/stripe_client.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "fakes/scripted_transport.h"
#include "stripe/retry.h"
#include "test_util.h"

namespace cc::stripe {
namespace {

using std::chrono::milliseconds;
using testing::RequestHeader;
using testing::ScriptedTransport;

constexpr const char* kBase = "https://api.stripe.test";
constexpr const char* kKey = "sk_test_51SecretKey";

std::string IntentJson(const std::string& id, const std::string& status) {
  return R"({"id":")" + id + R"(","object":"payment_intent","status":")" + status +
         R"(","amount":25000,"amount_capturable":25000,"currency":"usd","client_secret":")" + id +
         R"(_secret_s3cr3t","latest_charge":{"id":"ch_1","payment_method_details":{"card":)"
         R"({"capture_before":1767916755}}},"metadata":{"chitty_id":"CHITTY-AUTH-1"}})";
}

// A client over a ScriptedTransport with a fake clock that only moves when it sleeps.
struct Fixture {
  ScriptedTransport transport;
  std::vector<milliseconds> sleeps;
  std::chrono::steady_clock::time_point clock{};
  StripeClient client{transport, Config()};

  StripeClientConfig Config(int max_retries = 2) {
    StripeClientConfig config;
    config.api_base = kBase;
    config.secret_key = kKey;
    config.timeout_ms = 7000;
    config.max_retries = max_retries;
    config.sleep = [this](milliseconds d) {
      sleeps.push_back(d);
      clock += d;
    };
    config.jitter = [] { return 1.0; };  // no jitter: sleeps are the base delays
    config.now = [this] { return clock; };
    return config;
  }
  const httpclient::HttpRequest& Sent(size_t i) {
    BOOST_REQUIRE_GT(transport.requests().size(), i);
    return transport.requests()[i];
  }
};

void CheckCommonHeaders(const httpclient::HttpRequest& r) {
  BOOST_TEST(RequestHeader(r, "Authorization") == std::string("Bearer ") + kKey);
  BOOST_TEST(RequestHeader(r, "Stripe-Version") == "2026-10-28.endive");
  BOOST_TEST(r.timeout_ms == 7000);
}

void CheckPost(const httpclient::HttpRequest& r, const std::string& path, const std::string& key,
               const std::string& body) {
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.url == kBase + path);
  CheckCommonHeaders(r);
  BOOST_TEST(RequestHeader(r, "Content-Type") == "application/x-www-form-urlencoded");
  BOOST_TEST(RequestHeader(r, "Idempotency-Key") == key);
  BOOST_TEST(r.body == body);
}

void CheckGet(const httpclient::HttpRequest& r, const std::string& path_and_query) {
  BOOST_TEST(r.method == "GET");
  BOOST_TEST(r.url == kBase + path_and_query);
  CheckCommonHeaders(r);
  BOOST_TEST(RequestHeader(r, "Idempotency-Key").empty());
  BOOST_TEST(RequestHeader(r, "Content-Type").empty());
  BOOST_TEST(r.body.empty());
}

// Requires `result` to hold an error (so reading it is defined), then checks that error.
template <typename R>
void CheckError(const R& result, int status, const std::string& code) {
  REQUIRE_ERROR(result);
  const Error& e = result.error();
  BOOST_TEST(HttpStatus(e.kind) == status);
  BOOST_TEST(e.code == code);
  BOOST_TEST(e.message.find(kKey) == std::string::npos);
  BOOST_TEST(e.message.find("secret") == std::string::npos);
}

CreateParams HoldParams() {
  CreateParams p;
  p.amount = 25000;
  p.currency = "usd";
  p.description = "Hold for booking 000123 & tax";
  p.receipt_email = "guest+1@example.com";
  p.payment_method = "pm_card_visa";
  p.metadata = {{"property_id", "123"}, {"chitty_id", "CHITTY-AUTH-1"}};
  return p;
}

BOOST_FIXTURE_TEST_SUITE(stripe_stripe_client, Fixture)

BOOST_AUTO_TEST_CASE(create_sends_a_confirmed_manual_capture_card_intent) {
  transport.Respond(200, IntentJson("pi_1", "requires_capture"));
  const Result<PaymentIntent> pi = client.Create(HoldParams(), "hold:b1:1");
  REQUIRE_OK(pi);
  BOOST_TEST(pi->id == "pi_1");
  BOOST_TEST(pi->capture_before.value_or(0) == 1767916755);
  BOOST_TEST(pi->client_secret == "pi_1_secret_s3cr3t");
  CheckPost(Sent(0), "/v1/payment_intents", "hold:b1:1",
            "amount=25000&currency=usd&capture_method=manual"
            "&description=Hold%20for%20booking%20000123%20%26%20tax"
            "&receipt_email=guest%2B1%40example.com"
            "&metadata[chitty_id]=CHITTY-AUTH-1&metadata[property_id]=123"
            "&payment_method_types[0]=card&expand[0]=latest_charge"
            "&payment_method=pm_card_visa&confirm=true");
}

BOOST_AUTO_TEST_CASE(create_without_payment_method_does_not_confirm) {
  transport.Respond(200, IntentJson("pi_1", "requires_payment_method"));
  CreateParams p = HoldParams();
  p.payment_method.clear();
  p.receipt_email.clear();
  p.metadata.clear();
  const auto result = client.Create(p, "k");
  REQUIRE_OK(result);
  BOOST_TEST(Sent(0).body ==
             "amount=25000&currency=usd&capture_method=manual"
             "&description=Hold%20for%20booking%20000123%20%26%20tax"
             "&payment_method_types[0]=card&expand[0]=latest_charge");
}

BOOST_AUTO_TEST_CASE(create_saves_the_card_or_uses_it_off_session) {
  transport.Respond(200, IntentJson("pi_1", "requires_payment_method"));
  transport.Respond(200, IntentJson("pi_2", "requires_capture"));
  CreateParams first = HoldParams();
  first.payment_method.clear();
  first.receipt_email.clear();
  first.metadata.clear();
  first.customer = "cus_1";
  first.setup_future_usage = "off_session";
  REQUIRE_OK(client.Create(first, "k1"));
  BOOST_TEST(Sent(0).body ==
             "amount=25000&currency=usd&capture_method=manual"
             "&description=Hold%20for%20booking%20000123%20%26%20tax"
             "&customer=cus_1&setup_future_usage=off_session"
             "&payment_method_types[0]=card&expand[0]=latest_charge");
  CreateParams again = first;
  again.setup_future_usage.clear();
  again.payment_method = "pm_1";
  again.off_session = true;
  REQUIRE_OK(client.Create(again, "k2"));
  BOOST_TEST(Sent(1).body ==
             "amount=25000&currency=usd&capture_method=manual"
             "&description=Hold%20for%20booking%20000123%20%26%20tax"
             "&customer=cus_1&payment_method_types[0]=card&expand[0]=latest_charge"
             "&payment_method=pm_1&confirm=true&off_session=true");
}

BOOST_AUTO_TEST_CASE(customers_and_setup_intents) {
  transport.Respond(200, R"({"id":"cus_1","object":"customer","email":"g@example.com"})");
  auto customer = client.CreateCustomer({"g@example.com", {{"client", "main"}}}, "kc");
  REQUIRE_OK(customer);
  BOOST_TEST(customer->id == "cus_1");
  CheckPost(Sent(0), "/v1/customers", "kc", "email=g%40example.com&metadata[client]=main");
  transport.Respond(200,
                    R"({"id":"seti_1","object":"setup_intent","status":"requires_payment_method",)"
                    R"("client_secret":"seti_1_secret_x","description":"Stay","created":5,)"
                    R"("customer":{"id":"cus_1","object":"customer","email":"g@example.com"},)"
                    R"("payment_method":null,"metadata":{"client":"main"}})");
  auto setup = client.CreateSetupIntent({"cus_1", "Stay", {{"client", "main"}}}, "ks");
  REQUIRE_OK(setup);
  BOOST_TEST(setup->id == "seti_1");
  BOOST_TEST(setup->customer == "cus_1");
  BOOST_TEST(setup->customer_email == "g@example.com");
  BOOST_TEST(setup->client_secret == "seti_1_secret_x");
  BOOST_TEST(setup->payment_method.empty());
  BOOST_TEST(setup->metadata.at("client") == "main");
  CheckPost(Sent(1), "/v1/setup_intents", "ks",
            "customer=cus_1&usage=off_session&description=Stay&metadata[client]=main"
            "&payment_method_types[0]=card&expand[0]=customer");
  transport.Respond(200, R"({"id":"seti_1","object":"setup_intent","status":"succeeded",)"
                         R"("customer":"cus_1","payment_method":"pm_9"})");
  auto read = client.RetrieveSetupIntent("seti_1");
  REQUIRE_OK(read);
  BOOST_TEST(read->status == "succeeded");
  BOOST_TEST(read->payment_method == "pm_9");
  CheckGet(Sent(2), "/v1/setup_intents/seti_1?expand[]=customer");
  CheckError(client.RetrieveSetupIntent("pi_1"), 404, "not_found");
  BOOST_TEST(transport.requests().size() == 3U);
}

BOOST_AUTO_TEST_CASE(declined_create_is_402_with_the_intent_id) {
  transport.Respond(402, R"({"error":{"type":"card_error","code":"card_declined",)"
                         R"("message":"Your card was declined.","payment_intent":)" +
                             IntentJson("pi_declined", "requires_payment_method") + "}}");
  const Result<PaymentIntent> pi = client.Create(HoldParams(), "k");
  CheckError(pi, 402, "card_declined");
  BOOST_TEST(pi.error().id == "pi_declined");
  BOOST_TEST(transport.requests().size() == 1U);
}

BOOST_AUTO_TEST_CASE(retrieve_expands_the_latest_charge) {
  transport.Respond(200, IntentJson("pi_3Qc_x9", "requires_capture"));
  const auto result = client.Retrieve("pi_3Qc_x9");
  REQUIRE_OK(result);
  CheckGet(Sent(0), "/v1/payment_intents/pi_3Qc_x9?expand[]=latest_charge");
}

BOOST_AUTO_TEST_CASE(malformed_ids_are_not_found_without_calling_stripe) {
  const std::vector<std::string> ids = {
      "",         "pi_",    "ch_1",    "pi_1/../../v1/charges",
      "pi_1?x=1", "pi_a b", "pi_1%2F", "pi_" + std::string(300, 'a')};
  for (const std::string& id : ids) {
    BOOST_TEST_CONTEXT(id) {
      CheckError(client.Retrieve(id), 404, "not_found");
      CheckError(client.Capture(id, {}, "k"), 404, "not_found");
      CheckError(client.Cancel(id, {}, "k"), 404, "not_found");
      CheckError(client.UpdateMetadata(id, {}, "k"), 404, "not_found");
    }
  }
  BOOST_TEST(transport.requests().empty());
}

BOOST_AUTO_TEST_CASE(update_metadata_posts_to_the_intent) {
  transport.Respond(200, IntentJson("pi_1", "requires_capture"));
  const auto result =
      client.UpdateMetadata("pi_1", {{"chitty_id", "CHITTY-AUTH-2"}}, "meta:pi_1:2");
  REQUIRE_OK(result);
  CheckPost(Sent(0), "/v1/payment_intents/pi_1", "meta:pi_1:2",
            "metadata[chitty_id]=CHITTY-AUTH-2&expand[0]=latest_charge");
}

BOOST_AUTO_TEST_CASE(capture_sends_amount_and_metadata) {
  transport.Respond(200, IntentJson("pi_1", "succeeded"))
      .Respond(200, IntentJson("pi_2", "succeeded"));
  CaptureParams p;
  p.amount_to_capture = 20000;
  p.metadata = {{"capture_reason", "damage deposit"}};
  const auto result = client.Capture("pi_1", p, "capture:pi_1");
  REQUIRE_OK(result);
  CheckPost(Sent(0), "/v1/payment_intents/pi_1/capture", "capture:pi_1",
            "amount_to_capture=20000&metadata[capture_reason]=damage%20deposit"
            "&expand[0]=latest_charge");
  const auto result2 = client.Capture("pi_2", {}, "capture:pi_2");
  REQUIRE_OK(result2);
  BOOST_TEST(Sent(1).body == "expand[0]=latest_charge");
}

BOOST_AUTO_TEST_CASE(cancel_sends_the_reason_when_given) {
  transport.Respond(200, IntentJson("pi_1", "canceled"))
      .Respond(200, IntentJson("pi_1", "canceled"));
  const auto result = client.Cancel("pi_1", {"requested_by_customer"}, "cancel:pi_1");
  REQUIRE_OK(result);
  CheckPost(Sent(0), "/v1/payment_intents/pi_1/cancel", "cancel:pi_1",
            "cancellation_reason=requested_by_customer&expand[0]=latest_charge");
  const auto result2 = client.Cancel("pi_1", {}, "cancel:pi_1:b");
  REQUIRE_OK(result2);
  BOOST_TEST(Sent(1).body == "expand[0]=latest_charge");
}

BOOST_AUTO_TEST_CASE(search_percent_encodes_the_query) {
  transport.Respond(200, R"({"object":"search_result","data":[)" +
                             IntentJson("pi_1", "requires_capture") +
                             R"(],"has_more":true,"next_page":"WzE="})");
  const Result<SearchPage> page =
      client.Search("metadata['property_id']:'12 3' AND status:'requires_capture'", 20, "WzA=");
  REQUIRE_OK(page);
  BOOST_TEST(page->data.size() == 1U);
  BOOST_TEST(page->next_page == "WzE=");
  CheckGet(Sent(0),
           "/v1/payment_intents/search?query=metadata%5B%27property_id%27%5D%3A%2712%203%27"
           "%20AND%20status%3A%27requires_capture%27&limit=20&page=WzA%3D"
           "&expand[]=data.latest_charge");
}

BOOST_AUTO_TEST_CASE(search_clamps_the_limit_and_omits_an_empty_page) {
  transport.Respond(200, R"({"data":[],"has_more":false})");
  const auto result = client.Search("status:'canceled'", 1000, "");
  REQUIRE_OK(result);
  CheckGet(Sent(0),
           "/v1/payment_intents/search?query=status%3A%27canceled%27&limit=100"
           "&expand[]=data.latest_charge");
}

BOOST_AUTO_TEST_CASE(ping_is_one_cheap_authenticated_get) {
  transport.Respond(200, R"({"object":"list","data":[]})").Respond(500, "");
  const Status result = client.Ping();
  REQUIRE_OK(result);
  CheckGet(Sent(0), "/v1/payment_intents?limit=1");
  CheckError(client.Ping(), 502, "upstream_error");
  BOOST_TEST(transport.requests().size() == 2U);  // no retry
  BOOST_TEST(sleeps.empty());
}

BOOST_AUTO_TEST_CASE(a_500_then_200_is_retried_with_the_same_key) {
  transport.Respond(500, R"({"error":{"type":"api_error"}})")
      .Respond(200, IntentJson("pi_1", "requires_capture"));
  const Result<PaymentIntent> pi = client.Create(HoldParams(), "hold:b1:1");
  REQUIRE_OK(pi);
  BOOST_TEST(transport.requests().size() == 2U);
  BOOST_TEST(RequestHeader(Sent(1), "Idempotency-Key") == "hold:b1:1");
  BOOST_TEST(Sent(1).body == Sent(0).body);
  BOOST_TEST(sleeps == std::vector<milliseconds>{milliseconds(500)});
}

BOOST_AUTO_TEST_CASE(transient_answers_are_retried) {
  transport.FailWith(ErrorKind::kUnavailable, "connection reset")
      .Respond(409, R"({"error":{"code":"idempotency_key_in_use"}})")
      .Respond(200, IntentJson("pi_1", "succeeded"));
  const auto result = client.Capture("pi_1", {}, "k");
  REQUIRE_OK(result);
  BOOST_TEST(transport.requests().size() == 3U);
  BOOST_TEST((sleeps == std::vector<milliseconds>{milliseconds(500), milliseconds(1000)}));
  transport.Respond(429, "").Respond(200, IntentJson("pi_1", "succeeded"));
  const auto result2 = client.Retrieve("pi_1");
  REQUIRE_OK(result2);
}

BOOST_AUTO_TEST_CASE(stripe_should_retry_false_stops_retries) {
  transport.Respond(500, "", {{"stripe-should-retry", "false"}});
  CheckError(client.Capture("pi_1", {}, "k"), 502, "upstream_error");
  BOOST_TEST(transport.requests().size() == 1U);
  BOOST_TEST(sleeps.empty());
}

BOOST_AUTO_TEST_CASE(stripe_should_retry_true_retries_even_a_400) {
  transport
      .Respond(400, R"({"error":{"type":"invalid_request_error","code":"lock_timeout"}})",
               {{"stripe-should-retry", "true"}})
      .Respond(200, IntentJson("pi_1", "succeeded"));
  const auto result = client.Capture("pi_1", {}, "k");
  REQUIRE_OK(result);
  BOOST_TEST(transport.requests().size() == 2U);
}

BOOST_AUTO_TEST_CASE(a_400_is_not_retried_and_unexpected_state_is_409) {
  transport.Respond(400, R"({"error":{"type":"invalid_request_error",)"
                         R"("code":"payment_intent_unexpected_state","message":"status canceled",)"
                         R"("payment_intent":{"id":"pi_1"}}})");
  const Result<PaymentIntent> pi = client.Capture("pi_1", {}, "k");
  CheckError(pi, 409, "hold_not_capturable");
  BOOST_TEST(pi.error().id == "pi_1");
  BOOST_TEST(transport.requests().size() == 1U);
}

BOOST_AUTO_TEST_CASE(retries_stop_after_max_retries) {
  transport.Respond(503, "").Respond(503, "").Respond(503, "").Respond(200, "{}");
  CheckError(client.Retrieve("pi_1"), 502, "upstream_error");
  BOOST_TEST(transport.requests().size() == 3U);  // 1 + max_retries
}

BOOST_AUTO_TEST_CASE(retries_stop_when_the_time_budget_would_be_exceeded) {
  StripeClient patient(transport, Config(10));
  for (int i = 0; i < 10; ++i) transport.Respond(500, "");
  CheckError(patient.Capture("pi_1", {}, "k"), 502, "upstream_error");
  // 0.5 + 1 + 2 + 4 = 7.5 s slept; the next 5 s would pass the 8 s budget.
  BOOST_TEST(transport.requests().size() == 5U);
  BOOST_TEST(sleeps.size() == 4U);
}

BOOST_AUTO_TEST_CASE(time_spent_waiting_for_answers_counts_against_the_budget) {
  StripeClientConfig config = Config(10);
  config.now = [this] {  // every attempt seems to take 7.8 s
    const auto t = clock;
    clock += milliseconds(7800);
    return t;
  };
  StripeClient slow(transport, config);
  transport.Respond(500, "").Respond(200, IntentJson("pi_1", "succeeded"));
  CheckError(slow.Retrieve("pi_1"), 502, "upstream_error");
  BOOST_TEST(transport.requests().size() == 1U);
  BOOST_TEST(sleeps.empty());
}

BOOST_AUTO_TEST_CASE(connection_failures_end_as_502) {
  transport.FailWith(ErrorKind::kUnavailable, "Couldn't connect to server")
      .FailWith(ErrorKind::kUnavailable, "Couldn't connect to server")
      .FailWith(ErrorKind::kUnavailable, "Couldn't connect to server");
  const Result<PaymentIntent> pi = client.Retrieve("pi_1");
  CheckError(pi, 502, "upstream_error");
  BOOST_TEST(pi.error().message.find("Could not reach Stripe") != std::string::npos);
  BOOST_TEST(transport.requests().size() == 3U);
}

BOOST_AUTO_TEST_CASE(a_timeout_is_504_without_retry) {
  transport.FailWith(ErrorKind::kDeadlineExceeded, "Operation timed out");
  const Result<PaymentIntent> pi = client.Create(HoldParams(), "k");
  CheckError(pi, 504, "upstream_timeout");
  BOOST_TEST(pi.error().message == "Stripe did not answer within 7000 ms.");
  BOOST_TEST(transport.requests().size() == 1U);
  BOOST_TEST(sleeps.empty());
}

BOOST_AUTO_TEST_CASE(a_tls_failure_is_502_without_retry) {
  transport.FailWith(ErrorKind::kUpstream, "SSL certificate problem");
  CheckError(client.Retrieve("pi_1"), 502, "upstream_error");
  BOOST_TEST(transport.requests().size() == 1U);
}

BOOST_AUTO_TEST_CASE(an_unreadable_200_is_502) {
  transport.Respond(200, "<html>maintenance</html>");
  CheckError(client.Retrieve("pi_1"), 502, "upstream_error");
}

BOOST_AUTO_TEST_CASE(a_bad_api_key_is_502_without_the_key) {
  transport.Respond(401, R"({"error":{"type":"invalid_request_error",)"
                         R"("message":"Invalid API Key provided: sk_test_****eKey"}})");
  const Result<PaymentIntent> pi = client.Retrieve("pi_1");
  CheckError(pi, 502, "upstream_error");
  BOOST_TEST(pi.error().message.find("sk_") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(trailing_slash_in_api_base_is_ignored) {
  StripeClientConfig config = Config();
  config.api_base = std::string(kBase) + "/";
  StripeClient slashed(transport, config);
  transport.Respond(200, IntentJson("pi_1", "succeeded"));
  const auto result = slashed.Retrieve("pi_1");
  REQUIRE_OK(result);
  BOOST_TEST(Sent(0).url == std::string(kBase) + "/v1/payment_intents/pi_1?expand[]=latest_charge");
}

BOOST_AUTO_TEST_CASE(upload_file_posts_multipart_parts_to_the_files_host) {
  StripeClientConfig config = Config();
  config.files_base = "https://files.stripe.test/";
  StripeClient files_client(transport, config);
  transport.Respond(200, R"({"id":"file_1","object":"file","purpose":"dispute_evidence",)"
                         R"("size":4,"type":"png","filename":"a.png","created":1767916755})");
  const std::string bytes("\x89PNG", 4);
  const Result<File> file =
      files_client.UploadFile(FileUpload{"a.png", "image/png", bytes}, "evidence:k1");
  REQUIRE_OK(file);
  BOOST_TEST(file->id == "file_1");
  BOOST_TEST(file->size == 4);
  BOOST_TEST(file->type == "png");
  const auto& r = Sent(0);
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.url == "https://files.stripe.test/v1/files");
  CheckCommonHeaders(r);
  BOOST_TEST(RequestHeader(r, "Idempotency-Key") == "evidence:k1");
  BOOST_TEST(RequestHeader(r, "Content-Type").empty());  // the transport's (with its boundary)
  BOOST_TEST(r.body.empty());
  BOOST_REQUIRE_EQUAL(r.form.size(), 2U);
  BOOST_TEST(r.form[0].name == "purpose");
  BOOST_TEST(r.form[0].data == "dispute_evidence");
  BOOST_TEST(r.form[0].filename.empty());
  BOOST_TEST(r.form[1].name == "file");
  BOOST_TEST(r.form[1].data == bytes);
  BOOST_TEST(r.form[1].filename == "a.png");
  BOOST_TEST(r.form[1].content_type == "image/png");
}

BOOST_AUTO_TEST_CASE(upload_file_maps_a_refused_file_to_400_file_and_5xx_to_502) {
  transport.Respond(400, R"({"error":{"type":"invalid_request_error","param":"file",)"
                         R"("message":"The file you uploaded was too long."}})");
  auto refused = client.UploadFile(FileUpload{"a.pdf", "application/pdf", "%PDF-"}, "k2");
  CheckError(refused, 400, "invalid_request");
  BOOST_TEST(refused.error().param == "file");
  for (int i = 0; i < 3; ++i) transport.Respond(500, R"({"error":{"type":"api_error"}})");
  auto down = client.UploadFile(FileUpload{"a.pdf", "application/pdf", "%PDF-"}, "k3");
  CheckError(down, 502, "upstream_error");
  BOOST_TEST(transport.requests().size() == 4U);  // 1 + 3 attempts, the same key
  BOOST_TEST(RequestHeader(Sent(3), "Idempotency-Key") == "k3");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::stripe
