#include "core/utf8.h"

#include <boost/test/unit_test.hpp>

namespace cc {

BOOST_AUTO_TEST_SUITE(core_utf8)

BOOST_AUTO_TEST_CASE(counts_code_points_not_bytes) {
  BOOST_TEST(Utf8Length("") == 0U);
  BOOST_TEST(Utf8Length("abc") == 3U);
  BOOST_TEST(Utf8Length("Zürich") == 6U);                     // ü is 2 bytes
  BOOST_TEST(Utf8Length("€") == 1U);                          // 3 bytes
  BOOST_TEST(Utf8Length("🏨") == 1U);                          // 4 bytes
  BOOST_TEST(Utf8Length(std::string_view("a\0b", 3)) == 3U);  // NUL is a character
  static_assert(Utf8Length("日本") == 2);
}

BOOST_AUTO_TEST_CASE(stray_continuation_bytes_are_not_counted) {
  BOOST_TEST(Utf8Length("\x80\x80") == 0U);
  BOOST_TEST(Utf8Length("a\xBF") == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc
