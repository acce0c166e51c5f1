// Tests for store/faulty_store.h.
#include "store/faulty_store.h"

#include "store/in_memory_store.h"
#include "test_util.h"

namespace cc::store {
namespace {

// Requires `result` to hold an error (so reading it is defined) and checks its kind.
template <typename R>
void CheckUnavailable(const R& result) {
  REQUIRE_ERROR(result);
  BOOST_TEST((result.error().kind == ErrorKind::kUnavailable));
  BOOST_TEST(result.error().message.rfind("memcached unavailable", 0) == 0U);
}

BOOST_AUTO_TEST_SUITE(store_faulty_store)

BOOST_AUTO_TEST_CASE(forwards_to_the_wrapped_store_while_healthy) {
  InMemoryStore inner;
  FaultyStore store(inner);
  REQUIRE_OK(store.Set("k", "v", 0));
  BOOST_TEST(inner.Get("k")->value() == "v");
  BOOST_TEST(*store.Add("k", "w", 0) == false);
  BOOST_TEST(*store.Incr("c", 1, 1, 0) == 1U);
  REQUIRE_OK(store.Delete("k"));
  REQUIRE_OK(store.Ping());
  BOOST_TEST(store.calls() == 5U);
}

BOOST_AUTO_TEST_CASE(every_call_fails_unavailable_when_switched_on) {
  InMemoryStore inner;
  REQUIRE_OK(inner.Set("k", "v", 0));
  FaultyStore store(inner);
  store.SetFailing(true);
  CheckUnavailable(store.Get("k"));
  CheckUnavailable(store.Set("k", "x", 0));
  CheckUnavailable(store.Add("n", "x", 0));
  CheckUnavailable(store.Incr("c", 1, 1, 0));
  CheckUnavailable(store.Delete("k"));
  CheckUnavailable(store.Ping());
  BOOST_TEST(inner.Get("k")->value() == "v");  // untouched
  BOOST_TEST(inner.Size() == 1U);
}

BOOST_AUTO_TEST_CASE(switching_back_restores_the_contents) {
  InMemoryStore inner;
  FaultyStore store(inner);
  REQUIRE_OK(store.Set("k", "v", 0));
  store.SetFailing(true);
  BOOST_TEST(store.failing());
  store.SetFailing(false);
  BOOST_TEST(store.Get("k")->value() == "v");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::store
