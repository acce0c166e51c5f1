#include "gateway/rate_limiter.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>

#include "store/faulty_store.h"
#include "store/in_memory_store.h"

namespace cc::gateway {
namespace {

config::ClientToken Client(int64_t per_minute) {
  config::ClientToken client;
  client.name = "alpha";
  client.token = "tok";
  client.rate_per_minute = per_minute;
  return client;
}

constexpr int64_t kWindowStart = 1800000000 / 60 * 60;  // a window's first second

struct Fixture {
  int64_t now = kWindowStart;
  store::InMemoryStore memory{[this] { return now; }};
  store::FaultyStore store{memory};  // counts the calls
};

// Requests admitted out of `attempts` made in one second.
int Admitted(RateLimiter& limiter, const config::ClientToken& client, store::KvStore& store,
             int64_t now, int attempts) {
  int admitted = 0;
  for (int i = 0; i < attempts; ++i) admitted += limiter.RetryAfter(client, store, now) ? 0 : 1;
  return admitted;
}

BOOST_FIXTURE_TEST_SUITE(gateway_rate_limiter, Fixture)

BOOST_AUTO_TEST_CASE(lease_is_a_thousandth_of_the_limit_from_1_to_64) {
  BOOST_TEST(RateLimiter::LeaseSize(10) == 1);
  BOOST_TEST(RateLimiter::LeaseSize(1999) == 1);
  BOOST_TEST(RateLimiter::LeaseSize(2000) == 2);
  BOOST_TEST(RateLimiter::LeaseSize(64000) == 64);
  BOOST_TEST(RateLimiter::LeaseSize(1000000000) == 64);
}

BOOST_AUTO_TEST_CASE(a_small_limit_is_counted_request_by_request) {
  RateLimiter limiter;
  const auto client = Client(3);
  BOOST_TEST(Admitted(limiter, client, store, now + 45, 3) == 3);
  BOOST_TEST(store.calls() == 3U);
  const auto refused = limiter.RetryAfter(client, store, now + 45);
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(*refused == 15);  // whole seconds left in the window
  // The counter has reached the limit: later refusals in the window ask memcached no more.
  const uint64_t calls = store.calls();
  BOOST_TEST(Admitted(limiter, client, store, now + 50, 5) == 0);
  BOOST_TEST(store.calls() == calls);
  // The next window starts afresh.
  BOOST_TEST(Admitted(limiter, client, store, now + 60, 3) == 3);
}

BOOST_AUTO_TEST_CASE(a_large_limit_costs_one_incr_per_lease) {
  RateLimiter limiter;
  const auto client = Client(128000);  // lease 64
  BOOST_TEST(Admitted(limiter, client, store, now, 64) == 64);
  BOOST_TEST(store.calls() == 1U);
  BOOST_TEST(Admitted(limiter, client, store, now, 1) == 1);
  BOOST_TEST(store.calls() == 2U);
}

BOOST_AUTO_TEST_CASE(processes_sharing_a_counter_never_admit_more_than_the_limit) {
  const auto client = Client(5000);  // lease 5
  RateLimiter first;
  RateLimiter second;
  int admitted = 0;
  for (int i = 0; i < 3000; ++i) {  // the client alternates between the two processes
    admitted += Admitted(first, client, store, now, 1);
    admitted += Admitted(second, client, store, now, 1);
  }
  BOOST_TEST(admitted <= 5000);
  BOOST_TEST(admitted >= 5000 - 2 * (5 - 1));  // at most a lease per process unused
  // A limit that does not divide into leases: the last lease is cut at the limit.
  RateLimiter third;
  const auto odd = Client(2999);  // lease 2
  BOOST_TEST(Admitted(third, odd, store, now + 60, 4000) == 2999);
}

BOOST_AUTO_TEST_CASE(memcached_down_fails_open) {
  RateLimiter limiter;
  store.SetFailing(true);
  BOOST_TEST(Admitted(limiter, Client(1), store, now, 5) == 5);
  store.SetFailing(false);
  BOOST_TEST(Admitted(limiter, Client(1), store, now, 2) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::gateway
