#include "holds/hold_repository.h"

#include <boost/test/unit_test.hpp>
#include <functional>
#include <string>

#include "fakes/fake_stripe.h"
#include "store/in_memory_store.h"
#include "test_util.h"

namespace cc::holds {
namespace {

// Forwards to a FakeStripe; runs `during_retrieve` while a Retrieve is at Stripe, as a
// concurrent request of another fiber or process would.
class RaceOnRetrieve final : public stripe::StripeApi {
 public:
  explicit RaceOnRetrieve(testing::FakeStripe& real) : real_(real) {}
  std::function<void()> during_retrieve;

  Result<stripe::PaymentIntent> Create(const stripe::CreateParams& p,
                                       const std::string& key) override {
    return real_.Create(p, key);
  }
  Result<stripe::PaymentIntent> Retrieve(const std::string& id) override {
    auto answer = real_.Retrieve(id);
    if (during_retrieve) std::exchange(during_retrieve, nullptr)();
    return answer;
  }
  Result<stripe::PaymentIntent> UpdateMetadata(const std::string& id, const stripe::Metadata& m,
                                               const std::string& key) override {
    return real_.UpdateMetadata(id, m, key);
  }
  Result<stripe::PaymentIntent> Capture(const std::string& id, const stripe::CaptureParams& p,
                                        const std::string& key) override {
    return real_.Capture(id, p, key);
  }
  Result<stripe::PaymentIntent> Cancel(const std::string& id, const stripe::CancelParams& p,
                                       const std::string& key) override {
    return real_.Cancel(id, p, key);
  }
  Result<stripe::SearchPage> Search(const std::string& q, int limit,
                                    const std::string& page) override {
    return real_.Search(q, limit, page);
  }
  Status Ping() override { return real_.Ping(); }

 private:
  testing::FakeStripe& real_;
};

BOOST_AUTO_TEST_SUITE(holds_hold_repository)

// Regression (seen as a flaky test_twenty_parallel_identical_captures_are_one_capture):
// a losing capture re-read the hold (cache: requires_capture, no capture time), and while
// its Stripe read was in flight the winning capture cached succeeded with its capture
// time; the loser then cached succeeded with none, and a terminal hold is never re-read,
// so GET showed captured_at null for good.
BOOST_AUTO_TEST_CASE(a_refresh_keeps_the_capture_time_a_concurrent_capture_cached) {
  testing::FakeStripe fake;
  RaceOnRetrieve stripe(fake);
  store::InMemoryStore store;
  HoldRepository repo(stripe, store);
  stripe::PaymentIntent pi;
  pi.id = "pi_race";
  pi.status = "requires_capture";
  pi.metadata = {{"client", "alpha"}, {"chitty_id", "CHITTY-AUTH-RACE"}};
  fake.intents[pi.id] = pi;
  repo.Save(HoldRecord::FromStripe(pi, std::nullopt, 1000));
  fake.intents[pi.id].status = "succeeded";  // the winner's capture, at Stripe
  stripe.during_retrieve = [&] {             // ... and in the cache, while we read Stripe
    repo.Save(HoldRecord::FromStripe(fake.intents[pi.id], 1001, 1001));
  };
  auto refreshed = repo.Refresh(pi.id, "alpha", 1002);
  REQUIRE_OK(refreshed);
  BOOST_TEST(refreshed->captured_at.value_or(0) == 1001);
  const auto cached = repo.Cached(pi.id);
  BOOST_REQUIRE(cached.has_value());
  BOOST_TEST(cached->pi.status == "succeeded");
  BOOST_TEST(cached->captured_at.value_or(0) == 1001);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::holds
