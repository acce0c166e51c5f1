#include "stripe/form.h"

#include <boost/test/unit_test.hpp>

namespace cc::stripe {
namespace {

// STRIPE-FACTS §9: what stripe-node 23.1.0 sends for this create call.
constexpr std::string_view kNodeExample =
    "amount=25000&currency=usd&capture_method=manual&description=Caf%C3%A9%20Z%C3%BCrich%20"
    "%E2%80%93%202%20nights%20%26%20tax%3Dyes&metadata[property_id]=123&metadata[booking%20ref]"
    "=A%2FB%2BC&payment_method_types[0]=card&payment_method_options[card]"
    "[request_extended_authorization]=if_available&payment_method_options[card]"
    "[request_incremental_authorization]=if_available&expand[0]=latest_charge&confirm=true";

constexpr std::string_view kDescription =
    "Caf\xC3\xA9 Z\xC3\xBCrich \xE2\x80\x93 2 nights & tax=yes";

BOOST_AUTO_TEST_SUITE(stripe_form)

BOOST_AUTO_TEST_CASE(form_encode_matches_stripe_node_example_byte_for_byte) {
  const FormFields fields = {
      {"amount", "25000"},
      {"currency", "usd"},
      {"capture_method", "manual"},
      {"description", std::string(kDescription)},
      {"metadata[property_id]", "123"},
      {"metadata[booking ref]", "A/B+C"},
      {"payment_method_types[0]", "card"},
      {"payment_method_options[card][request_extended_authorization]", "if_available"},
      {"payment_method_options[card][request_incremental_authorization]", "if_available"},
      {"expand[0]", "latest_charge"},
      {"confirm", "true"},
  };
  BOOST_TEST(FormEncode(fields) == kNodeExample);
}

BOOST_AUTO_TEST_CASE(builder_matches_stripe_node_example_byte_for_byte) {
  FormBuilder form;
  form.Add("amount", "25000").Add("currency", "usd").Add("capture_method", "manual");
  form.Add("description", kDescription);
  form.AddNested("metadata", "property_id", "123").AddNested("metadata", "booking ref", "A/B+C");
  form.AddArray("payment_method_types", {"card"});
  form.Add("payment_method_options[card][request_extended_authorization]", "if_available");
  form.Add("payment_method_options[card][request_incremental_authorization]", "if_available");
  form.AddArray("expand", {"latest_charge"}).Add("confirm", "true");
  BOOST_TEST(form.str() == kNodeExample);
}

BOOST_AUTO_TEST_CASE(escapes_reserved_characters_in_values) {
  BOOST_TEST(FormEscape("a&b=c+d/e%f") == "a%26b%3Dc%2Bd%2Fe%25f");
  BOOST_TEST(FormEscape("x y?#:@!$'()*,;") == "x%20y%3F%23%3A%40%21%24%27%28%29%2A%2C%3B");
  BOOST_TEST(FormEscape("-._~AZaz09") == "-._~AZaz09");
  BOOST_TEST(FormEscape("[]") == "%5B%5D");
  BOOST_TEST(FormEscape("") == "");
}

BOOST_AUTO_TEST_CASE(escapes_utf8_and_control_bytes_one_by_one) {
  BOOST_TEST(FormEscape("\xE2\x82\xAC") == "%E2%82%AC");         // €
  BOOST_TEST(FormEscape("\xF0\x9F\x8F\xA0") == "%F0%9F%8F%A0");  // 🏠
  BOOST_TEST(FormEscape(std::string_view("\x00\n\x7F", 3)) == "%00%0A%7F");
}

BOOST_AUTO_TEST_CASE(metadata_keys_and_values_cannot_add_structure) {
  FormBuilder form;
  form.AddMetadata({{"a]&amount=1&x[", "v[0]=&"}, {"b", ""}});
  BOOST_TEST(form.str() == "metadata[a%5D%26amount%3D1%26x%5B]=v%5B0%5D%3D%26&metadata[b]=");
}

BOOST_AUTO_TEST_CASE(metadata_is_sent_in_key_order) {
  FormBuilder form;
  form.AddMetadata({{"tier", "NEW_GUEST"}, {"chitty_id", "CHITTY-AUTH-1"}});
  BOOST_TEST(form.str() == "metadata[chitty_id]=CHITTY-AUTH-1&metadata[tier]=NEW_GUEST");
}

BOOST_AUTO_TEST_CASE(arrays_are_indexed_from_zero) {
  FormBuilder form;
  form.AddArray("expand", {"latest_charge", "customer"});
  BOOST_TEST(form.str() == "expand[0]=latest_charge&expand[1]=customer");
}

BOOST_AUTO_TEST_CASE(empty_field_list_encodes_to_empty_string) {
  BOOST_TEST(FormEncode({}).empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::stripe
