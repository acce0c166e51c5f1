// Helpers shared by the unit tests.
#pragma once

#include <boost/test/unit_test.hpp>

// Fails the test with the Error's code and message when a Result holds an error.
#define REQUIRE_OK(result)                                                             \
  BOOST_REQUIRE_MESSAGE((result).has_value(),                                          \
                        "expected ok, got error " << (result).error().code << ": "     \
                                                  << (result).error().message)
