#include "store/validate.h"

#include <string>

#include "test_util.h"

namespace cc::store {
namespace {

BOOST_AUTO_TEST_SUITE(store_validate)

BOOST_AUTO_TEST_CASE(key_of_exactly_250_printable_bytes_is_accepted) {
  REQUIRE_OK(ValidateKey(std::string(kMaxKeyBytes, '~')));
  REQUIRE_OK(ValidateKey("idem:client-a:5f2b!#$%"));
}

BOOST_AUTO_TEST_CASE(key_errors_are_invalid_argument) {
  auto s = ValidateKey(std::string(251, 'k'));
  REQUIRE_ERROR(s);
  BOOST_TEST(static_cast<int>(s.error().kind) == static_cast<int>(ErrorKind::kInvalidArgument));
  BOOST_TEST(!ValidateKey(std::string("tab\there")));
  BOOST_TEST(!ValidateKey(std::string("del\x7f")));
}

BOOST_AUTO_TEST_CASE(value_and_ttl_limits) {
  REQUIRE_OK(ValidateValue(std::string(kMaxValueBytes, 'v')));
  BOOST_TEST(!ValidateValue(std::string(kMaxValueBytes + 1, 'v')));
  REQUIRE_OK(ValidateTtl(kMaxTtlSeconds));
  BOOST_TEST(!ValidateTtl(kMaxTtlSeconds + 1));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::store
