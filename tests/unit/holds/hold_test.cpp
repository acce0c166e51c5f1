#include "holds/hold.h"

#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "test_util.h"

namespace cc::holds {
namespace {

HoldRecord Captured() {
  stripe::PaymentIntent pi;
  pi.id = "pi_1";
  pi.status = "succeeded";
  pi.amount = 25000;
  pi.amount_received = 7500;
  pi.currency = "usd";
  pi.description = "Deposit";
  pi.receipt_email = "guest@example.com";
  pi.created = 1760184000;  // 2025-10-11T12:00:00Z
  pi.latest_charge = "ch_1";
  pi.metadata = {{"chitty_id", "CHITTY-AUTH-1"},
                 {"tier", "VERIFIED_GUEST"},
                 {"client", "alpha"},
                 {"property_id", "prop_1"},
                 {"booking_id", "b1"},
                 {"capture_reason", "damage"},
                 {"claim_items", "1 item: damage 7500"},
                 {"claim_total", "7500"}};
  return HoldRecord{pi, 1760190000, 1760190000};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(holds_hold)

BOOST_AUTO_TEST_CASE(renders_the_contract_hold_object) {
  auto doc = json::ParseStrict(RenderHold(Captured()));
  REQUIRE_OK(doc);
  const auto& h = *doc;
  BOOST_TEST(h["id"].GetString() == std::string("pi_1"));
  BOOST_TEST(h["chitty_id"].GetString() == std::string("CHITTY-AUTH-1"));
  BOOST_TEST(h["status"].GetString() == std::string("succeeded"));
  BOOST_TEST(h["amount"].GetInt64() == 25000);
  BOOST_TEST(h["amount_capturable"].GetInt64() == 0);
  BOOST_TEST(h["amount_captured"].GetInt64() == 7500);
  BOOST_TEST(h["customer_email"].GetString() == std::string("guest@example.com"));
  BOOST_TEST(h["property_id"].GetString() == std::string("prop_1"));
  BOOST_TEST(h["tenant_id"].IsNull());
  BOOST_TEST(h["tier"].GetString() == std::string("VERIFIED_GUEST"));
  BOOST_TEST(h["tier_limit"].GetInt64() == 500000);
  BOOST_TEST(h["created_at"].GetString() == std::string("2025-10-11T12:00:00Z"));
  BOOST_TEST(h["expires_at"].GetString() == std::string("2025-10-18T12:00:00Z"));
  BOOST_TEST(h["captured_at"].GetString() == std::string("2025-10-11T13:40:00Z"));
  BOOST_TEST(h["canceled_at"].IsNull());
  BOOST_TEST(h["estimated_processing_fee"].GetInt64() == 248);  // round(217.5) + 30
  BOOST_TEST(!h.HasMember("client_secret"));
  // Only the client's own metadata keys are shown.
  BOOST_TEST(h["metadata"].MemberCount() == 1U);
  BOOST_TEST(h["metadata"]["booking_id"].GetString() == std::string("b1"));
  BOOST_TEST(h["claim"].IsNull());  // none known (the ledger's part)
}

BOOST_AUTO_TEST_CASE(the_ledgers_claim_is_written_as_kept) {
  HoldSchedule schedule{std::nullopt, {"pi_1"}};
  schedule.claim_json =
      R"({"items":[{"description":"Lamp","amount":7500,"category":"damage","evidence":[]}],)"
      R"("total":7500,"captured_at":"2025-10-11T13:40:00Z"})";
  auto doc = json::ParseStrict(RenderHold(Captured(), {}, schedule));
  REQUIRE_OK(doc);
  const auto& claim = (*doc)["claim"];
  BOOST_REQUIRE(claim.IsObject());
  BOOST_TEST(claim["total"].GetInt64() == 7500);
  BOOST_TEST(claim["items"][0]["description"].GetString() == std::string("Lamp"));
  BOOST_TEST(claim["captured_at"].GetString() == std::string("2025-10-11T13:40:00Z"));
  BOOST_TEST(RenderHold(Captured(), {}, schedule).find(schedule.claim_json) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(from_stripe_keeps_no_client_secret) {
  stripe::PaymentIntent pi = Captured().pi;
  pi.client_secret = "pi_1_secret_abc";
  const HoldRecord record = HoldRecord::FromStripe(pi, 1760190000, 1760199999);
  BOOST_TEST(record.pi.client_secret.empty());
  BOOST_TEST(record.pi.id == "pi_1");
  BOOST_TEST(record.captured_at.value_or(0) == 1760190000);
  BOOST_TEST(record.fetched_at == 1760199999);
  BOOST_TEST(SerializeRecord(record).find("secret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(client_secret_only_when_given) {
  auto doc = json::ParseStrict(RenderHold(Captured(), "pi_1_secret_abc"));
  REQUIRE_OK(doc);
  BOOST_TEST((*doc)["client_secret"].GetString() == std::string("pi_1_secret_abc"));
}

BOOST_AUTO_TEST_CASE(expires_at_prefers_capture_before_and_is_null_before_authorization) {
  auto record = Captured();
  record.pi.capture_before = 1760500000;
  BOOST_TEST(*ExpiresAt(record.pi) == 1760500000);
  record.pi.capture_before.reset();
  record.pi.status = "requires_payment_method";
  BOOST_TEST(!ExpiresAt(record.pi).has_value());
  record.pi.status = "canceled";
  record.pi.cancellation_reason = "expired";
  BOOST_TEST(*ExpiresAt(record.pi) == record.pi.created + kAuthorizationWindowEstimate);
}

BOOST_AUTO_TEST_CASE(fee_only_for_captured_usd) {
  auto record = Captured();
  record.pi.currency = "eur";
  BOOST_TEST(!EstimatedProcessingFee(record.pi).has_value());
  record.pi.currency = "usd";
  record.pi.status = "requires_capture";
  BOOST_TEST(!EstimatedProcessingFee(record.pi).has_value());
}

BOOST_AUTO_TEST_CASE(unknown_tier_in_metadata_reads_as_new_guest) {
  auto record = Captured();
  record.pi.metadata["tier"] = "bogus";
  BOOST_TEST((HoldTier(record.pi) == Tier::kNewGuest));
}

BOOST_AUTO_TEST_CASE(cache_form_round_trips) {
  auto record = Captured();
  record.pi.canceled_at = 1760190001;
  record.pi.capture_before = 1760700000;
  record.pi.last_payment_error_code = "card_declined";
  auto back = DeserializeRecord(SerializeRecord(record));
  REQUIRE_OK(back);
  BOOST_TEST(RenderHold(*back) == RenderHold(record));
  BOOST_TEST(back->fetched_at == record.fetched_at);
  BOOST_TEST(back->pi.last_payment_error_code == "card_declined");
}

BOOST_AUTO_TEST_CASE(reserved_keys) {
  BOOST_TEST(IsReservedMetadataKey("client"));
  BOOST_TEST(IsReservedMetadataKey("claim_items"));
  BOOST_TEST(IsReservedMetadataKey("claim_total"));
  BOOST_TEST(!IsClientMetadataKey("claim_total"));
  BOOST_TEST(!IsReservedMetadataKey("booking_id"));
  BOOST_TEST(!IsReservedMetadataKey("guest_tier"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
