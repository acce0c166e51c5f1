// Tests for store/faulty_store.h.
#include "store/faulty_store.h"

#include "store/in_memory_store.h"
#include "test_util.h"

namespace cc::store {
namespace {

bool IsUnavailable(const Error& e) { return e.kind == ErrorKind::kUnavailable; }

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
  BOOST_TEST(IsUnavailable(store.Get("k").error()));
  BOOST_TEST(IsUnavailable(store.Set("k", "x", 0).error()));
  BOOST_TEST(IsUnavailable(store.Add("n", "x", 0).error()));
  BOOST_TEST(IsUnavailable(store.Incr("c", 1, 1, 0).error()));
  BOOST_TEST(IsUnavailable(store.Delete("k").error()));
  BOOST_TEST(IsUnavailable(store.Ping().error()));
  BOOST_TEST(store.Get("k").error().message.rfind("memcached unavailable", 0) == 0U);
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
