// Helpers shared by the unit tests.
#pragma once

#include <boost/test/unit_test.hpp>
#include <string>

namespace cc::testing {

template <typename R>
std::string ErrorText(const R& r) {
  return r.has_value() ? std::string() : r.error().code + ": " + r.error().message;
}

}  // namespace cc::testing

// Fails the test with the Error's code and message when a Result holds an error.
// Evaluates its argument exactly once.
#define REQUIRE_OK(expr)                                                                         \
  do {                                                                                           \
    const auto& cc_ok_result_ = (expr);                                                          \
    BOOST_REQUIRE_MESSAGE(cc_ok_result_.has_value(),                                             \
                          "expected ok, got error " << ::cc::testing::ErrorText(cc_ok_result_)); \
  } while (0)

// Fails the test unless a Result holds an error, so the `.error()` read that follows is
// defined. Evaluates its argument exactly once.
#define REQUIRE_ERROR(expr)                                                                 \
  do {                                                                                      \
    const auto& cc_error_result_ = (expr);                                                  \
    BOOST_REQUIRE_MESSAGE(!cc_error_result_.has_value(), "expected an error, got a value"); \
  } while (0)
