#include "stripe/retry.h"

#include <boost/test/unit_test.hpp>

#include "test_util.h"

namespace cc::stripe {
namespace {

BOOST_AUTO_TEST_SUITE(stripe_retry)

BOOST_AUTO_TEST_CASE(backoff_doubles_from_half_a_second_up_to_five) {
  BOOST_TEST(BackoffDelay(1, 1.0).count() == 500);
  BOOST_TEST(BackoffDelay(2, 1.0).count() == 1000);
  BOOST_TEST(BackoffDelay(3, 1.0).count() == 2000);
  BOOST_TEST(BackoffDelay(4, 1.0).count() == 4000);
  BOOST_TEST(BackoffDelay(5, 1.0).count() == 5000);
  BOOST_TEST(BackoffDelay(60, 1.0).count() == 5000);
}

BOOST_AUTO_TEST_CASE(jitter_scales_between_half_and_full_never_below_half_a_second) {
  BOOST_TEST(BackoffDelay(1, 0.0).count() == 500);
  BOOST_TEST(BackoffDelay(2, 0.0).count() == 500);
  BOOST_TEST(BackoffDelay(3, 0.5).count() == 1500);
  BOOST_TEST(BackoffDelay(5, 0.0).count() == 2500);
  BOOST_TEST(BackoffDelay(5, -3.0).count() == 2500);
  BOOST_TEST(BackoffDelay(5, 7.0).count() == 5000);
}

BOOST_AUTO_TEST_CASE(should_retry_follows_stripe_node) {
  auto answer = [](long status, httpclient::Headers headers = {}) {  // NOLINT(google-runtime-int)
    httpclient::HttpResponse r;
    r.status = status;
    r.headers = std::move(headers);
    return Result<httpclient::HttpResponse>(r);
  };
  BOOST_TEST(ShouldRetry(answer(500)));
  BOOST_TEST(ShouldRetry(answer(503)));
  BOOST_TEST(ShouldRetry(answer(409)));
  BOOST_TEST(ShouldRetry(answer(429)));
  BOOST_TEST(!ShouldRetry(answer(400)));
  BOOST_TEST(!ShouldRetry(answer(402)));
  BOOST_TEST(!ShouldRetry(answer(404)));
  BOOST_TEST(!ShouldRetry(answer(500, {{"stripe-should-retry", "false"}})));
  BOOST_TEST(ShouldRetry(answer(400, {{"stripe-should-retry", "true"}})));
  BOOST_TEST(ShouldRetry(Fail(ErrorKind::kUnavailable, "x", "reset")));
  BOOST_TEST(!ShouldRetry(Fail(ErrorKind::kDeadlineExceeded, "x", "timeout")));
  BOOST_TEST(!ShouldRetry(Fail(ErrorKind::kUpstream, "x", "tls")));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::stripe
