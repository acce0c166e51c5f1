// Tests for store/server_list.h (MEMCACHED_SERVERS parsing).
#include "store/server_list.h"

#include "test_util.h"

namespace cc::store {
namespace {

BOOST_AUTO_TEST_SUITE(store_server_list)

BOOST_AUTO_TEST_CASE(single_server) {
  auto list = ParseServerList("127.0.0.1:11211");
  REQUIRE_OK(list);
  BOOST_REQUIRE(list->size() == 1U);
  BOOST_TEST((*list)[0].host == "127.0.0.1");
  BOOST_TEST((*list)[0].port == 11211);
}

BOOST_AUTO_TEST_CASE(several_servers_with_spaces_and_names) {
  auto list = ParseServerList("cache-1.internal:11211, cache-2.internal:11212 ,[::1]:11213");
  REQUIRE_OK(list);
  BOOST_REQUIRE(list->size() == 3U);
  BOOST_TEST((*list)[1].host == "cache-2.internal");
  BOOST_TEST((*list)[1].port == 11212);
  BOOST_TEST((*list)[2].host == "::1");
}

BOOST_AUTO_TEST_CASE(bad_lists_are_invalid_config) {
  for (const char* bad :
       {"", " ", "127.0.0.1", "127.0.0.1:", ":11211", "host:0", "host:65536", "host:11211x",
        "host:-1", "a:1,,b:2", "a:1,", "::1:11211", "ho st:1", "h/st:1", "a:1,a:1", "[zz]:1"}) {
    auto list = ParseServerList(bad);
    BOOST_TEST_INFO("input: '" << bad << "'");
    REQUIRE_ERROR(list);
    BOOST_TEST(list.error().code == "invalid_config");
    BOOST_TEST(static_cast<int>(list.error().kind) ==
               static_cast<int>(ErrorKind::kInvalidArgument));
  }
}

BOOST_AUTO_TEST_CASE(same_host_on_two_ports_is_two_servers) {
  auto list = ParseServerList("a:1,a:2");
  REQUIRE_OK(list);
  BOOST_TEST(list->size() == 2U);
}

BOOST_AUTO_TEST_CASE(more_than_the_cap_is_refused) {
  std::string servers;
  for (size_t i = 0; i <= kMaxServers; ++i) {
    servers += (i == 0 ? "" : ",") + std::string("h:") + std::to_string(i + 1);
  }
  BOOST_TEST(!ParseServerList(servers));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::store
