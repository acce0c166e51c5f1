// Tests for store/memcached_store.h against real memcached processes: the operations,
// TTLs, ketama spreading, and what happens when memcached dies and comes back.
#include "store/memcached_store.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "memcached_process.h"
#include "store/validate.h"
#include "test_util.h"

namespace cc::store {
namespace {

using Clock = std::chrono::steady_clock;
using cc::testing::FreeLoopbackPort;
using cc::testing::MemcachedProcess;
using cc::testing::SilentListener;

std::string Address(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

std::unique_ptr<MemcachedStore> Connect(const std::string& servers) {
  auto store = MemcachedStore::Create(servers);
  REQUIRE_OK(store);
  return std::move(*store);
}

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool IsUnavailable(const Error& e) {
  return e.kind == ErrorKind::kUnavailable && e.message.rfind("memcached unavailable: ", 0) == 0;
}

// Runs `call`, checks it failed kUnavailable, and returns how long it took (ms).
template <typename Call>
double TimedFailure(const char* name, Call call) {
  const auto start = Clock::now();
  auto result = call();
  const double ms = MillisSince(start);
  BOOST_TEST_INFO(name);
  BOOST_REQUIRE(!result);
  BOOST_TEST(IsUnavailable(result.error()), result.error().message);
  BOOST_TEST_MESSAGE(name << " failed in " << ms << " ms: " << result.error().message);
  return ms;
}

// Polls Get until it succeeds; returns the ms it took, or -1 after `limit`.
double MsUntilGetSucceeds(MemcachedStore& store, std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  while (Clock::now() - start < limit) {
    if (store.Get("probe")) return MillisSince(start);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

struct OneServer {
  MemcachedProcess server{FreeLoopbackPort()};
  std::unique_ptr<MemcachedStore> store;
  OneServer() {
    server.Start();
    store = Connect(Address(server.port()));
  }
};

BOOST_AUTO_TEST_SUITE(memcached_store)

BOOST_FIXTURE_TEST_CASE(get_set_add_incr_delete, OneServer) {
  REQUIRE_OK(store->Ping());
  auto miss = store->Get("absent");
  REQUIRE_OK(miss);
  BOOST_TEST(!miss->has_value());

  const std::string binary("a\0b\r\nc", 6);
  REQUIRE_OK(store->Set("k", binary, 0));
  BOOST_TEST(store->Get("k")->value() == binary);
  REQUIRE_OK(store->Set("k", "two", 0));
  BOOST_TEST(store->Get("k")->value() == "two");

  BOOST_TEST(*store->Add("a", "first", 60) == true);
  BOOST_TEST(*store->Add("a", "second", 60) == false);
  BOOST_TEST(store->Get("a")->value() == "first");

  BOOST_TEST(*store->Incr("n", 1, 1, 60) == 1U);
  BOOST_TEST(*store->Incr("n", 1, 1, 60) == 2U);
  BOOST_TEST(*store->Incr("n", 10, 1, 60) == 12U);
  BOOST_TEST(store->Get("n")->value() == "12");

  REQUIRE_OK(store->Delete("k"));
  BOOST_TEST(!store->Get("k")->has_value());
  REQUIRE_OK(store->Delete("k"));  // absent: still ok
}

BOOST_FIXTURE_TEST_CASE(quiet_sets_are_seen_and_a_refused_one_leaves_the_connection_in_step,
                        OneServer) {
  REQUIRE_OK(store->SetQuietly("q", "one", 0));
  BOOST_TEST(store->Get("q")->value() == "one");  // same connection: in order
  auto other = Connect(Address(server.port()));
  BOOST_TEST(other->Get("q")->value() == "one");

  // A server with 64 KiB items refuses a larger one: its error answer to the quiet set
  // comes unasked, and must not be taken for the answer to any later command.
  MemcachedProcess small_items(FreeLoopbackPort(), {"-I", "64k", "-o", "slab_chunk_max=32768"});
  small_items.Start();
  store = Connect(Address(small_items.port()));
  REQUIRE_OK(store->SetQuietly("q", "one", 0));
  const std::string huge(100 * 1024, 'x');
  REQUIRE_OK(store->SetQuietly("huge", huge, 0));
  BOOST_TEST(!store->Get("huge")->has_value());
  BOOST_TEST(*store->Add("fresh", "v", 60) == true);
  BOOST_TEST(*store->Incr("count", 1, 5, 60) == 5U);
  REQUIRE_OK(store->SetQuietly("huge", huge, 0));
  REQUIRE_OK(store->SetQuietly("q", "two", 0));
  BOOST_TEST(store->Get("q")->value() == "two");
  BOOST_TEST(*store->Add("fresh", "w", 60) == false);
}

BOOST_FIXTURE_TEST_CASE(empty_and_large_values_round_trip, OneServer) {
  REQUIRE_OK(store->Set("empty", "", 0));
  auto got = store->Get("empty");
  REQUIRE_OK(got);
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST(got->value().empty());
  const std::string big(512 * 1024, 'x');
  REQUIRE_OK(store->Set("big", big, 0));
  BOOST_TEST(store->Get("big")->value() == big);
}

BOOST_FIXTURE_TEST_CASE(entries_expire_after_their_ttl, OneServer) {
  REQUIRE_OK(store->Set("s", "v", 1));
  REQUIRE_OK(store->Add("a", "v", 1));
  REQUIRE_OK(store->Incr("c", 1, 5, 1));
  REQUIRE_OK(store->Set("forever", "v", 0));
  BOOST_TEST(store->Get("s")->has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // memcached ticks in seconds
  BOOST_TEST(!store->Get("s")->has_value());
  BOOST_TEST(!store->Get("a")->has_value());
  BOOST_TEST(*store->Incr("c", 1, 5, 1) == 5U);  // recreated at initial
  BOOST_TEST(store->Get("forever")->has_value());
}

BOOST_FIXTURE_TEST_CASE(incr_on_a_non_counter_is_an_error_not_a_crash, OneServer) {
  REQUIRE_OK(store->Set("text", "abc", 0));
  auto r = store->Incr("text", 1, 0, 0);
  BOOST_REQUIRE(!r);
  BOOST_TEST_MESSAGE("incr on text: " << r.error().message);
  REQUIRE_OK(store->Ping());  // the connection is still usable
}

BOOST_FIXTURE_TEST_CASE(bad_arguments_never_reach_memcached, OneServer) {
  const std::string long_key(kMaxKeyBytes + 1, 'k');
  for (const std::string& key : {long_key, std::string("sp ace"), std::string("nl\n")}) {
    auto r = store->Get(key);
    BOOST_REQUIRE(!r);
    BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(ErrorKind::kInvalidArgument));
    BOOST_TEST(!store->Set(key, "v", 0));
  }
  REQUIRE_OK(store->Get(std::string(kMaxKeyBytes, 'k')));
  BOOST_TEST(!store->Set("k", "v", kMaxTtlSeconds + 1));
}

BOOST_AUTO_TEST_CASE(create_validates_the_server_list) {
  BOOST_TEST(!MemcachedStore::Create(""));
  BOOST_TEST(!MemcachedStore::Create("localhost"));
  BOOST_TEST(!MemcachedStore::Create("a:1,a:1"));
  BOOST_TEST(!MemcachedStore::Create("127.0.0.1:1", MemcachedOptions{200, 2000, 1}));
  REQUIRE_OK(MemcachedStore::Create("127.0.0.1:1"));  // down at start is not an error
}

BOOST_AUTO_TEST_CASE(nothing_listening_fails_fast) {
  auto store = Connect(Address(FreeLoopbackPort()));
  BOOST_TEST(TimedFailure("Get", [&] { return store->Get("k"); }) < 1000.0);
  BOOST_TEST(TimedFailure("Ping", [&] { return store->Ping(); }) < 1000.0);
}

BOOST_AUTO_TEST_CASE(hung_server_stalls_one_call_then_is_skipped_until_retry) {
  SilentListener silent;
  auto store = Connect(Address(silent.port()));
  const double first = TimedFailure("Get", [&] { return store->Get("k"); });
  BOOST_TEST(first >= 250.0);  // the 300 ms I/O timeout, not a hang
  BOOST_TEST(first < 1000.0);
  BOOST_TEST(TimedFailure("Set", [&] { return store->Set("k", "v", 0); }) < 50.0);
  BOOST_TEST(TimedFailure("Ping", [&] { return store->Ping(); }) < 50.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  BOOST_TEST(TimedFailure("Get after retry", [&] { return store->Get("k"); }) >= 250.0);
}

BOOST_FIXTURE_TEST_CASE(outage_then_recovery_on_the_same_object, OneServer) {
  REQUIRE_OK(store->Set("probe", "before", 0));
  server.Kill();
  BOOST_TEST(TimedFailure("Get", [&] { return store->Get("probe"); }) < 1000.0);
  BOOST_TEST(TimedFailure("Set", [&] { return store->Set("k", "v", 0); }) < 1000.0);
  BOOST_TEST(TimedFailure("Add", [&] { return store->Add("k", "v", 0); }) < 1000.0);
  BOOST_TEST(TimedFailure("Incr", [&] { return store->Incr("n", 1, 1, 0); }) < 1000.0);
  BOOST_TEST(TimedFailure("Delete", [&] { return store->Delete("k"); }) < 1000.0);
  BOOST_TEST(TimedFailure("Ping", [&] { return store->Ping(); }) < 1000.0);

  server.Start();  // same port, empty cache
  const double recovered_ms = MsUntilGetSucceeds(*store, std::chrono::seconds(5));
  BOOST_TEST_MESSAGE("caching resumed " << recovered_ms << " ms after memcached restarted");
  BOOST_REQUIRE_GE(recovered_ms, 0.0);
  BOOST_TEST(recovered_ms < 3000.0);              // retry 1 s, counted in whole seconds: 1–2 s
  BOOST_TEST(!store->Get("probe")->has_value());  // a new, empty memcached
  REQUIRE_OK(store->Set("k", "after", 0));
  BOOST_TEST(store->Get("k")->value() == "after");
  BOOST_TEST(*store->Incr("n", 1, 1, 0) == 1U);
  REQUIRE_OK(store->Ping());
}

// A real outage outlasts libmemcached's server_failure_limit (5 failed reconnects):
// the server must still be retried, not given up on.
BOOST_FIXTURE_TEST_CASE(long_outage_then_recovery, OneServer) {
  server.Kill();
  const auto start = Clock::now();
  int failures = 0;
  while (Clock::now() - start < std::chrono::seconds(7)) {
    const auto call = Clock::now();
    if (!store->Set("k", "v", 0)) ++failures;
    BOOST_REQUIRE_LT(MillisSince(call), 1000.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(failures > 0);
  server.Start();
  const double recovered_ms = MsUntilGetSucceeds(*store, std::chrono::seconds(5));
  BOOST_TEST_MESSAGE("after a 7 s outage, caching resumed " << recovered_ms << " ms after restart");
  BOOST_REQUIRE_GE(recovered_ms, 0.0);
  BOOST_TEST(recovered_ms < 3000.0);
}

// Regression: a worker thread idle while memcached restarted still held the old
// connection; its first call failed (and the request fell back to Stripe) before it
// reconnected. That first call must reconnect and succeed.
BOOST_FIXTURE_TEST_CASE(a_restart_while_idle_costs_no_failed_call, OneServer) {
  REQUIRE_OK(store->Set("k", "before", 0));
  server.Kill();
  server.Start();  // the store made no call meanwhile
  REQUIRE_OK(store->Set("k", "after", 0));
  BOOST_TEST(store->Get("k")->value() == "after");
}

BOOST_FIXTURE_TEST_CASE(ping_notices_a_server_that_died_after_a_good_ping, OneServer) {
  REQUIRE_OK(store->Ping());
  REQUIRE_OK(store->Ping());
  server.Kill();
  BOOST_TEST(TimedFailure("Ping", [&] { return store->Ping(); }) < 1000.0);
}

BOOST_AUTO_TEST_CASE(several_servers_share_keys_and_survive_losing_one) {
  MemcachedProcess a(FreeLoopbackPort());
  MemcachedProcess b(FreeLoopbackPort());
  a.Start();
  b.Start();
  auto both = Connect(Address(a.port()) + "," + Address(b.port()));
  constexpr int kKeys = 200;
  for (int i = 0; i < kKeys; ++i) REQUIRE_OK(both->Set("key" + std::to_string(i), "v", 0));
  auto only_a = Connect(Address(a.port()));
  int on_a = 0;
  for (int i = 0; i < kKeys; ++i) on_a += only_a->Get("key" + std::to_string(i))->has_value();
  BOOST_TEST_MESSAGE("ketama put " << on_a << " of " << kKeys << " keys on server a");
  BOOST_TEST(on_a > kKeys / 5);
  BOOST_TEST(on_a < kKeys * 4 / 5);

  b.Kill();  // keys on a still work; keys on b fail fast
  int hits = 0;
  int failures = 0;
  for (int i = 0; i < kKeys; ++i) {
    auto got = both->Get("key" + std::to_string(i));
    if (got) hits += got->has_value();
    if (!got) ++failures;
  }
  BOOST_TEST(hits == on_a);
  BOOST_TEST(failures == kKeys - on_a);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::store
