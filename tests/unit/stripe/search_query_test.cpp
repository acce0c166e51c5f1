#include "stripe/search_query.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "test_util.h"

namespace cc::stripe {

BOOST_AUTO_TEST_SUITE(stripe_search_query)

BOOST_AUTO_TEST_CASE(one_metadata_clause) {
  auto q = SearchQuery().Metadata("client", "alpha").Build();
  REQUIRE_OK(q);
  BOOST_TEST(*q == "metadata['client']:'alpha'");
}

BOOST_AUTO_TEST_CASE(clauses_are_joined_with_and_in_order) {
  auto q = SearchQuery()
               .Metadata("client", "alpha")
               .Metadata("property_id", "prop 1")
               .Status("canceled")
               .CreatedAtMost(1760184000)
               .Build();
  REQUIRE_OK(q);
  BOOST_TEST(*q ==
             "metadata['client']:'alpha' AND metadata['property_id']:'prop 1' AND "
             "status:'canceled' AND created<=1760184000");
}

BOOST_AUTO_TEST_CASE(a_quote_in_a_value_is_escaped) {
  auto q = SearchQuery().Metadata("tenant_id", "O'Brien").Build();
  REQUIRE_OK(q);
  BOOST_TEST(*q == R"(metadata['tenant_id']:'O\'Brien')");
}

BOOST_AUTO_TEST_CASE(a_value_cannot_close_its_clause_and_add_one) {
  auto q = SearchQuery()
               .Metadata("client", "alpha")
               .Metadata("property_id", "x' OR status:'succeeded")
               .Build();
  REQUIRE_OK(q);
  BOOST_TEST(*q == R"(metadata['client']:'alpha' AND )"
                   R"(metadata['property_id']:'x\' OR status:\'succeeded')");
}

BOOST_AUTO_TEST_CASE(other_characters_are_kept_as_they_are) {
  const std::string value = "Caf\xC3\xA9 \"Z\" [1] ~ - AND: <>";
  auto q = SearchQuery().Metadata("property_id", value).Build();
  REQUIRE_OK(q);
  BOOST_TEST(*q == "metadata['property_id']:'" + value + "'");
}

BOOST_AUTO_TEST_CASE(refuses_a_backslash_in_a_value) {
  // Stripe documents `\` only as the escape of a quote: a value ending in `\` would escape
  // its own closing quote.
  for (const char* value : {"a\\b", "ends\\", "\\'"}) {
    auto q = SearchQuery().Metadata("property_id", value).Build();
    REQUIRE_ERROR(q);
    BOOST_TEST(q.error().code == "invalid_request");
    BOOST_TEST(HttpStatus(q.error().kind) == 400);
    BOOST_TEST(q.error().message.find("backslash") != std::string::npos);
  }
  auto status = SearchQuery().Status("can\\celed").Build();
  REQUIRE_ERROR(status);
}

BOOST_AUTO_TEST_CASE(refuses_nul_in_a_value) {
  auto q = SearchQuery().Metadata("property_id", std::string("a\0b", 3)).Build();
  REQUIRE_ERROR(q);
  BOOST_TEST(q.error().message.find("NUL") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refuses_metadata_keys_it_cannot_write) {
  for (const std::string& key :
       {std::string(), std::string("a'b"), std::string("a\"b"), std::string("a\\b"),
        std::string("a[b"), std::string("a]b"), std::string("a\0b", 3)}) {
    auto q = SearchQuery().Metadata(key, "v").Build();
    REQUIRE_ERROR(q);
    BOOST_TEST(q.error().code == "invalid_request");
  }
}

BOOST_AUTO_TEST_CASE(the_first_refusal_is_reported) {
  auto q = SearchQuery().Metadata("a", "x\\").Metadata("", "v").Status("ok").Build();
  REQUIRE_ERROR(q);
  BOOST_TEST(q.error().message.find("value") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refuses_an_empty_query) {
  auto q = SearchQuery().Build();
  REQUIRE_ERROR(q);
  BOOST_TEST(q.error().code == "invalid_request");
}

BOOST_AUTO_TEST_CASE(at_most_ten_clauses) {
  SearchQuery ten;
  for (int i = 0; i < kMaxSearchClauses; ++i) ten.Metadata("k" + std::to_string(i), "v");
  REQUIRE_OK(ten.Build());
  SearchQuery eleven = ten;
  eleven.Status("succeeded");
  auto q = eleven.Build();
  REQUIRE_ERROR(q);
  BOOST_TEST(q.error().message.find("10 clauses") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(at_most_5000_characters) {
  // "metadata['k']:'" + value + "'" = 16 characters + the value.
  auto fits = SearchQuery().Metadata("k", std::string(kMaxSearchQueryLength - 16, 'v')).Build();
  REQUIRE_OK(fits);
  BOOST_TEST(fits->size() == kMaxSearchQueryLength);
  auto over = SearchQuery().Metadata("k", std::string(kMaxSearchQueryLength - 15, 'v')).Build();
  REQUIRE_ERROR(over);
  BOOST_TEST(over.error().message.find("5000") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::stripe
