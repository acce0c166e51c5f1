#include "holds/handlers.h"

#include <array>

#include "chittyid/pending_id.h"
#include "core/crypto.h"
#include "core/log.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "holds/hold_request.h"
#include "holds/settled_holds.h"
#include "holds/stripe_key.h"
#include "stripe/search_query.h"

namespace cc::holds {
namespace {

constexpr uint32_t kMintMemoTtl = 24U * 3600U;
constexpr size_t kMaxListFilter = 500;  // characters, as property_id/tenant_id at create

http::Response Ok200(const HoldRecord& record) { return http::Json(200, RenderHold(record)); }

// The hold's ChittyID. With a client Idempotency-Key the id must be the same on every
// retry (it goes into the Stripe create params, and Stripe refuses a key reused with
// other params), so the first minted id is memoised under the derived key; with
// memcached down the id is a deterministic PENDING one, replaced later.
std::string ObtainChittyId(const http::Deps& deps, const CreateHoldRequest& req,
                           const std::string& client, const std::string& stripe_key,
                           bool client_keyed) {
  const std::string memo_key = "mint:" + stripe_key;
  auto pending = [&stripe_key] {
    return chittyid::PendingChittyId(chittyid::PendingUniqueFromKey(stripe_key));
  };
  if (client_keyed) {
    auto memo = deps.store.Get(memo_key);
    if (!memo) return pending();
    if (*memo) return **memo;
  }
  stripe::Metadata mint_meta{{"client", client}};
  if (!req.property_id.empty()) mint_meta.emplace("property_id", req.property_id);
  if (!req.tenant_id.empty()) mint_meta.emplace("tenant_id", req.tenant_id);
  auto minted = deps.chittyid.MintAuth(mint_meta);
  if (!minted) {
    log::Warn("chittyid mint failed; using a pending id",
              {log::Str("error", minted.error().message)});
  }
  std::string id = minted ? *minted : pending();
  if (client_keyed) {
    auto added = deps.store.Add(memo_key, id, kMintMemoTtl);
    if (!added) return pending();
    if (!*added) {
      if (auto memo = deps.store.Get(memo_key); memo && *memo) return **memo;
      return pending();
    }
  }
  return id;
}

stripe::Metadata StripeMetadata(const CreateHoldRequest& req, const std::string& client,
                                const std::string& chitty_id) {
  stripe::Metadata m = req.metadata;
  m[std::string(kMetaChittyId)] = chitty_id;
  m[std::string(kMetaTier)] = std::string(TierName(req.tier));
  m[std::string(kMetaClient)] = client;
  if (!req.property_id.empty()) m[std::string(kMetaPropertyId)] = req.property_id;
  if (!req.tenant_id.empty()) m[std::string(kMetaTenantId)] = req.tenant_id;
  if (chittyid::IsPendingChittyId(chitty_id)) m[std::string(kMetaChittyIdState)] = "pending";
  return m;
}

// A declined server-side confirmation leaves an intent behind: cancel it as abandoned.
void AbandonDeclined(const http::Deps& deps, const std::string& client, const std::string& pi_id) {
  auto canceled = deps.stripe.Cancel(pi_id, stripe::CancelParams{"abandoned"},
                                     DeriveStripeKey(client, "abandon", pi_id));
  if (!canceled) {
    log::Warn("could not cancel declined payment intent",
              {log::Str("pi", pi_id), log::Str("error", canceled.error().message)});
  }
}

// The 409 for acting on a hold in `status`; nullopt when capture may go ahead.
std::optional<Error> CaptureConflict(std::string_view status) {
  if (status == "requires_capture") return std::nullopt;
  if (status == "succeeded") {
    return MakeError(ErrorKind::kConflict, "hold_already_captured", "Hold was already captured");
  }
  if (status == "canceled") {
    return MakeError(ErrorKind::kConflict, "hold_already_canceled", "Hold was already canceled");
  }
  return MakeError(ErrorKind::kConflict, "hold_not_capturable",
                   "Hold is not capturable in status " + std::string(status));
}

std::optional<Error> CancelConflict(std::string_view status) {
  if (status == "succeeded" || status == "canceled") return CaptureConflict(status);
  if (status == "processing") {
    return MakeError(ErrorKind::kConflict, "hold_not_capturable",
                     "Hold cannot be canceled while processing");
  }
  return std::nullopt;
}

// After Stripe refused on state grounds: re-read and name the precise conflict.
http::Response StateConflict(HoldRepository& repo, const std::string& pi_id,
                             const http::Caller& caller, const Error& original, bool for_capture) {
  auto fresh = repo.Refresh(pi_id, caller.client.name, caller.now);
  if (!fresh) return http::ErrorResponse(original);
  auto conflict =
      for_capture ? CaptureConflict(fresh->pi.status) : CancelConflict(fresh->pi.status);
  return http::ErrorResponse(conflict.value_or(original));
}

// A property_id / tenant_id filter: at most what create accepts (500 characters, Stripe's
// limit for a metadata value), no NUL (create refuses it, so it matches nothing), no quotes
// or backslashes (ids hold none; Stripe's search language has no escape for `\`).
std::optional<Error> BadListFilter(std::string_view field, std::string_view value) {
  const std::string name(field);
  if (Utf8Length(value) > kMaxListFilter) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                     name + " is longer than " + std::to_string(kMaxListFilter) + " characters",
                     name);
  }
  if (value.find('\0') != std::string_view::npos) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                     name + " may not contain NUL characters (\\u0000)", name);
  }
  if (value.find_first_of("'\\") != std::string_view::npos) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                     name + " may not contain quotes or backslashes", name);
  }
  return std::nullopt;
}

bool KnownStatus(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kStatuses{"requires_payment_method",
                                                             "requires_confirmation",
                                                             "requires_action",
                                                             "processing",
                                                             "requires_capture",
                                                             "canceled",
                                                             "succeeded"};
  for (auto k : kStatuses) {
    if (k == s) return true;
  }
  return false;
}

struct ListQuery {
  std::string search;
  int limit = 20;
  std::string starting_after;
  int64_t starting_created = 0;
};

Result<ListQuery> ParseListQuery(const http::Deps& deps, const http::Caller& caller,
                                 const std::map<std::string, std::string>& q) {
  ListQuery out;
  stripe::SearchQuery search;
  search.Metadata(kMetaClient, caller.client.name);
  for (std::string_view field : {kMetaPropertyId, kMetaTenantId}) {
    auto it = q.find(std::string(field));
    if (it == q.end() || it->second.empty()) continue;
    if (auto bad = BadListFilter(field, it->second)) return Fail(std::move(*bad));
    search.Metadata(field, it->second);
  }
  if (auto it = q.find("status"); it != q.end() && !it->second.empty()) {
    if (!KnownStatus(it->second)) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_request", "unknown status", "status");
    }
    search.Status(it->second);
  }
  if (auto it = q.find("limit"); it != q.end()) {
    const std::string& v = it->second;
    const bool digits = !v.empty() && v.size() <= 3 && v.find_first_not_of("0123456789") == v.npos;
    out.limit = digits ? std::stoi(v) : 0;
    if (out.limit < 1 || out.limit > 100) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                  "limit must be an integer from 1 to 100", "limit");
    }
  }
  if (auto it = q.find("starting_after"); it != q.end() && !it->second.empty()) {
    HoldRepository repo(deps.stripe, deps.store);
    auto anchor = it->second.starts_with("pi_")
                      ? repo.Load(it->second, caller.client.name, caller.now)
                      : Result<HoldRecord>(Fail(ErrorKind::kNotFound, "", ""));
    if (!anchor) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                  "starting_after must be the id of one of your holds", "starting_after");
    }
    out.starting_after = it->second;
    out.starting_created = anchor->pi.created;
    search.CreatedAtMost(out.starting_created);
  }
  auto text = search.Build();
  if (!text) return Fail(text.error());
  out.search = std::move(*text);
  return out;
}

// Drops what precedes and includes the anchor (Stripe search has no cursor by id).
std::vector<stripe::PaymentIntent> AfterAnchor(std::vector<stripe::PaymentIntent> data,
                                               const ListQuery& q) {
  if (q.starting_after.empty()) return data;
  size_t first = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i].id == q.starting_after) {
      first = i + 1;
      break;
    }
    if (data[i].created == q.starting_created) first = i + 1;
  }
  data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(first));
  return data;
}

}  // namespace

http::Response CreateHold(const http::Deps& deps, const http::Caller& caller,
                          const http::Request& request) {
  auto req = ParseCreateHold(request.body, {deps.config.default_hold_amount, deps.config.currency});
  if (!req) return http::ErrorResponse(req.error());
  if (!TierAllowed(req->tier, caller.client.max_tier)) {
    return http::ErrorResponse(
        MakeError(ErrorKind::kPermissionDenied, "tier_not_allowed",
                  "This token may not request tier " + std::string(TierName(req->tier)), "tier"));
  }
  if (req->amount > TierLimit(req->tier)) {
    return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "amount_exceeds_tier_limit",
                                         "amount exceeds the " + std::string(TierName(req->tier)) +
                                             " limit of " + std::to_string(TierLimit(req->tier)),
                                         "amount"));
  }
  const std::string& client = caller.client.name;
  const bool keyed = !caller.idempotency_key.empty();
  const std::string stripe_key =
      DeriveStripeKey(client, "create", keyed ? caller.idempotency_key : crypto::RandomHex(16));
  const std::string chitty_id = ObtainChittyId(deps, *req, client, stripe_key, keyed);
  stripe::CreateParams params{req->amount,         req->currency,
                              req->description,    req->customer_email,
                              req->payment_method, StripeMetadata(*req, client, chitty_id)};
  auto pi = deps.stripe.Create(params, stripe_key);
  if (!pi) {
    if (pi.error().kind == ErrorKind::kPaymentDeclined && !pi.error().id.empty()) {
      AbandonDeclined(deps, client, pi.error().id);
    }
    return http::ErrorResponse(pi.error());
  }
  const std::string client_secret = std::move(pi->client_secret);
  const HoldRecord record = HoldRecord::FromStripe(std::move(*pi), std::nullopt, caller.now);
  HoldRepository(deps.stripe, deps.store).Save(record);
  return http::Json(201, RenderHold(record, client_secret));
}

http::Response GetHold(const http::Deps& deps, const http::Caller& caller, std::string_view id) {
  if (deps.settled != nullptr) {
    if (auto body = deps.settled->Find(id, caller.client.name, caller.now)) {
      return http::Json(200, *body);
    }
  }
  auto record = HoldRepository(deps.stripe, deps.store).Load(id, caller.client.name, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  std::string body = RenderHold(*record);
  if (deps.settled != nullptr) deps.settled->Remember(id, *record, body, caller.now);
  return http::Json(200, std::move(body));
}

http::Response ListHolds(const http::Deps& deps, const http::Caller& caller,
                         const http::Request& request) {
  auto q = ParseListQuery(deps, caller, http::ParseQuery(request.query));
  if (!q) return http::ErrorResponse(q.error());
  const int fetch = std::min(100, q->limit + (q->starting_after.empty() ? 0 : 10));
  auto page = deps.stripe.Search(q->search, fetch, "");
  if (!page) return http::ErrorResponse(page.error());
  // Stripe matches metadata case-insensitively: "Alpha"'s search also finds "alpha"'s holds.
  std::erase_if(page->data, [&](const auto& pi) { return !OwnedBy(pi, caller.client.name); });
  auto data = AfterAnchor(std::move(page->data), *q);
  const bool has_more = page->has_more || data.size() > static_cast<size_t>(q->limit);
  if (data.size() > static_cast<size_t>(q->limit)) data.resize(static_cast<size_t>(q->limit));
  const std::string last_id = data.empty() ? std::string() : data.back().id;
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "data");
  w.StartArray();
  for (auto& pi : data) {
    WriteHold(w, HoldRecord::FromStripe(std::move(pi), std::nullopt, caller.now));
  }
  w.EndArray();
  json::Key(w, "has_more");
  w.Bool(has_more);
  if (has_more && !last_id.empty()) {
    json::Key(w, "next_starting_after");
    json::String(w, last_id);
  }
  w.EndObject();
  return http::Json(200, std::string(buf.GetString(), buf.GetSize()));
}

http::Response CaptureHold(const http::Deps& deps, const http::Caller& caller,
                           const http::Request& request, std::string_view id) {
  auto req = ParseCaptureHold(request.body);
  if (!req) return http::ErrorResponse(req.error());
  HoldRepository repo(deps.stripe, deps.store);
  bool from_stripe = false;
  auto record = repo.Load(id, caller.client.name, caller.now, &from_stripe);
  if (!record) return http::ErrorResponse(record.error());
  if (CaptureConflict(record->pi.status) && !from_stripe) {
    record = repo.Refresh(record->pi.id, caller.client.name, caller.now);  // cache may lag
    if (!record) return http::ErrorResponse(record.error());
  }
  if (auto conflict = CaptureConflict(record->pi.status)) return http::ErrorResponse(*conflict);
  if (req->amount_to_capture && *req->amount_to_capture > record->pi.amount_capturable) {
    return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "capture_exceeds_capturable",
                                         "amount_to_capture exceeds the capturable amount of " +
                                             std::to_string(record->pi.amount_capturable),
                                         "amount_to_capture"));
  }
  stripe::CaptureParams params{req->amount_to_capture, {}};
  if (!req->reason.empty()) params.metadata.emplace(kMetaCaptureReason, req->reason);
  const std::string discriminator =
      caller.idempotency_key.empty()
          ? std::to_string(req->amount_to_capture.value_or(-1)) + "\n" + req->reason
          : caller.idempotency_key;
  const std::string& pi_id = record->pi.id;
  auto pi = deps.stripe.Capture(
      pi_id, params, DeriveStripeKey(caller.client.name, "capture:" + pi_id, discriminator));
  if (!pi) {
    if (pi.error().kind == ErrorKind::kConflict && pi.error().code == "hold_not_capturable") {
      return StateConflict(repo, pi_id, caller, pi.error(), true);
    }
    return http::ErrorResponse(pi.error());
  }
  // Concurrent identical captures all get Stripe's one answer; keep the first one's time.
  auto earlier = repo.Cached(pi_id);
  const int64_t captured_at = earlier && earlier->captured_at ? *earlier->captured_at : caller.now;
  const HoldRecord captured = HoldRecord::FromStripe(std::move(*pi), captured_at, caller.now);
  repo.Save(captured);
  return Ok200(captured);
}

http::Response CancelHold(const http::Deps& deps, const http::Caller& caller,
                          const http::Request& request, std::string_view id) {
  auto req = ParseCancelHold(request.body);
  if (!req) return http::ErrorResponse(req.error());
  HoldRepository repo(deps.stripe, deps.store);
  auto record = repo.Load(id, caller.client.name, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  if (auto conflict = CancelConflict(record->pi.status)) return http::ErrorResponse(*conflict);
  const std::string pi_id = record->pi.id;
  const std::string& client = caller.client.name;
  const std::string discriminator = caller.idempotency_key.empty()
                                        ? req->cancellation_reason + "\n" + req->reason
                                        : caller.idempotency_key;
  if (!req->reason.empty()) {
    auto updated = deps.stripe.UpdateMetadata(
        pi_id, {{std::string(kMetaCancelReason), req->reason}},
        DeriveStripeKey(client, "cancel-reason:" + pi_id, discriminator));
    if (!updated) return http::ErrorResponse(updated.error());
  }
  auto pi = deps.stripe.Cancel(pi_id, stripe::CancelParams{req->cancellation_reason},
                               DeriveStripeKey(client, "cancel:" + pi_id, discriminator));
  if (!pi) {
    if (pi.error().kind == ErrorKind::kConflict && pi.error().code == "hold_not_capturable") {
      return StateConflict(repo, pi_id, caller, pi.error(), false);
    }
    return http::ErrorResponse(pi.error());
  }
  const HoldRecord canceled =
      HoldRecord::FromStripe(std::move(*pi), record->captured_at, caller.now);
  repo.Save(canceled);
  return Ok200(canceled);
}

}  // namespace cc::holds
