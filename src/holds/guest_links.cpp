// Guest links (CONTRACT.md Part 3, "Guest links"; docs/guest-page.md): the hold's owner
// makes a link; the link's token, not a client token, lets the guest read the hold's
// terms, accept its disclosure and confirm the card with Stripe.js.
//
// The token is 32 random bytes (hex, URL-safe); the ledger keeps only its SHA-256, so the
// page's credential is in the guest's URL and nowhere else. A token of another shape, an
// unknown one and an expired one are the same 404 not_found.
#include <algorithm>
#include <array>

#include "claims/currency.h"
#include "claims/disclosure.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time_util.h"
#include "holds/handlers.h"
#include "holds/hold_request.h"
#include "holds/journal.h"

namespace cc::holds {
namespace {

constexpr size_t kTokenBytes = 32;  // 256 bits; the contract asks for at least 128
constexpr size_t kMaxUserAgent = 256;
// A PaymentIntent the guest can still confirm: the page shows its card form.
constexpr std::array kConfirmable{std::string_view("requires_payment_method"),
                                  std::string_view("requires_confirmation"),
                                  std::string_view("requires_action")};

http::Response NoSuchLink() {
  return http::ErrorResponse(
      MakeError(ErrorKind::kNotFound, "not_found", "No such link, or it has expired"));
}

http::Response NoSuchHold() {
  return http::ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found", "No such hold"));
}

bool TokenShaped(std::string_view token) {
  return token.size() == 2 * kTokenBytes && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The hold a live link names, or the answer to give instead (404, or the ledger's error).
struct LinkedHold {
  std::optional<ledger::Hold> hold;
  http::Response refusal;
};

LinkedHold HoldOfLink(const http::Deps& deps, std::string_view token, int64_t now) {
  LinkedHold out;
  if (!TokenShaped(token)) {
    out.refusal = NoSuchLink();
    return out;
  }
  auto link = deps.ledger.FindGuestLink(crypto::Sha256Hex(token));
  if (!link) {
    out.refusal = http::ErrorResponse(link.error());
    return out;
  }
  if (!link->has_value() || now >= (*link)->expires_at) {
    out.refusal = NoSuchLink();
    return out;
  }
  auto hold = deps.ledger.FindHold((*link)->hold_id);
  if (!hold) {
    out.refusal = http::ErrorResponse(hold.error());
  } else if (!hold->has_value()) {
    out.refusal = NoSuchLink();
  } else {
    out.hold = std::move(*hold);
  }
  return out;
}

// Printable ASCII only, at most kMaxUserAgent bytes: what the audit event keeps of it.
std::string CleanUserAgent(std::string_view agent) {
  std::string out;
  for (char c : agent) {
    if (out.size() == kMaxUserAgent) break;
    out.push_back(c >= 0x20 && c <= 0x7E ? c : '?');
  }
  return out;
}

}  // namespace

http::Response CreateGuestLink(const http::Deps& deps, const http::Caller& caller,
                               std::string_view id) {
  auto found = deps.ledger.FindHold(id);
  if (!found) return http::ErrorResponse(found.error());
  // Another client's hold is no hold at all (as GET /api/holds/:id answers it).
  if (!found->has_value() || (*found)->client != caller.client.name) return NoSuchHold();
  const std::string token = crypto::RandomHex(kTokenBytes);
  const ledger::GuestLink link{crypto::Sha256Hex(token), (*found)->id, caller.now,
                               caller.now + deps.config.guest_link_ttl_h * 3600};
  if (auto recorded = deps.ledger.RecordGuestLink(link); !recorded) {
    return http::ErrorResponse(recorded.error());
  }
  log::Info("guest_link_created",
            {log::Str("hold_id", link.hold_id), log::Str("request_id", caller.request_id)});
  rapidjson::StringBuffer buffer;
  json::Writer w(buffer);
  w.StartObject();
  json::Key(w, "url");
  json::String(w, deps.config.public_url + "/pay/" + token);
  json::Key(w, "hold_id");
  json::String(w, link.hold_id);
  json::Key(w, "expires_at");
  json::String(w, FormatIso8601(link.expires_at));
  w.EndObject();
  return http::Json(201, buffer.GetString());
}

http::Response ServeGuestPage(const http::Deps& deps, std::string_view token, int64_t now) {
  auto linked = HoldOfLink(deps, token, now);
  if (!linked.hold) return std::move(linked.refusal);
  // nginx answers the page itself (docs/guest-page.md): the worker only vouches for the link.
  http::Response r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("X-Accel-Redirect", std::string(kGuestPageFile));
  return r;
}

http::Response GetGuestHold(const http::Deps& deps, std::string_view token, int64_t now) {
  auto linked = HoldOfLink(deps, token, now);
  if (!linked.hold) return std::move(linked.refusal);
  const ledger::Hold& hold = *linked.hold;
  const auto currency = claims::ParseCurrency(hold.currency);
  if (!currency) {
    return http::ErrorResponse(
        MakeError(ErrorKind::kInternal, "internal_error", "The hold's currency is not supported"));
  }
  std::string status = hold.status;
  std::string description;
  std::string client_secret;
  std::string setup_client_secret;
  if (!hold.payment_intents.empty()) {
    // Stripe's answer, not the ledger's: the guest may have confirmed a moment ago.
    auto pi = deps.stripe.Retrieve(hold.payment_intents.back());
    if (!pi) return http::ErrorResponse(pi.error());
    status = pi->status;
    description = pi->description;
    if (std::find(kConfirmable.begin(), kConfirmable.end(), pi->status) != kConfirmable.end()) {
      client_secret = pi->client_secret;
    }
  } else if (hold.id.starts_with("seti_")) {
    auto setup = deps.stripe.RetrieveSetupIntent(hold.id);
    if (!setup) return http::ErrorResponse(setup.error());
    description = setup->description;
    // A saved card (succeeded) or a canceled SetupIntent has nothing left to confirm.
    if (setup->status != "succeeded" && setup->status != "canceled") {
      setup_client_secret = setup->client_secret;
    }
  }
  const auto& disclosure = claims::CurrentDisclosure();
  rapidjson::StringBuffer buffer;
  json::Writer w(buffer);
  w.StartObject();
  json::Key(w, "hold_id");
  json::String(w, hold.id);
  json::Key(w, "status");
  json::String(w, status);
  json::Key(w, "amount");
  w.Int64(hold.amount);
  json::Key(w, "currency");
  json::String(w, hold.currency);
  json::Key(w, "description");
  json::String(w, description);
  json::Key(w, "property_id");
  json::StringOrNull(w, hold.property_id);
  json::Key(w, "disclosure");
  w.StartObject();
  json::Key(w, "version");
  json::String(w, disclosure.version);
  json::Key(w, "text");
  json::String(w,
               claims::RenderDisclosureText(disclosure, hold.amount, *currency, hold.property_id));
  w.EndObject();
  json::Key(w, "client_secret");
  json::StringOrNull(w, client_secret);
  json::Key(w, "setup_client_secret");
  json::StringOrNull(w, setup_client_secret);
  json::Key(w, "publishable_key");
  json::StringOrNull(w, deps.config.stripe_publishable_key);
  w.EndObject();
  return http::Json(200, buffer.GetString());
}

http::Response AcceptGuestDisclosure(const http::Deps& deps, const http::Request& request,
                                     std::string_view token, int64_t now,
                                     std::string_view request_id) {
  auto linked = HoldOfLink(deps, token, now);
  if (!linked.hold) return std::move(linked.refusal);
  const ledger::Hold& hold = *linked.hold;
  auto doc = json::ParseStrict(request.body);
  if (!doc) return http::ErrorResponse(doc.error());
  const auto version = doc->IsObject() && doc->MemberCount() == 1
                           ? json::StringMember(*doc, "disclosure_version")
                           : std::nullopt;
  if (!version) {
    return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                                         "The body is {\"disclosure_version\": \"…\"}",
                                         "disclosure_version"));
  }
  const auto& current = claims::CurrentDisclosure();
  if (*version != current.version) {
    return http::ErrorResponse(MakeError(ErrorKind::kConflict, "disclosure_outdated",
                                         "The disclosure has changed to version " +
                                             std::string(current.version) +
                                             "; show the guest the current text"));
  }
  // The hold's `disclosure` keeps its shape ({"version", "accepted_at"}) and is set once;
  // the user agent goes with the audit event.
  const std::string accepted =
      RenderAcceptedDisclosure(claims::AcceptedDisclosure{std::string(*version), now});
  auto set = deps.ledger.SetHoldDisclosure(hold.id, accepted);
  if (!set) return http::ErrorResponse(set.error());
  ledger::Event e;
  e.id = EventIdFor(hold.id, "disclosure_accepted");  // one per hold: a repeat changes nothing
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.type = "disclosure_accepted";
  e.actor = "guest";
  e.request_id = std::string(request_id);
  e.amount = hold.amount;
  e.currency = hold.currency;
  if (!hold.payment_intents.empty()) e.payment_intent = hold.payment_intents.back();
  e.created_at = now;
  {
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    json::Key(w, "version");
    json::String(w, *version);
    json::Key(w, "user_agent");
    json::String(w, CleanUserAgent(request.Header("user-agent")));
    w.EndObject();
    e.detail_json = buffer.GetString();
  }
  if (auto appended = deps.ledger.AppendEvent(e); !appended) {
    return http::ErrorResponse(appended.error());
  }
  const std::string& kept = *set ? accepted : hold.disclosure_json;
  rapidjson::StringBuffer buffer;
  json::Writer w(buffer);
  w.StartObject();
  json::Key(w, "hold_id");
  json::String(w, hold.id);
  json::Key(w, "disclosure");
  w.RawValue(kept.data(), kept.size(), rapidjson::kObjectType);
  w.EndObject();
  return http::Json(200, buffer.GetString());
}

}  // namespace cc::holds
