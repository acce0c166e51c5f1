// Tests for webhook/signature.h: every recorded Stripe vector, then the edge cases.
#include "webhooks/signature.h"

#include <rapidjson/document.h>

#include <array>
#include <cctype>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "test_util.h"

namespace cc::webhooks {

// Lets Boost.Test print outcomes (found by ADL).
std::ostream& operator<<(std::ostream& os, SignatureCheck check) {
  return os << "SignatureCheck(" << static_cast<int>(check) << ": " << Describe(check) << ")";
}

namespace {

// Made with Stripe's official Node SDK (tests/data/README.md).
constexpr const char* kVectorsPath = CC_TEST_DATA_DIR "/webhook-vectors.json";
constexpr int64_t kNow = 1'767'312'000;
const std::string kBody = R"({"id":"evt_1","object":"event","type":"payment_intent.succeeded"})";
const std::string kSecret = "whsec_test_secret_one";

std::string Sign(const std::string& secret, int64_t t, std::string_view body) {
  return crypto::HmacSha256Hex(secret, std::to_string(t) + "." + std::string(body));
}

std::string Header(const std::string& secret, int64_t t, std::string_view body) {
  return "t=" + std::to_string(t) + ",v1=" + Sign(secret, t, body);
}

SignatureCheck Verify(std::string_view header, std::string_view body = kBody, int64_t now = kNow,
                      int64_t tolerance = 300) {
  const std::array<std::string, 1> secrets{kSecret};
  return VerifyStripeSignature(secrets, header, body, now, tolerance);
}

// RFC 4648 base64 (with padding), enough for the vectors file.
std::string DecodeBase64(std::string_view in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t index = kAlphabet.find(c);
    BOOST_REQUIRE_MESSAGE(index != std::string_view::npos, "bad base64 character");
    buffer = (buffer << 6U) | static_cast<uint32_t>(index);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<uint32_t>(bits)) & 0xFFU));
    }
  }
  return out;
}

rapidjson::Document LoadVectors() {
  std::ifstream file(kVectorsPath, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(file.good(), "cannot open " << kVectorsPath);
  std::stringstream text;
  text << file.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(), "vectors are not JSON");
  BOOST_REQUIRE(doc.HasMember("cases") && doc["cases"].IsArray());
  return doc;
}

std::string StringField(const rapidjson::Value& c, const char* name) {
  BOOST_REQUIRE_MESSAGE(c.HasMember(name) && c[name].IsString(), "field " << name);
  return {c[name].GetString(), c[name].GetStringLength()};
}

int64_t IntField(const rapidjson::Value& c, const char* name) {
  BOOST_REQUIRE_MESSAGE(c.HasMember(name) && c[name].IsInt64(), "field " << name);
  return c[name].GetInt64();
}

// The exact body bytes: payload_base64 when present, else the decoded JSON string.
std::string CaseBody(const rapidjson::Value& c) {
  if (c.HasMember("payload_base64") && c["payload_base64"].IsString()) {
    return DecodeBase64(StringField(c, "payload_base64"));
  }
  return StringField(c, "payload");
}

void RunVector(const rapidjson::Value& c) {
  const std::string name = StringField(c, "name");
  BOOST_TEST_CONTEXT("vector " << name) {
    const std::string body = CaseBody(c);
    if (c.HasMember("payload_sha256") && c["payload_sha256"].IsString()) {
      BOOST_TEST(crypto::Sha256Hex(body) == StringField(c, "payload_sha256"));
    }
    const std::array<std::string, 1> secrets{StringField(c, "secret")};
    const SignatureCheck got = VerifyStripeSignature(secrets, StringField(c, "header"), body,
                                                     IntField(c, "now"), IntField(c, "tolerance"));
    const std::string expected = StringField(c, "expected");
    BOOST_TEST((got == SignatureCheck::kValid) == (expected == "valid"));
    // The reason matches the one the Stripe SDK gave.
    const std::string sdk_result = StringField(c, "sdk_result");
    if (got != SignatureCheck::kValid) {
      BOOST_TEST(sdk_result.find(Describe(got)) != std::string::npos, sdk_result);
    }
  }
}

BOOST_AUTO_TEST_SUITE(webhooks_signature)

BOOST_AUTO_TEST_CASE(every_recorded_stripe_vector) {
  const rapidjson::Document doc = LoadVectors();
  const auto& cases = doc["cases"].GetArray();
  BOOST_REQUIRE_GE(cases.Size(), 13U);
  for (const auto& c : cases) {
    BOOST_REQUIRE(c.IsObject());
    RunVector(c);
  }
}

BOOST_AUTO_TEST_CASE(valid_signature) {
  BOOST_TEST(Verify(Header(kSecret, kNow - 3, kBody)) == SignatureCheck::kValid);
}

BOOST_AUTO_TEST_CASE(rotation_second_secret_matches) {
  const std::vector<std::string> secrets{"whsec_old", "whsec_new"};
  const std::string header = Header("whsec_new", kNow, kBody);
  BOOST_TEST(VerifyStripeSignature(secrets, header, kBody, kNow) == SignatureCheck::kValid);
}

BOOST_AUTO_TEST_CASE(rotation_second_v1_matches) {
  const std::string header = "t=" + std::to_string(kNow) +
                             ",v1=" + Sign("whsec_other", kNow, kBody) +
                             ",v1=" + Sign(kSecret, kNow, kBody);
  BOOST_TEST(Verify(header) == SignatureCheck::kValid);
}

BOOST_AUTO_TEST_CASE(body_one_byte_off_is_mismatch) {
  std::string tampered = kBody;
  tampered.back() = ']';
  BOOST_TEST(Verify(Header(kSecret, kNow, kBody), tampered) == SignatureCheck::kMismatch);
  BOOST_TEST(Verify(Header(kSecret, kNow, kBody), kBody + " ") == SignatureCheck::kMismatch);
}

BOOST_AUTO_TEST_CASE(exactly_300_seconds_old_passes_301_fails) {
  BOOST_TEST(Verify(Header(kSecret, kNow - 300, kBody)) == SignatureCheck::kValid);
  BOOST_TEST(Verify(Header(kSecret, kNow - 301, kBody)) == SignatureCheck::kTooOld);
}

BOOST_AUTO_TEST_CASE(future_timestamp_is_accepted) {
  BOOST_TEST(Verify(Header(kSecret, kNow + 3600, kBody)) == SignatureCheck::kValid);
}

BOOST_AUTO_TEST_CASE(tolerance_zero_disables_the_age_check) {
  BOOST_TEST(Verify(Header(kSecret, kNow - 86400, kBody), kBody, kNow, 0) ==
             SignatureCheck::kValid);
}

BOOST_AUTO_TEST_CASE(old_and_forged_reports_mismatch_first) {
  BOOST_TEST(Verify(Header("whsec_wrong", kNow - 900, kBody)) == SignatureCheck::kMismatch);
}

BOOST_AUTO_TEST_CASE(header_without_t_is_malformed) {
  BOOST_TEST(Verify("v1=" + Sign(kSecret, kNow, kBody)) == SignatureCheck::kMalformedHeader);
}

BOOST_AUTO_TEST_CASE(non_integer_t_is_malformed) {
  const std::string v1 = ",v1=" + Sign(kSecret, kNow, kBody);
  for (const char* t :
       {"t=", "t=abc", "t=-5", "t=+5", "t=12.5", "t= 5", "t=99999999999999999999"}) {
    BOOST_TEST(Verify(t + v1) == SignatureCheck::kMalformedHeader, t);
  }
}

BOOST_AUTO_TEST_CASE(only_v0_has_no_v1_signature) {
  const std::string header = "t=" + std::to_string(kNow) + ",v0=" + Sign(kSecret, kNow, kBody);
  BOOST_TEST(Verify(header) == SignatureCheck::kNoV1Signature);
}

BOOST_AUTO_TEST_CASE(garbage_and_empty_headers) {
  BOOST_TEST(Verify("") == SignatureCheck::kMissingHeader);
  BOOST_TEST(Verify("this-is-not-a-stripe-signature") == SignatureCheck::kMalformedHeader);
  BOOST_TEST(Verify(",,,=,==") == SignatureCheck::kMalformedHeader);
  BOOST_TEST(Verify("t=1,garbage,v1=zz") == SignatureCheck::kMismatch);
}

BOOST_AUTO_TEST_CASE(uppercase_hex_does_not_match) {
  std::string hex = Sign(kSecret, kNow, kBody);
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST(Verify("t=" + std::to_string(kNow) + ",v1=" + hex) == SignatureCheck::kMismatch);
}

BOOST_AUTO_TEST_CASE(empty_secret_list_never_matches) {
  const std::vector<std::string> none;
  BOOST_TEST(VerifyStripeSignature(none, Header(kSecret, kNow, kBody), kBody, kNow) ==
             SignatureCheck::kMismatch);
}

BOOST_AUTO_TEST_CASE(empty_secret_is_skipped) {
  const std::vector<std::string> secrets{""};
  BOOST_TEST(VerifyStripeSignature(secrets, Header("", kNow, kBody), kBody, kNow) ==
             SignatureCheck::kMismatch);
}

BOOST_AUTO_TEST_CASE(oversized_header_is_malformed) {
  std::string header = Header(kSecret, kNow, kBody) + ",";
  header += std::string(kMaxHeaderBytes, 'x');
  BOOST_TEST(Verify(header) == SignatureCheck::kMalformedHeader);
}

BOOST_AUTO_TEST_CASE(only_the_first_signatures_are_considered) {
  std::string header = "t=" + std::to_string(kNow);
  for (size_t i = 0; i < kMaxSignatures; ++i) header += ",v1=" + std::string(64, '0');
  header += ",v1=" + Sign(kSecret, kNow, kBody);
  BOOST_TEST(Verify(header) == SignatureCheck::kMismatch);
}

BOOST_AUTO_TEST_CASE(describe_gives_stripe_node_messages) {
  BOOST_TEST(std::string(Describe(SignatureCheck::kTooOld)) ==
             "Timestamp outside the tolerance zone");
  BOOST_TEST(std::string(Describe(SignatureCheck::kMissingHeader)) ==
             "No stripe-signature header value was provided");
  BOOST_TEST(std::string(Describe(SignatureCheck::kValid)).empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::webhooks
