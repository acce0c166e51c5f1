// fuzz_webhook_event: webhooks::ReceiveWebhook past the signature check, into the event
// handling (strict JSON, event shape, PaymentIntent parsing, the cache and its rules).
//
// Input: one to four raw event bodies separated by a line holding only "%%%". Each is
// signed with a valid Stripe-Signature and delivered, in order, over one world of fakes
// (FakeStripe, FakeChittyId, InMemoryStore), so ordering, duplicates and terminal states
// are exercised across events. FakeStripe knows a few PaymentIntents created by client
// "alpha" (pi_w1, pi_w2, pi_w3), so charge.* events that re-read one find it ours.
// Besides what the sanitizers see, it checks:
//   - the answer is 200, 400 or 5xx, with a JSON body;
//   - an event never sets a hold's state: whatever the body says, a cached hold is
//     Stripe's own (FakeStripe's) PaymentIntent, status and owner;
//   - an event answered 200 is a duplicate when delivered again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/crypto.h"
#include "core/json.h"
#include "fakes/fake_stripe.h"
#include "fuzz_util.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "http/handler.h"
#include "ledger/in_memory_ledger.h"
#include "store/in_memory_store.h"
#include "webhooks/events.h"

namespace {

using cc::fuzz::Require;

constexpr int64_t kNow = 1767312000;
constexpr size_t kMaxEvents = 4;
constexpr std::string_view kSecret = "whsec_fuzz_0123456789";

cc::stripe::PaymentIntent Ours(std::string id, std::string status) {
  cc::stripe::PaymentIntent pi;
  pi.id = std::move(id);
  pi.status = std::move(status);
  pi.amount = 25000;
  pi.amount_capturable = pi.status == "requires_capture" ? 25000 : 0;
  pi.amount_received = pi.status == "succeeded" ? 25000 : 0;
  pi.currency = "usd";
  pi.created = kNow - 3600;
  pi.latest_charge = "ch_" + pi.id;
  pi.metadata = {{"client", "alpha"}, {"chitty_id", "CHITTY-AUTH-" + pi.id}, {"tier", "NEW_GUEST"}};
  return pi;
}

struct World {
  cc::config::Config config = [] {
    cc::config::Config c;
    c.webhook_secrets = {"whsec_old_unused", std::string(kSecret)};
    return c;
  }();
  cc::testing::FakeStripe stripe;
  cc::testing::FakeChittyId chittyid;
  cc::store::InMemoryStore store{[] { return kNow; }};
  cc::ledger::InMemoryLedger ledger;

  World() {
    for (const auto& [id, status] :
         {std::pair{"pi_w1", "requires_capture"}, std::pair{"pi_w2", "succeeded"},
          std::pair{"pi_w3", "canceled"}}) {
      stripe.intents[id] = Ours(id, status);
    }
  }

  cc::http::Response Deliver(std::string_view body) {
    const std::string t = std::to_string(kNow);
    const std::string header =
        "t=" + t + ",v1=" + cc::crypto::HmacSha256Hex(kSecret, t + "." + std::string(body));
    const cc::http::Request request{
        "POST", "/webhook", "", {{"stripe-signature", header}}, std::string(body), "127.0.0.1"};
    return cc::webhooks::ReceiveWebhook(cc::http::Deps{config, stripe, chittyid, store, ledger},
                                        request, kNow, "req-fuzz");
  }

  std::string CachedStatus(const std::string& pi_id) {
    auto cached = cc::holds::HoldRepository(stripe, store).Cached(pi_id);
    return cached ? cached->pi.status : std::string();
  }
};

// The PaymentIntent ids an event names (data.object.id and data.object.payment_intent).
std::vector<std::string> NamedIds(std::string_view body) {
  std::vector<std::string> ids;
  auto doc = cc::json::ParseStrict(body);
  if (!doc) return ids;
  const auto* data = cc::json::Member(*doc, "data");
  const auto* object = data == nullptr ? nullptr : cc::json::Member(*data, "object");
  if (object == nullptr) return ids;
  for (const char* field : {"id", "payment_intent"}) {
    if (auto id = cc::json::StringMember(*object, field)) ids.emplace_back(*id);
  }
  return ids;
}

void CheckAnswer(const cc::http::Response& r) {
  Require(r.status == 200 || r.status == 400 || r.status >= 500,
          "webhook answered other than 200, 400 or 5xx");
  Require(cc::json::ParseStrict(r.body).has_value(), "webhook answer is not strict JSON");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto events =
      cc::fuzz::Split(cc::fuzz::AsView(data, size), cc::fuzz::kRecordSeparator, kMaxEvents);
  World world;
  for (const std::string_view body : events) {
    CheckAnswer(world.Deliver(body));
    for (const std::string& id : NamedIds(body)) {
      const std::string status = world.CachedStatus(id);
      if (status.empty()) continue;
      auto at_stripe = world.stripe.intents.find(id);
      Require(at_stripe != world.stripe.intents.end() && at_stripe->second.status == status,
              "an event's body set a hold's state");
    }
  }
  // The first event again: if it was taken (200), it is now a duplicate.
  World replay;
  if (replay.Deliver(events.front()).status == 200) {
    const auto again = replay.Deliver(events.front());
    Require(again.status == 200 && again.body == R"({"received":true,"duplicate":true})",
            "a delivered event was not recognised as a duplicate");
  }
  return 0;
}
