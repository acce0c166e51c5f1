#include "claims/claim.h"

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <limits>

#include "test_util.h"

namespace cc::claims {
namespace {

struct BadCase {
  const char* name;
  std::string body;
  const char* code;
  const char* param;
};

std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.name; }

// {"items":[ITEM]} with ITEM's fields given as JSON text.
std::string One(const std::string& item) { return R"({"items":[)" + item + "]}"; }

std::string Item(const std::string& description = R"("Broken lamp")", int64_t amount = 5000,
                 const std::string& category = R"("damage")") {
  return R"({"description":)" + description + R"(,"amount":)" + std::to_string(amount) +
         R"(,"category":)" + category + "}";
}

std::string WithEvidence(const std::string& evidence) {
  return R"({"description":"d","amount":100,"category":"other","evidence":)" + evidence + "}";
}

std::string Items(size_t n, int64_t amount = 100) {
  std::string out = R"({"items":[)";
  for (size_t i = 0; i < n; ++i) out += (i > 0 ? "," : "") + Item(R"("x")", amount);
  return out + "]}";
}

std::string FileIds(size_t n) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) out += (i > 0 ? ",\"file_" : "\"file_") + std::to_string(i) + "\"";
  return out + "]";
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

const BadCase kBad[] = {
    // The body.
    {"not json", "{", "invalid_json", ""},
    {"array body", "[]", "invalid_json", ""},
    {"duplicate key", R"({"items":[],"items":[]})", "invalid_json", ""},
    {"invalid utf8", "{\"items\":[{\"description\":\"\xC3\x28\"}]}", "invalid_json", ""},
    {"unknown top-level field", R"({"items_":[]})", "invalid_request", "items_"},
    // Part 1's fields keep their params.
    {"amount_to_capture 0", R"({"amount_to_capture":0})", "invalid_request", "amount_to_capture"},
    {"amount_to_capture float", R"({"amount_to_capture":1.5})", "invalid_request",
     "amount_to_capture"},
    {"amount_to_capture string", R"({"amount_to_capture":"100"})", "invalid_request",
     "amount_to_capture"},
    {"amount_to_capture null", R"({"amount_to_capture":null})", "invalid_request",
     "amount_to_capture"},
    {"reason number", R"({"reason":5})", "invalid_request", "reason"},
    {"reason 501", R"({"reason":")" + std::string(501, 'r') + "\"}", "invalid_request", "reason"},
    {"reason NUL", R"({"reason":"a\u0000b"})", "invalid_request", "reason"},
    // The items array.
    {"items null", R"({"items":null})", "invalid_request", "items"},
    {"items object", R"({"items":{}})", "invalid_request", "items"},
    {"items string", R"({"items":"damage"})", "invalid_request", "items"},
    {"items empty", R"({"items":[]})", "invalid_request", "items"},
    {"items 51", Items(51), "invalid_request", "items"},
    {"item not an object", R"({"items":[5]})", "invalid_request", "items"},
    {"item unknown field", One(R"({"description":"d","amount":1,"category":"fee","qty":2})"),
     "invalid_request", "items"},
    // description.
    {"description missing", One(R"({"amount":1,"category":"fee"})"), "invalid_request", "items"},
    {"description null", One(Item("null")), "invalid_request", "items"},
    {"description number", One(Item("5")), "invalid_request", "items"},
    {"description empty", One(Item(R"("")")), "invalid_request", "items"},
    {"description 501", One(Item(Quoted(std::string(501, 'd')))), "invalid_request", "items"},
    {"description 501 code points", One(Item(Quoted(std::string(500, 'd') + "é"))),
     "invalid_request", "items"},
    {"description NUL", One(Item(R"("a\u0000b")")), "invalid_request", "items"},
    // amount.
    {"amount missing", One(R"({"description":"d","category":"fee"})"), "invalid_request", "items"},
    {"amount 0", One(Item(R"("d")", 0)), "invalid_request", "items"},
    {"amount negative", One(Item(R"("d")", -100)), "invalid_request", "items"},
    {"amount float", One(R"({"description":"d","amount":12.5,"category":"fee"})"),
     "invalid_request", "items"},
    {"amount exponent", One(R"({"description":"d","amount":1e3,"category":"fee"})"),
     "invalid_request", "items"},
    {"amount string", One(R"({"description":"d","amount":"100","category":"fee"})"),
     "invalid_request", "items"},
    {"amount null", One(R"({"description":"d","amount":null,"category":"fee"})"), "invalid_request",
     "items"},
    {"amount beyond int64",
     One(R"({"description":"d","amount":9223372036854775808,"category":"fee"})"), "invalid_request",
     "items"},
    // category.
    {"category missing", One(R"({"description":"d","amount":1})"), "invalid_request", "items"},
    {"category unknown", One(Item(R"("d")", 1, R"("theft")")), "invalid_request", "items"},
    {"category upper case", One(Item(R"("d")", 1, R"("DAMAGE")")), "invalid_request", "items"},
    {"category number", One(Item(R"("d")", 1, "3")), "invalid_request", "items"},
    // evidence.
    {"evidence string", One(WithEvidence(R"("file_a")")), "invalid_request", "items"},
    {"evidence object", One(WithEvidence("{}")), "invalid_request", "items"},
    {"evidence 11", One(WithEvidence(FileIds(11))), "invalid_request", "items"},
    {"evidence duplicate", One(WithEvidence(R"(["file_a","file_b","file_a"])")), "invalid_request",
     "items"},
    {"evidence not a file id", One(WithEvidence(R"(["pi_123"])")), "invalid_request", "items"},
    {"evidence bare prefix", One(WithEvidence(R"(["file_"])")), "invalid_request", "items"},
    {"evidence with a slash", One(WithEvidence(R"(["file_a/../b"])")), "invalid_request", "items"},
    {"evidence number", One(WithEvidence("[5]")), "invalid_request", "items"},
    {"evidence null id", One(WithEvidence("[null]")), "invalid_request", "items"},
    {"evidence id 256", One(WithEvidence("[\"file_" + std::string(251, 'a') + "\"]")),
     "invalid_request", "items"},
    // amount_to_capture with items.
    {"amount_to_capture differs", R"({"amount_to_capture":5001,"items":[)" + Item() + "]}",
     "invalid_request", "items"},
    // A sum beyond 64 bits exceeds every hold's amount_capturable.
    {"sum overflows",
     R"({"items":[)" + Item(R"("a")", std::numeric_limits<int64_t>::max()) + "," +
         Item(R"("b")", 1) + "]}",
     "capture_exceeds_capturable", "items"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(claims_claim)

BOOST_DATA_TEST_CASE(refuses_bad_capture_bodies, boost::unit_test::data::make(kBad), c) {
  auto r = ParseCaptureRequest(c.body);
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == c.code);
  BOOST_TEST(r.error().param == c.param);
  BOOST_TEST(HttpStatus(r.error().kind) == 400);
}

BOOST_AUTO_TEST_CASE(part_1_bodies_still_parse) {
  auto empty = ParseCaptureRequest("");
  REQUIRE_OK(empty);
  BOOST_TEST(!empty->Amount().has_value());
  BOOST_TEST(!empty->claim.has_value());
  auto partial = ParseCaptureRequest(R"({"amount_to_capture":18000,"reason":"early checkout"})");
  REQUIRE_OK(partial);
  BOOST_TEST(partial->Amount().value_or(0) == 18000);
  BOOST_TEST(partial->reason == "early checkout");
  REQUIRE_OK(ParseCaptureRequest(R"({"reason":null})"));
}

BOOST_AUTO_TEST_CASE(parses_an_itemized_claim) {
  auto r = ParseCaptureRequest(
      R"({"reason":"checkout inspection","items":[
           {"description":"Broken lamp","amount":12000,"category":"damage",
            "evidence":["file_1Lamp","file_2Receipt"]},
           {"description":"Deep clean","amount":5000,"category":"cleaning"},
           {"description":"Towels","amount":2500,"category":"missing_item","evidence":null},
           {"description":"2 h late","amount":1500,"category":"late_checkout","evidence":[]},
           {"description":"Key","amount":1000,"category":"fee"},
           {"description":"Café Zürich 🏨","amount":1,"category":"other"}]})");
  REQUIRE_OK(r);
  BOOST_REQUIRE(r->claim.has_value());
  const Claim& claim = *r->claim;
  BOOST_TEST(claim.total == 22001);
  BOOST_TEST(r->Amount().value_or(0) == 22001);
  BOOST_TEST(r->reason == "checkout inspection");
  BOOST_REQUIRE_EQUAL(claim.items.size(), 6U);
  BOOST_TEST(claim.items[0].description == "Broken lamp");
  BOOST_TEST(claim.items[0].amount == 12000);
  BOOST_TEST((claim.items[0].category == ClaimCategory::kDamage));
  BOOST_TEST((claim.items[0].evidence == std::vector<std::string>{"file_1Lamp", "file_2Receipt"}));
  BOOST_TEST((claim.items[1].category == ClaimCategory::kCleaning));
  BOOST_TEST(claim.items[1].evidence.empty());
  BOOST_TEST((claim.items[2].category == ClaimCategory::kMissingItem));
  BOOST_TEST(claim.items[2].evidence.empty());
  BOOST_TEST((claim.items[3].category == ClaimCategory::kLateCheckout));
  BOOST_TEST((claim.items[4].category == ClaimCategory::kFee));
  BOOST_TEST((claim.items[5].category == ClaimCategory::kOther));
  BOOST_TEST(claim.items[5].description == "Café Zürich 🏨");
}

BOOST_AUTO_TEST_CASE(amount_to_capture_equal_to_the_total_is_accepted) {
  auto r = ParseCaptureRequest(R"({"amount_to_capture":5000,"items":[)" + Item() + "]}");
  REQUIRE_OK(r);
  BOOST_TEST(r->Amount().value_or(0) == 5000);
  auto off_by_one = ParseCaptureRequest(R"({"amount_to_capture":4999,"items":[)" + Item() + "]}");
  REQUIRE_ERROR(off_by_one);
  BOOST_TEST(off_by_one.error().param == "items");
  BOOST_TEST(off_by_one.error().message.find("4999") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(boundaries_of_description_items_and_evidence) {
  REQUIRE_OK(ParseCaptureRequest(One(Item(Quoted(std::string(500, 'd'))))));
  REQUIRE_OK(ParseCaptureRequest(One(Item(Quoted(std::string(499, 'd') + "é")))));  // 501 bytes
  REQUIRE_OK(ParseCaptureRequest(One(Item(R"("d")"))));
  auto fifty = ParseCaptureRequest(Items(50, 100));
  REQUIRE_OK(fifty);
  BOOST_TEST(fifty->claim->items.size() == 50U);
  BOOST_TEST(fifty->claim->total == 5000);
  REQUIRE_OK(ParseCaptureRequest(One(WithEvidence(FileIds(10)))));
  REQUIRE_OK(ParseCaptureRequest(One(WithEvidence("[\"file_" + std::string(250, 'a') + "\"]"))));
  // The same file may support two items.
  REQUIRE_OK(ParseCaptureRequest(R"({"items":[)" + WithEvidence(R"(["file_a"])") + "," +
                                 WithEvidence(R"(["file_a"])") + "]}"));
}

BOOST_AUTO_TEST_CASE(a_sum_up_to_int64_max_is_exact) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  auto r = ParseCaptureRequest(R"({"items":[)" + Item(R"("a")", max - 1) + "," + Item(R"("b")", 1) +
                               "]}");
  REQUIRE_OK(r);
  BOOST_TEST(r->claim->total == max);
}

BOOST_AUTO_TEST_CASE(messages_name_the_item_and_field) {
  auto r = ParseCaptureRequest(R"({"items":[)" + Item() + "," + Item(R"("d")", 0) + "]}");
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().message.starts_with("items[1].amount"), r.error().message);
}

BOOST_AUTO_TEST_CASE(parse_claim_items_takes_the_value_itself) {
  auto doc = json::ParseStrict(R"([{"description":"x","amount":70,"category":"fee"}])");
  REQUIRE_OK(doc);
  auto claim = ParseClaimItems(*doc);
  REQUIRE_OK(claim);
  BOOST_TEST(claim->total == 70);
}

BOOST_AUTO_TEST_CASE(file_ids) {
  BOOST_TEST(ValidFileId("file_1NxAbC_09"));
  BOOST_TEST(ValidFileId("file_" + std::string(250, 'z')));
  BOOST_TEST(!ValidFileId("file_" + std::string(251, 'z')));
  for (const char* bad : {"", "file_", "file", "File_abc", "fil_abc", "file_a-b", "file_a b",
                          "file_é", " file_a", "pi_123"}) {
    BOOST_TEST(!ValidFileId(bad), bad);
  }
}

BOOST_AUTO_TEST_CASE(category_names_round_trip) {
  for (auto c : {ClaimCategory::kDamage, ClaimCategory::kCleaning, ClaimCategory::kMissingItem,
                 ClaimCategory::kLateCheckout, ClaimCategory::kFee, ClaimCategory::kOther}) {
    BOOST_TEST((ParseCategory(CategoryName(c)) == c));
  }
  BOOST_TEST(CategoryName(ClaimCategory::kMissingItem) == "missing_item");
  BOOST_TEST(!ParseCategory("Damage").has_value());
}

// --- CheckClaim / CheckCaptureAmount: the hold's state passed in.

Claim ClaimOf(std::vector<ClaimItem> items) {
  Claim c{std::move(items), 0};
  for (const auto& i : c.items) c.total += i.amount;
  return c;
}

BOOST_AUTO_TEST_CASE(a_claim_within_the_hold_passes) {
  const Claim c = ClaimOf({{"lamp", 12000, ClaimCategory::kDamage, {"file_a"}},
                           {"clean", 5000, ClaimCategory::kCleaning, {}}});
  REQUIRE_OK(CheckClaim(c, 17000, 50, {"file_a", "file_b"}));
  REQUIRE_OK(CheckClaim(c, 25000, 50, {"file_a"}));
}

BOOST_AUTO_TEST_CASE(a_total_above_amount_capturable_is_refused) {
  const Claim c = ClaimOf({{"lamp", 17001, ClaimCategory::kDamage, {}}});
  auto r = CheckClaim(c, 17000, 50, {});
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == "capture_exceeds_capturable");
  BOOST_TEST(r.error().param == "items");
  BOOST_TEST(HttpStatus(r.error().kind) == 400);
}

BOOST_AUTO_TEST_CASE(a_total_under_the_currency_minimum_is_refused) {
  const Claim c = ClaimOf({{"towel", 29, ClaimCategory::kMissingItem, {}}});
  auto r = CheckClaim(c, 25000, 30, {});  // gbp: 30
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == "amount_too_small");
  BOOST_TEST(r.error().param == "items");
  BOOST_TEST(r.error().message.find("release") != std::string::npos);
  REQUIRE_OK(CheckClaim(ClaimOf({{"towel", 30, ClaimCategory::kMissingItem, {}}}), 25000, 30, {}));
}

BOOST_AUTO_TEST_CASE(evidence_of_another_hold_is_refused) {
  const Claim c = ClaimOf({{"lamp", 100, ClaimCategory::kDamage, {"file_mine"}},
                           {"rug", 100, ClaimCategory::kDamage, {"file_mine", "file_theirs"}}});
  auto r = CheckClaim(c, 25000, 50, {"file_mine"});
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == "invalid_request");
  BOOST_TEST(r.error().param == "items");
  BOOST_TEST(r.error().message.find("items[1]") != std::string::npos, r.error().message);
  BOOST_TEST(r.error().message.find("file_theirs") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_CASE(evidence_is_checked_before_amounts) {
  const Claim c = ClaimOf({{"lamp", 10, ClaimCategory::kDamage, {"file_x"}}});
  auto r = CheckClaim(c, 5, 50, {});
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == "invalid_request");
}

BOOST_AUTO_TEST_CASE(capture_amount_checks_name_the_param_given) {
  auto over = CheckCaptureAmount(101, 100, 50, "amount_to_capture");
  REQUIRE_ERROR(over);
  BOOST_TEST(over.error().code == "capture_exceeds_capturable");
  BOOST_TEST(over.error().param == "amount_to_capture");
  auto under = CheckCaptureAmount(49, 100, 50, "amount_to_capture");
  REQUIRE_ERROR(under);
  BOOST_TEST(under.error().code == "amount_too_small");
  REQUIRE_OK(CheckCaptureAmount(50, 50, 50, "amount_to_capture"));
  REQUIRE_OK(CheckCaptureAmount(100, 100, 50, "amount_to_capture"));
}

// --- The two written forms.

BOOST_AUTO_TEST_CASE(renders_the_holds_claim) {
  const Claim c = ClaimOf({{"Broken \"lamp\"", 12000, ClaimCategory::kDamage, {"file_a"}},
                           {"Deep clean", 5000, ClaimCategory::kCleaning, {}}});
  BOOST_TEST(RenderClaim(c, 1767225600) ==
             R"({"items":[{"description":"Broken \"lamp\"","amount":12000,"category":"damage",)"
             R"("evidence":["file_a"]},{"description":"Deep clean","amount":5000,)"
             R"("category":"cleaning","evidence":[]}],"total":17000,)"
             R"("captured_at":"2026-01-01T00:00:00Z"})");
  BOOST_TEST(RenderClaim(c, std::nullopt).ends_with(R"("total":17000,"captured_at":null})"));
}

BOOST_AUTO_TEST_CASE(the_rendered_items_parse_back_to_the_claim) {
  auto parsed = ParseCaptureRequest(
      R"({"items":[{"description":"Lamp ✓","amount":12000,"category":"damage","evidence":["file_a","file_b"]},)"
      R"({"description":"Fee","amount":75,"category":"fee"}]})");
  REQUIRE_OK(parsed);
  auto doc = json::ParseStrict(RenderClaim(*parsed->claim, 1));
  REQUIRE_OK(doc);
  auto again = ParseClaimItems((*doc)["items"]);
  REQUIRE_OK(again);
  BOOST_TEST((*again == *parsed->claim));
}

BOOST_AUTO_TEST_CASE(summarizes_for_stripe_metadata) {
  const Claim c = ClaimOf({{"lamp", 12000, ClaimCategory::kDamage, {"file_a"}},
                           {"clean", 5000, ClaimCategory::kCleaning, {}},
                           {"towels", 2500, ClaimCategory::kMissingItem, {}}});
  const ClaimSummary s = SummarizeClaim(c);
  BOOST_TEST(s.items == "3 items: damage 12000, cleaning 5000, missing_item 2500");
  BOOST_TEST(s.total == "19500");
  BOOST_TEST(SummarizeClaim(ClaimOf({{"x", 75, ClaimCategory::kFee, {}}})).items ==
             "1 item: fee 75");
  BOOST_TEST(SummarizeClaim(Claim{}).items == "0 items");
}

BOOST_AUTO_TEST_CASE(a_long_summary_is_cut_to_stripes_500_characters) {
  const std::vector<ClaimItem> items(50,
                                     ClaimItem{"x", 99999999, ClaimCategory::kLateCheckout, {}});
  const ClaimSummary s = SummarizeClaim(ClaimOf(items));
  BOOST_TEST(s.items.size() <= kMaxStripeMetadataValue);
  BOOST_TEST(s.items.starts_with("50 items: late_checkout 99999999, late_checkout 99999999"));
  // "50 items:" (9) + " late_checkout 99999999" (23) + 19 × ", late_checkout 99999999" (24)
  // + ", +30 more" (10) = 498; a 21st item shown would make 512 + 10.
  BOOST_TEST(s.items.size() == 498U);
  BOOST_TEST(s.items.ends_with(", late_checkout 99999999, +30 more"), s.items);
  BOOST_TEST(s.total == "4999999950");
}

BOOST_AUTO_TEST_CASE(a_summary_of_exactly_500_characters_is_kept_whole) {
  // "40 items:" (9) + " other 1000" (11) + 39 × ", other 1000" (12) = 488 characters; a last
  // amount 12 digits longer makes 500.
  std::vector<ClaimItem> items(40, ClaimItem{"x", 1000, ClaimCategory::kOther, {}});
  items.back().amount = 1000000000000000;
  const ClaimSummary exact = SummarizeClaim(ClaimOf(items));
  BOOST_TEST(exact.items.size() == 500U);
  BOOST_TEST(exact.items.ends_with(", other 1000, other 1000000000000000"), exact.items);
  items.back().amount = 10000000000000000;  // 501: the last item is counted instead
  const ClaimSummary over = SummarizeClaim(ClaimOf(items));
  BOOST_TEST(over.items.size() == 9U + 11U + 38U * 12U + 9U);
  BOOST_TEST(over.items.ends_with(", other 1000, +1 more"), over.items);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::claims
