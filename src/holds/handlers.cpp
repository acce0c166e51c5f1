#include "holds/handlers.h"

#include <array>

#include "chittyid/pending_id.h"
#include "claims/claim.h"
#include "claims/currency.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/time_util.h"
#include "holds/disputes.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "holds/hold_request.h"
#include "holds/journal.h"
#include "holds/settled_holds.h"
#include "holds/stripe_key.h"

namespace cc::holds {
namespace {

constexpr size_t kMaxListFilter = 500;  // characters, as property_id/tenant_id at create

// What the hold object shows beyond the PaymentIntent: the ledger's part (when known)
// and the tier limit in the hold's currency.
HoldSchedule ViewOf(const http::Deps& deps, const HoldRecord& record,
                    const std::optional<ledger::Hold>& known) {
  HoldSchedule view = known ? ScheduleOf(*known) : HoldSchedule{};
  if (const auto currency = claims::ParseCurrency(record.pi.currency)) {
    if (const auto limits = deps.config.tier_limits.For(*currency)) {
      view.tier_limit = limits->For(HoldTier(record.pi));
    }
  }
  return view;
}

http::Response Ok200(const http::Deps& deps, const HoldRecord& record,
                     const std::optional<ledger::Hold>& known) {
  return http::Json(200, RenderHold(record, {}, ViewOf(deps, record, known)));
}

http::Response NoSuchHold() {
  return http::ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found", "No such hold"));
}

// A ledger error as the client sees it: another request recorded under the Stripe key
// is the contract's 422, as the memcached guard answers it.
http::Response LedgerError(const Error& error) {
  if (error.code == "idempotency_key_reused") {
    return http::ErrorResponse(
        MakeError(ErrorKind::kUnprocessable, "idempotency_key_reused",
                  "Idempotency-Key was already used for a different request"));
  }
  return http::ErrorResponse(error);
}

// Stripe's answer is final (a retry gets the same): the intent may be closed as failed.
// Timeouts, 5xx and unreachable Stripe leave it pending for the reconciler to settle.
bool Definitive(const Error& error) {
  return error.kind != ErrorKind::kUpstream && error.kind != ErrorKind::kDeadlineExceeded &&
         error.kind != ErrorKind::kUnavailable && error.kind != ErrorKind::kInternal;
}

// The hold's ChittyID: minted, or a deterministic PENDING one (replaced later) when
// ChittyID fails. A keyed retry never mints again: the first id is in the ledger's intent.
std::string MintChittyId(const http::Deps& deps, const CreateHoldRequest& req,
                         const std::string& client, const std::string& stripe_key) {
  stripe::Metadata mint_meta{{"client", client}};
  if (!req.property_id.empty()) mint_meta.emplace("property_id", req.property_id);
  if (!req.tenant_id.empty()) mint_meta.emplace("tenant_id", req.tenant_id);
  auto minted = deps.chittyid.MintAuth(mint_meta);
  if (minted) return *minted;
  log::Warn("chittyid mint failed; using a pending id",
            {log::Str("error", minted.error().message)});
  return chittyid::PendingChittyId(chittyid::PendingUniqueFromKey(stripe_key));
}

// The durable intent before a Stripe POST (CONTRACT.md: no money moves without its record).
Result<ledger::StripeIntent> BeginIntent(const http::Deps& deps, const http::Caller& caller,
                                         const std::string& key, std::string_view operation,
                                         const std::string& hold_id, const std::string& digest,
                                         std::string request_json) {
  ledger::StripeIntent intent;
  intent.idempotency_key = key;
  intent.operation = std::string(operation);
  intent.hold_id = hold_id;
  intent.params_digest = digest;
  intent.request_json = std::move(request_json);
  intent.created_at = caller.now;
  return deps.ledger.BeginIntent(intent);
}

// A keyed call's earlier intent under the same Stripe key: nullopt when none; 422 when
// it served another request; 503 when the ledger is down.
Result<std::optional<ledger::StripeIntent>> PriorIntent(const http::Deps& deps,
                                                        const http::Caller& caller,
                                                        const std::string& key,
                                                        const std::string& digest) {
  if (caller.idempotency_key.empty()) return std::optional<ledger::StripeIntent>();
  auto prior = deps.ledger.FindIntent(key);
  if (!prior) return Fail(prior.error());
  if (*prior && (*prior)->params_digest != digest) {
    return Fail(ErrorKind::kConflict, "idempotency_key_reused",
                "this Stripe idempotency key was recorded with other parameters");
  }
  return prior;
}

// The ledger's hold for an id the client named, checked first on every changing call (a
// down ledger answers 503 before any Stripe call). Another client's hold ⇒ 404.
Result<std::optional<ledger::Hold>> OwnLedgerHold(const http::Deps& deps,
                                                  const http::Caller& caller, std::string_view id) {
  auto known = deps.ledger.FindHold(id);
  if (!known) return Fail(known.error());
  if (*known && (*known)->client != caller.client.name) {
    return Fail(ErrorKind::kNotFound, "not_found", "No such hold");
  }
  return known;
}

void Journal(const http::Deps& deps, const HoldRecord& record, const Actor& actor, int64_t now,
             std::string_view detail, const std::string& intent_key) {
  if (auto synced = SyncHold(deps.ledger, record, actor, now, detail); !synced) {
    log::Warn("hold event not recorded; the reconciler will record it",
              {log::Str("pi", record.pi.id), log::Str("error", synced.error().message)});
    return;  // the intent stays pending: the reconciler repeats the record
  }
  FinishIntent(deps.ledger, intent_key, record.pi, now);
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
void AbandonDeclined(const http::Deps& deps, const http::Caller& caller, const std::string& pi_id) {
  const std::string key = DeriveStripeKey(caller.client.name, "abandon", pi_id);
  if (!BeginIntent(deps, caller, key, "abandon", pi_id,
                   RequestDigest(caller.client.name, "abandon", pi_id),
                   IntentRequest({{"payment_intent", pi_id}}))) {
    return;  // the ledger is down: the reconciler or Stripe's own expiry releases it
  }
  auto canceled = deps.stripe.Cancel(pi_id, stripe::CancelParams{"abandoned"}, key);
  if (canceled) {
    FinishIntent(deps.ledger, key, *canceled, caller.now);
  } else {
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

// A time filter: RFC 3339, or unix seconds.
Result<std::optional<int64_t>> TimeParam(const std::map<std::string, std::string>& q,
                                         const std::string& name) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty()) return std::optional<int64_t>();
  const std::string& v = it->second;
  if (auto t = ParseRfc3339(v)) return std::optional<int64_t>(*t);
  if (v.size() <= 12 && v.find_first_not_of("0123456789") == std::string::npos) {
    return std::optional<int64_t>(std::stoll(v));
  }
  return Fail(ErrorKind::kInvalidArgument, "invalid_request",
              name + " must be an RFC 3339 time (2026-01-31T12:00:00Z) or unix seconds", name);
}

Result<int> LimitParam(const std::map<std::string, std::string>& q, int fallback) {
  auto it = q.find("limit");
  if (it == q.end()) return fallback;
  const std::string& v = it->second;
  const bool digits = !v.empty() && v.size() <= 3 && v.find_first_not_of("0123456789") == v.npos;
  const int limit = digits ? std::stoi(v) : 0;
  if (limit < 1 || limit > 100) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                "limit must be an integer from 1 to 100", "limit");
  }
  return limit;
}

Result<ledger::HoldFilter> ParseListQuery(const http::Caller& caller,
                                          const std::map<std::string, std::string>& q) {
  ledger::HoldFilter f;
  f.client = caller.client.name;
  for (std::string_view field : {kMetaPropertyId, kMetaTenantId}) {
    auto it = q.find(std::string(field));
    if (it == q.end() || it->second.empty()) continue;
    if (auto bad = BadListFilter(field, it->second)) return Fail(std::move(*bad));
    (field == kMetaPropertyId ? f.property_id : f.tenant_id) = it->second;
  }
  if (auto it = q.find("status"); it != q.end() && !it->second.empty()) {
    if (!KnownStatus(it->second) && it->second != "scheduled") {
      return Fail(ErrorKind::kInvalidArgument, "invalid_request", "unknown status", "status");
    }
    f.status = it->second;
  }
  auto limit = LimitParam(q, 20);
  if (!limit) return Fail(limit.error());
  f.limit = *limit;
  auto expiring = TimeParam(q, "expiring_before");
  auto after = TimeParam(q, "created_after");
  auto before = TimeParam(q, "created_before");
  for (const auto* t : {&expiring, &after, &before}) {
    if (!*t) return Fail(t->error());
  }
  f.expiring_before = *expiring;
  f.created_after = *after;
  f.created_before = *before;
  if (auto it = q.find("starting_after"); it != q.end()) f.starting_after = it->second;
  return f;
}

// What a client's call records: its actor, and the intent's request (replayed by the
// reconciler's repair with the same actor).
std::string CallRequest(const http::Caller& caller, const std::string& pi_id,
                        std::string_view reason) {
  return IntentRequest({{"payment_intent", pi_id},
                        {"actor", "client:" + caller.client.name},
                        {"request_id", caller.request_id},
                        {"reason", reason}});
}

// The evidence files uploaded for the hold being captured (CONTRACT.md "Evidence": an id
// may be used in that hold's claim items only). Evidence upload is not built yet, so no
// hold has any and CheckClaim refuses every evidence id as not this hold's (400
// invalid_request, param items). The upload will record its files in the ledger and this
// set will be read from there.
const claims::EvidenceIds& UploadedEvidence() {
  static const claims::EvidenceIds kNone;
  return kNone;
}

// Stripe's minimum charge in the hold's currency. A currency the service does not know
// (a hold created elsewhere) has no minimum here: Stripe's answer decides.
int64_t MinimumCapture(std::string_view currency) {
  const auto known = claims::ParseCurrency(currency);
  return known ? claims::MinimumChargeAmount(*known) : 1;
}

// A first capture attempt against the hold, before anything is recorded or sent: an
// itemized claim by CheckClaim, a plain amount_to_capture by CheckCaptureAmount (a full
// capture, neither given, takes amount_capturable as it is).
Status CheckCapture(const claims::CaptureRequest& req, const stripe::PaymentIntent& pi) {
  const int64_t minimum = MinimumCapture(pi.currency);
  if (req.claim) {
    return claims::CheckClaim(*req.claim, pi.amount_capturable, minimum, UploadedEvidence());
  }
  if (req.amount_to_capture) {
    return claims::CheckCaptureAmount(*req.amount_to_capture, pi.amount_capturable, minimum,
                                      "amount_to_capture");
  }
  return Ok();
}

// What tells unkeyed captures of one PaymentIntent apart for their Stripe key: the amount,
// the reason and, for an itemized one, the claim (so two claims never share a key). A
// keyed capture: the client's key.
std::string CaptureDiscriminator(const http::Caller& caller, const claims::CaptureRequest& req) {
  if (!caller.idempotency_key.empty()) return caller.idempotency_key;
  std::string out = std::to_string(req.amount_to_capture.value_or(-1)) + "\n" + req.reason;
  if (req.claim) out += "\n" + claims::RenderClaim(*req.claim, std::nullopt);
  return out;
}

// The Stripe capture: the claim's total (or amount_to_capture; none = everything), the
// reason and the claim's short summary in metadata.
stripe::CaptureParams CaptureParamsOf(const claims::CaptureRequest& req) {
  stripe::CaptureParams params{req.Amount(), {}};
  if (!req.reason.empty()) params.metadata.emplace(kMetaCaptureReason, req.reason);
  if (req.claim) {
    claims::ClaimSummary summary = claims::SummarizeClaim(*req.claim);
    params.metadata.emplace(claims::kMetaClaimItems, std::move(summary.items));
    params.metadata.emplace(claims::kMetaClaimTotal, std::move(summary.total));
  }
  return params;
}

std::string ReasonDetail(std::string_view reason, std::optional<int64_t> amount) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  if (!reason.empty()) {
    json::Key(w, "reason");
    json::String(w, reason);
  }
  if (amount) {
    json::Key(w, "amount_to_capture");
    w.Int64(*amount);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

// The 409 before a refund of a hold in `status` with `remaining` captured and not yet
// refunded; nullopt when `amount` may be refunded.
std::optional<Error> RefundConflict(std::string_view status, int64_t remaining, int64_t amount) {
  if (status != "succeeded") {
    return MakeError(ErrorKind::kConflict, "hold_not_refundable",
                     "Only a captured hold can be refunded; this one is " + std::string(status));
  }
  if (remaining <= 0 || amount > remaining) {
    return MakeError(
        ErrorKind::kConflict, "refund_exceeds_captured",
        "The refund exceeds what is left to refund (" + std::to_string(remaining) + ")", "amount");
  }
  return std::nullopt;
}

// The refund's audit event, after the hold's row is in line with Stripe; then its intent.
void JournalRefund(const http::Deps& deps, const HoldRecord& record, const stripe::Refund& refund,
                   const Actor& actor, int64_t now, const std::string& intent_key) {
  Status recorded = SyncHold(deps.ledger, record, actor, now);
  if (recorded) recorded = RecordRefund(deps.ledger, record, refund, actor, now);
  if (!recorded) {
    log::Warn("refund event not recorded; its webhook or the reconciler will record it",
              {log::Str("pi", record.pi.id), log::Str("refund", refund.id),
               log::Str("error", recorded.error().message)});
    return;
  }
  FinishRefundIntent(deps.ledger, intent_key, refund, now);
}

// After Stripe captured: the records in the journal's order (the claim on the hold, the
// `captured` event with the claim in its detail, the intent's result) and the 200 with the
// hold's claim as the ledger keeps it.
http::Response AnswerCaptured(const http::Deps& deps, const http::Caller& caller,
                              HoldRepository& repo, stripe::PaymentIntent pi,
                              const claims::CaptureRequest& req,
                              const std::optional<ledger::Hold>& known, const std::string& key,
                              int64_t asked_at) {
  const std::string hold_id = known ? known->id : pi.id;
  // Concurrent identical captures share one intent and get Stripe's one answer: all show
  // the time the first of them asked (the intent's), as the reconciler's repair does.
  const int64_t captured_at = asked_at;
  const HoldRecord captured = HoldRecord::FromStripe(std::move(pi), captured_at, caller.now);
  HoldSchedule schedule = ViewOf(deps, captured, known);
  const std::string claim_json =
      req.claim ? claims::RenderClaim(*req.claim, captured_at) : std::string();
  auto recorded = RecordCapture(
      deps.ledger, captured, ClientActor(caller.client.name, caller.request_id), caller.now,
      WithClaim(ReasonDetail(req.reason, req.amount_to_capture), claim_json), hold_id, claim_json);
  if (recorded) {
    FinishIntent(deps.ledger, key, captured.pi, caller.now);
    if (!recorded->empty()) schedule.claim_json = std::move(*recorded);
  } else {  // the intent stays pending: the reconciler repeats the records, claim included
    log::Warn("capture not recorded; the reconciler will record it",
              {log::Str("pi", captured.pi.id), log::Str("error", recorded.error().message)});
    if (!claim_json.empty()) schedule.claim_json = claim_json;
  }
  repo.Save(captured);
  return http::Json(200, RenderHold(captured, {}, schedule));
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
  const auto limits = deps.config.tier_limits.For(*claims::ParseCurrency(req->currency));
  if (!limits) {
    return http::ErrorResponse(
        MakeError(ErrorKind::kInvalidArgument, "unsupported_currency",
                  req->currency + " holds need their tier limits configured (" +
                      claims::TierLimitsVariable(*claims::ParseCurrency(req->currency)) + ")",
                  "currency"));
  }
  const int64_t limit = limits->For(req->tier);
  if (req->amount > limit) {
    return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "amount_exceeds_tier_limit",
                                         "amount exceeds the " + std::string(TierName(req->tier)) +
                                             " limit of " + std::to_string(limit),
                                         "amount"));
  }
  if (req->release_after &&
      (*req->release_after <= caller.now || *req->release_after > caller.now + kMaxReleaseAfter)) {
    return http::ErrorResponse(
        MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                  "release_after must be in the future, at most 90 days ahead", "release_after"));
  }
  const std::string& client = caller.client.name;
  const bool keyed = !caller.idempotency_key.empty();
  const std::string stripe_key =
      DeriveStripeKey(client, "create", keyed ? caller.idempotency_key : crypto::RandomHex(16));
  const std::string digest = RequestDigest(client, "create", request.body);
  // A keyed retry sends Stripe exactly what the first attempt sent (its ChittyID is in the
  // intent), so Stripe answers with the same PaymentIntent whatever memcached forgot.
  auto prior = PriorIntent(deps, caller, stripe_key, digest);
  if (!prior) return LedgerError(prior.error());
  std::string chitty_id =
      *prior ? IntentField((*prior)->request_json, kMetaChittyId) : std::string();
  if (chitty_id.empty()) {
    auto begun =
        BeginIntent(deps, caller, stripe_key, "create", "", digest,
                    IntentRequest({{kMetaChittyId, MintChittyId(deps, *req, client, stripe_key)},
                                   {"actor", "client:" + client},
                                   {"request_id", caller.request_id}}));
    if (!begun) return LedgerError(begun.error());
    chitty_id = IntentField(begun->request_json, kMetaChittyId);  // a concurrent twin's, maybe
  }
  stripe::CreateParams params{req->amount,         req->currency,
                              req->description,    req->customer_email,
                              req->payment_method, StripeMetadata(*req, client, chitty_id)};
  auto pi = deps.stripe.Create(params, stripe_key);
  if (!pi) {
    if (Definitive(pi.error())) FailIntent(deps.ledger, stripe_key, pi.error(), caller.now);
    if (pi.error().kind == ErrorKind::kPaymentDeclined && !pi.error().id.empty()) {
      AbandonDeclined(deps, caller, pi.error().id);
    }
    return http::ErrorResponse(pi.error());
  }
  const std::string client_secret = std::move(pi->client_secret);
  const HoldRecord record = HoldRecord::FromStripe(std::move(*pi), std::nullopt, caller.now);
  if (auto recorded =
          RecordCreatedAndFinish(deps.ledger, record, ClientActor(client, caller.request_id),
                                 caller.now, stripe_key, req->release_after);
      !recorded) {
    // The card is authorized: answering an error would invite a second hold. The intent
    // stays pending and the reconciler records the hold from Stripe.
    log::Warn("created hold not recorded; the reconciler will record it",
              {log::Str("pi", record.pi.id), log::Str("error", recorded.error().message)});
  }
  HoldRepository(deps.stripe, deps.store).Save(record);
  HoldSchedule view = ViewOf(deps, record, std::nullopt);
  view.release_after = req->release_after;
  return http::Json(201, RenderHold(record, client_secret, view));
}

http::Response GetHold(const http::Deps& deps, const http::Caller& caller, std::string_view id) {
  if (deps.settled != nullptr) {
    if (auto body = deps.settled->Find(id, caller.client.name, caller.now)) {
      return http::Json(200, *body);
    }
  }
  auto record = HoldRepository(deps.stripe, deps.store).Load(id, caller.client.name, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  // The ledger's part (chain, schedule); a down ledger leaves it out, GET still answers.
  auto known = deps.ledger.FindHold(id);
  std::string body = RenderHold(*record, {}, ViewOf(deps, *record, known ? *known : std::nullopt));
  // A disputed hold is not settled: its `dispute` changes with Stripe's and the scheduler's.
  const bool disputed = known && *known && (*known)->dispute.has_value();
  if (deps.settled != nullptr && !disputed) deps.settled->Remember(id, *record, body, caller.now);
  return http::Json(200, std::move(body));
}

http::Response ListHolds(const http::Deps& deps, const http::Caller& caller,
                         const http::Request& request) {
  auto filter = ParseListQuery(caller, http::ParseQuery(request.query));
  if (!filter) return http::ErrorResponse(filter.error());
  auto page = deps.ledger.ListHolds(*filter);
  if (!page) {
    if (page.error().param == "starting_after") {
      return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                                           "starting_after must be the id of one of your holds",
                                           "starting_after"));
    }
    return http::ErrorResponse(page.error());
  }
  HoldRepository repo(deps.stripe, deps.store);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "data");
  w.StartArray();
  for (const auto& hold : page->data) {
    auto record = repo.Load(hold.id, caller.client.name, caller.now);
    if (!record) {
      if (record.error().kind == ErrorKind::kNotFound) continue;  // gone from Stripe
      return http::ErrorResponse(record.error());
    }
    WriteHold(w, *record, {}, ViewOf(deps, *record, hold));
  }
  w.EndArray();
  json::Key(w, "has_more");
  w.Bool(page->has_more);
  if (page->has_more && !page->data.empty()) {
    json::Key(w, "next_starting_after");
    json::String(w, page->data.back().id);
  }
  w.EndObject();
  return http::Json(200, std::string(buf.GetString(), buf.GetSize()));
}

http::Response ListHoldEvents(const http::Deps& deps, const http::Caller& caller,
                              const http::Request& request, std::string_view id) {
  const auto q = http::ParseQuery(request.query);
  auto limit = LimitParam(q, 20);
  if (!limit) return http::ErrorResponse(limit.error());
  auto known = OwnLedgerHold(deps, caller, id);
  if (!known) return http::ErrorResponse(known.error());
  if (!*known) {
    // A hold the ledger does not know by this id: a replaced ChittyID, or a hold older than
    // the ledger. Stripe says whose it is; an owned one is imported.
    auto record = HoldRepository(deps.stripe, deps.store).Load(id, caller.client.name, caller.now);
    if (!record) return http::ErrorResponse(record.error());
    if (auto synced =
            SyncHold(deps.ledger, *record, Actor{"stripe", caller.request_id}, caller.now);
        !synced) {
      return http::ErrorResponse(synced.error());
    }
    known = OwnLedgerHold(deps, caller, record->pi.id);
    if (!known) return http::ErrorResponse(known.error());
    if (!*known) return NoSuchHold();
  }
  const auto after = q.find("starting_after");
  auto page = deps.ledger.ListEvents((*known)->id, after == q.end() ? "" : after->second, *limit);
  if (!page) {
    if (page.error().param == "starting_after") {
      return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                                           "starting_after must be an event id of this hold",
                                           "starting_after"));
    }
    return http::ErrorResponse(page.error());
  }
  return http::Json(200, RenderEventPage(*page));
}

http::Response CaptureHold(const http::Deps& deps, const http::Caller& caller,
                           const http::Request& request, std::string_view id) {
  auto req = claims::ParseCaptureRequest(request.body);
  if (!req) return http::ErrorResponse(req.error());
  auto known = OwnLedgerHold(deps, caller, id);
  if (!known) return http::ErrorResponse(known.error());
  HoldRepository repo(deps.stripe, deps.store);
  bool from_stripe = false;
  auto record = repo.Load(id, caller.client.name, caller.now, &from_stripe);
  if (!record) return http::ErrorResponse(record.error());
  const std::string pi_id = record->pi.id;
  const std::string key =
      DeriveStripeKey(caller.client.name, "capture:" + pi_id, CaptureDiscriminator(caller, *req));
  const std::string digest = RequestDigest(caller.client.name, "capture:" + pi_id, request.body);
  auto prior = PriorIntent(deps, caller, key, digest);
  if (!prior) return LedgerError(prior.error());
  int64_t asked_at = *prior ? (*prior)->created_at : caller.now;
  if (!*prior) {  // a first attempt (a keyed repeat goes to Stripe again and gets its replay)
    if (CaptureConflict(record->pi.status) && !from_stripe) {
      record = repo.Refresh(pi_id, caller.client.name, caller.now);  // cache may lag
      if (!record) return http::ErrorResponse(record.error());
    }
    if (auto conflict = CaptureConflict(record->pi.status)) return http::ErrorResponse(*conflict);
    if (auto refused = CheckCapture(*req, record->pi); !refused) {
      return http::ErrorResponse(refused.error());
    }
    // The claim is on disk before Stripe is called: in the intent's request.
    auto begun =
        BeginIntent(deps, caller, key, "capture", *known ? (*known)->id : pi_id, digest,
                    CaptureIntentRequest(pi_id, ClientActor(caller.client.name, caller.request_id),
                                         req->reason, req->claim ? &*req->claim : nullptr));
    if (!begun) return LedgerError(begun.error());
    asked_at = begun->created_at;  // a concurrent twin's, maybe
  }
  auto pi = deps.stripe.Capture(pi_id, CaptureParamsOf(*req), key);
  if (!pi) {
    if (Definitive(pi.error())) FailIntent(deps.ledger, key, pi.error(), caller.now);
    if (pi.error().kind == ErrorKind::kConflict && pi.error().code == "hold_not_capturable") {
      return StateConflict(repo, pi_id, caller, pi.error(), true);
    }
    return http::ErrorResponse(pi.error());
  }
  return AnswerCaptured(deps, caller, repo, std::move(*pi), *req, *known, key, asked_at);
}

http::Response CancelHold(const http::Deps& deps, const http::Caller& caller,
                          const http::Request& request, std::string_view id) {
  auto req = ParseCancelHold(request.body);
  if (!req) return http::ErrorResponse(req.error());
  auto known = OwnLedgerHold(deps, caller, id);
  if (!known) return http::ErrorResponse(known.error());
  HoldRepository repo(deps.stripe, deps.store);
  auto record = repo.Load(id, caller.client.name, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  const std::string pi_id = record->pi.id;
  const std::string& client = caller.client.name;
  const std::string discriminator = caller.idempotency_key.empty()
                                        ? req->cancellation_reason + "\n" + req->reason
                                        : caller.idempotency_key;
  const std::string key = DeriveStripeKey(client, "cancel:" + pi_id, discriminator);
  const std::string digest = RequestDigest(client, "cancel:" + pi_id, request.body);
  auto prior = PriorIntent(deps, caller, key, digest);
  if (!prior) return LedgerError(prior.error());
  if (!*prior) {
    if (auto conflict = CancelConflict(record->pi.status)) return http::ErrorResponse(*conflict);
    auto begun = BeginIntent(deps, caller, key, "cancel", *known ? (*known)->id : pi_id, digest,
                             CallRequest(caller, pi_id, req->reason));
    if (!begun) return LedgerError(begun.error());
  }
  auto pi = deps.stripe.Cancel(pi_id, stripe::CancelParams{req->cancellation_reason}, key);
  if (!pi) {
    if (Definitive(pi.error())) FailIntent(deps.ledger, key, pi.error(), caller.now);
    if (pi.error().kind == ErrorKind::kConflict && pi.error().code == "hold_not_capturable") {
      return StateConflict(repo, pi_id, caller, pi.error(), false);
    }
    return http::ErrorResponse(pi.error());
  }
  Journal(deps, HoldRecord::FromStripe(*pi, record->captured_at, caller.now),
          ClientActor(client, caller.request_id), caller.now, ReasonDetail(req->reason, {}), key);
  // Only the cancel that took effect writes its reason (a losing one got its 409 above).
  if (!req->reason.empty()) {
    const std::string reason_key = DeriveStripeKey(client, "cancel-reason:" + pi_id, discriminator);
    auto begun = BeginIntent(deps, caller, reason_key, "cancel-reason", pi_id, digest,
                             CallRequest(caller, pi_id, req->reason));
    auto updated = begun ? deps.stripe.UpdateMetadata(
                               pi_id, {{std::string(kMetaCancelReason), req->reason}}, reason_key)
                         : Result<stripe::PaymentIntent>(Fail(begun.error()));
    if (updated) {
      FinishIntent(deps.ledger, reason_key, *updated, caller.now);
      pi = std::move(updated);
    } else {
      log::Warn("cancel reason not written to Stripe; the audit trail has it",
                {log::Str("pi", pi_id), log::Str("error", updated.error().message)});
    }
  }
  const HoldRecord canceled =
      HoldRecord::FromStripe(std::move(*pi), record->captured_at, caller.now);
  repo.Save(canceled);
  return Ok200(deps, canceled, *known);
}

http::Response RefundHold(const http::Deps& deps, const http::Caller& caller,
                          const http::Request& request, std::string_view id) {
  auto req = ParseRefundHold(request.body);
  if (!req) return http::ErrorResponse(req.error());
  auto known = OwnLedgerHold(deps, caller, id);
  if (!known) return http::ErrorResponse(known.error());
  const std::string& client = caller.client.name;
  HoldRepository repo(deps.stripe, deps.store);
  bool from_stripe = false;
  auto record = repo.Load(id, client, caller.now, &from_stripe);
  if (!record) return http::ErrorResponse(record.error());
  const std::string pi_id = record->pi.id;
  if (!from_stripe) {  // what is left to refund is Stripe's to say, never the cache's
    record = repo.Refresh(pi_id, client, caller.now);
    if (!record) return http::ErrorResponse(record.error());
  }
  const int64_t remaining = record->pi.amount_received - record->pi.amount_refunded;
  int64_t amount = req->amount.value_or(remaining);
  // Unkeyed: identical concurrent requests (which saw the same amount refunded) are one
  // Stripe refund; the same request after it saw more refunded and is a new one.
  const std::string discriminator =
      caller.idempotency_key.empty()
          ? (req->amount ? std::to_string(*req->amount) : std::string("rest")) + "\n" +
                req->reason + "\n" + std::to_string(record->pi.amount_refunded)
          : caller.idempotency_key;
  const std::string key = DeriveStripeKey(client, "refund:" + pi_id, discriminator);
  const std::string digest = RequestDigest(client, "refund:" + pi_id, request.body);
  auto prior = PriorIntent(deps, caller, key, digest);
  if (!prior) return LedgerError(prior.error());
  if (*prior) {  // a keyed repeat: Stripe replays the first answer for the first amount
    const std::string first = IntentField((*prior)->request_json, "amount");
    if (!first.empty()) amount = std::stoll(first);
  } else {
    if (auto conflict = RefundConflict(record->pi.status, remaining, amount)) {
      return http::ErrorResponse(*conflict);
    }
    const std::string amount_text = std::to_string(amount);
    auto begun = BeginIntent(deps, caller, key, "refund", *known ? (*known)->id : pi_id, digest,
                             IntentRequest({{"payment_intent", pi_id},
                                            {"actor", "client:" + client},
                                            {"request_id", caller.request_id},
                                            {"reason", req->reason},
                                            {"amount", amount_text}}));
    if (!begun) return LedgerError(begun.error());
    const std::string begun_amount = IntentField(begun->request_json, "amount");
    if (!begun_amount.empty()) amount = std::stoll(begun_amount);  // a concurrent twin's
  }
  auto refund = deps.stripe.CreateRefund(stripe::RefundParams{pi_id, amount, req->reason}, key);
  if (!refund) {
    if (Definitive(refund.error())) FailIntent(deps.ledger, key, refund.error(), caller.now);
    return http::ErrorResponse(refund.error());
  }
  // The event first (its charge.refunded webhook is on its way), then Stripe's new state.
  JournalRefund(deps, *record, *refund, ClientActor(client, caller.request_id), caller.now, key);
  auto after = repo.Refresh(pi_id, client, caller.now);  // amount_refunded, as Stripe has it
  HoldRecord refunded = after ? std::move(*after) : *record;
  if (!after) refunded.pi.amount_refunded += refund->amount;
  repo.Save(refunded);
  std::string body = RenderHold(refunded, {}, ViewOf(deps, refunded, *known));
  if (deps.settled != nullptr) {  // a GET of this process must not serve the body before it
    deps.settled->Remember(id, refunded, body, caller.now);
    if (id != pi_id) deps.settled->Remember(pi_id, refunded, body, caller.now);
  }
  return http::Json(200, std::move(body));
}

http::Response SubmitDispute(const http::Deps& deps, const http::Caller& caller,
                             const http::Request& /*request*/, std::string_view id) {
  auto known = OwnLedgerHold(deps, caller, id);  // a down ledger: 503 before any Stripe call
  if (!known) return http::ErrorResponse(known.error());
  const std::string& client = caller.client.name;
  HoldRepository repo(deps.stripe, deps.store);
  const auto no_dispute = [] {
    return http::ErrorResponse(
        MakeError(ErrorKind::kConflict, "no_dispute", "This hold has no dispute"));
  };
  const auto already = [] {
    return http::ErrorResponse(MakeError(ErrorKind::kConflict, "dispute_already_submitted",
                                         "The dispute's evidence was already submitted"));
  };
  if (!*known) {  // not in the ledger: a hold of this client at Stripe has no dispute here
    auto record = repo.Load(id, client, caller.now);
    if (!record) return http::ErrorResponse(record.error());
    return no_dispute();
  }
  const ledger::Hold& hold = **known;
  if (!hold.dispute) return no_dispute();
  const ledger::Dispute& d = *hold.dispute;
  if (d.submitted_at) return already();
  const std::string key = DisputeSubmitKey(d.id);
  auto prior = deps.ledger.FindIntent(key);
  if (!prior) return LedgerError(prior.error());
  if (*prior && (*prior)->state == ledger::IntentState::kSucceeded) return already();
  if (!DisputeOpenForEvidence(d.status)) {
    if (d.status == "under_review" || d.status == "warning_under_review") return already();
    return http::ErrorResponse(MakeError(ErrorKind::kConflict, "dispute_closed",
                                         "The dispute is closed (" + d.status + ")"));
  }
  if (!d.staged_at) {
    return http::ErrorResponse(
        MakeError(ErrorKind::kConflict, "dispute_evidence_not_staged",
                  "The evidence is not staged yet; the scheduler stages it on its next pass"));
  }
  const std::string pi_id = hold.payment_intents.empty() ? hold.id : hold.payment_intents.back();
  auto begun = BeginIntent(deps, caller, key, "dispute_submit", hold.id, crypto::Sha256Hex(key),
                           IntentRequest({{"dispute", d.id},
                                          {"payment_intent", pi_id},
                                          {"actor", "client:" + client},
                                          {"request_id", caller.request_id}}));
  if (!begun) return LedgerError(begun.error());
  auto submitted = deps.stripe.UpdateDispute(d.id, stripe::DisputeUpdate{{}, true}, key);
  if (!submitted) {
    if (!Definitive(submitted.error())) return http::ErrorResponse(submitted.error());
    auto current = deps.stripe.RetrieveDispute(d.id);  // answered elsewhere (the Dashboard)?
    if (current && current->submission_count > 0) {
      submitted = std::move(current);
    } else {
      FailIntent(deps.ledger, key, submitted.error(), caller.now);
      return http::ErrorResponse(submitted.error());
    }
  }
  const Actor actor = ClientActor(client, caller.request_id);
  if (auto recorded = RecordDisputeSubmitted(deps.ledger, hold, *submitted, actor, caller.now);
      !recorded) {
    log::Warn("dispute submission not recorded; the reconciler will record it",
              {log::Str("hold", hold.id), log::Str("error", recorded.error().message)});
    return http::ErrorResponse(recorded.error());
  }
  if (auto done = deps.ledger.FinishIntent(
          key, ledger::IntentState::kSucceeded,
          IntentRequest({{"id", submitted->id}, {"status", submitted->status}}), "", caller.now);
      !done) {
    log::Warn("dispute intent left pending", {log::Str("error", done.error().message)});
  }
  auto after = deps.ledger.FindHold(hold.id);
  auto record = repo.Load(hold.id, client, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  return Ok200(deps, *record, after ? *after : *known);
}

}  // namespace cc::holds
