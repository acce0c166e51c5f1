#include <boost/test/unit_test.hpp>

#include "core/json.h"

namespace cc::json {

BOOST_AUTO_TEST_SUITE(core_json_text)

BOOST_AUTO_TEST_CASE(an_object_text_is_one_well_formed_object) {
  BOOST_TEST(IsObjectText("{}"));
  BOOST_TEST(IsObjectText(R"({"a":[1,{"b":null}],"c":"Zürich"})"));
  BOOST_TEST(IsObjectText(" {\"a\":1}\n"));
  for (const char* bad : {"", "null", "[1]", "\"s\"", "1", "{", "{}}", "{} {}", "{\"a\":}",
                          "{\"a\":1,}", "{'a':1}"}) {
    BOOST_TEST_INFO("text: " << bad);
    BOOST_TEST(!IsObjectText(bad));
  }
}

BOOST_AUTO_TEST_CASE(a_json_text_is_any_one_well_formed_value) {
  for (const char* good : {"null", "[1]", "\"s\"", "1.5", "{}", "true"}) {
    BOOST_TEST_INFO("text: " << good);
    BOOST_TEST(IsJsonText(good));
  }
  for (const char* bad : {"", "not json", "[1", "1 2", "nul"}) {
    BOOST_TEST_INFO("text: " << bad);
    BOOST_TEST(!IsJsonText(bad));
  }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_refused) {
  BOOST_TEST(!IsObjectText("{\"a\":\"\xC3\x28\"}"));  // a lead byte without its continuation
  BOOST_TEST(!IsJsonText("\"\xFF\""));
  BOOST_TEST(!IsObjectText(std::string_view("{\"a\":\"\0\"}", 9)));  // a raw NUL in a string
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::json
