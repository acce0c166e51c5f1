#include "core/time_util.h"

#include <boost/test/unit_test.hpp>

namespace cc {

BOOST_AUTO_TEST_SUITE(core_time_util)

BOOST_AUTO_TEST_CASE(parses_rfc3339_with_offsets_and_fractions) {
  BOOST_TEST(ParseRfc3339("2026-01-01T00:00:00Z").value_or(0) == 1767225600);
  BOOST_TEST(ParseRfc3339("2026-01-01t00:00:00z").value_or(0) == 1767225600);
  BOOST_TEST(ParseRfc3339("2026-01-01T02:00:00.999+02:00").value_or(0) == 1767225600);
  BOOST_TEST(ParseRfc3339("2025-12-31T19:00:00-05:00").value_or(0) == 1767225600);
  BOOST_TEST(ParseRfc3339("2024-02-29T00:00:00Z").has_value());
  BOOST_TEST(FormatIso8601(*ParseRfc3339("1999-12-31T23:59:59Z")) == "1999-12-31T23:59:59Z");
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_a_time) {
  for (const char* bad :
       {"", "2026-01-01", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00+0200", "2026-01-01T00:00:00Zjunk", "yesterday", "1767225600"}) {
    BOOST_TEST(!ParseRfc3339(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc
