#include "holds/handlers.h"

#include <algorithm>
#include <array>

#include "chittyid/pending_id.h"
#include "claims/claim.h"
#include "claims/currency.h"
#include "claims/evidence_file.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/time_util.h"
#include "holds/authorize.h"
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

// The ledger's hold for an id the client named, imported from Stripe when the ledger does
// not know it by this id (a replaced ChittyID, or a hold older than the ledger): Stripe
// says whose it is. Another client's hold, or none ⇒ 404; a down ledger ⇒ 503.
Result<ledger::Hold> LedgerHoldFor(const http::Deps& deps, const http::Caller& caller,
                                   std::string_view id) {
  auto known = OwnLedgerHold(deps, caller, id);
  if (!known) return Fail(known.error());
  if (*known) return std::move(**known);
  auto record = HoldRepository(deps.stripe, deps.store).Load(id, caller.client.name, caller.now);
  if (!record) return Fail(record.error());
  if (auto synced = SyncHold(deps.ledger, *record, Actor{"stripe", caller.request_id}, caller.now);
      !synced) {
    return Fail(synced.error());
  }
  known = OwnLedgerHold(deps, caller, record->pi.id);
  if (!known) return Fail(known.error());
  if (!*known) return Fail(ErrorKind::kNotFound, "not_found", "No such hold");
  return std::move(**known);
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
// may be used in that hold's claim items only), read from the ledger only when the claim
// names any. A hold the ledger does not know has none.
Result<claims::EvidenceIds> HoldEvidence(const http::Deps& deps, const claims::CaptureRequest& req,
                                         const std::optional<ledger::Hold>& known) {
  claims::EvidenceIds ids;
  if (!req.claim || !known) return ids;
  const bool names_any =
      std::any_of(req.claim->items.begin(), req.claim->items.end(),
                  [](const claims::ClaimItem& i) { return !i.evidence.empty(); });
  if (!names_any) return ids;
  auto files = deps.ledger.ListEvidence(known->id);
  if (!files) return Fail(files.error());
  for (auto& file : *files) ids.insert(std::move(file.id));
  return ids;
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
Status CheckCapture(const claims::CaptureRequest& req, const stripe::PaymentIntent& pi,
                    const claims::EvidenceIds& evidence) {
  const int64_t minimum = MinimumCapture(pi.currency);
  if (req.claim) return claims::CheckClaim(*req.claim, pi.amount_capturable, minimum, evidence);
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

// The 400 for the hold's times against `now` (release_after, authorize_at, stay_ends_at);
// nullopt when they are fine.
std::optional<Error> BadTimes(const CreateHoldRequest& req, int64_t now) {
  const auto bad = [](std::string message, std::string param) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid_request", std::move(message),
                     std::move(param));
  };
  if (req.release_after &&
      (*req.release_after <= now || *req.release_after > now + kMaxReleaseAfter)) {
    return bad("release_after must be in the future, at most 90 days ahead", "release_after");
  }
  if (req.authorize_at) {
    if (*req.authorize_at <= now || *req.authorize_at > now + kMaxAuthorizeAt) {
      return bad("authorize_at must be in the future, at most 90 days ahead", "authorize_at");
    }
    if (!req.payment_method.empty()) {
      return bad(
          "A scheduled hold has no PaymentIntent to confirm yet: the guest saves the card "
          "with the setup_client_secret",
          "payment_method");
    }
    if (req.release_after && *req.release_after <= *req.authorize_at) {
      return bad("release_after must be later than authorize_at", "release_after");
    }
  }
  if (req.stay_ends_at &&
      (*req.stay_ends_at <= req.authorize_at.value_or(now) || *req.stay_ends_at > now + kMaxStay)) {
    return bad(
        "stay_ends_at must be later than now (and than authorize_at), at most 366 days ahead",
        "stay_ends_at");
  }
  return std::nullopt;
}

// The Customer the guest's card is saved to (reauthorize, authorize_at), created under a
// key derived from the create's own: a keyed retry gets the same Customer.
Result<std::string> SaveCardCustomer(const http::Deps& deps, const http::Caller& caller,
                                     const CreateHoldRequest& req, const std::string& stripe_key,
                                     const std::string& chitty_id) {
  const std::string& client = caller.client.name;
  const std::string key = DeriveStripeKey(client, "customer", stripe_key);
  auto begun =
      BeginIntent(deps, caller, key, "customer", "", RequestDigest(client, "customer", stripe_key),
                  IntentRequest({{"actor", "client:" + client},
                                 {"request_id", caller.request_id},
                                 {kMetaChittyId, chitty_id}}));
  if (!begun) return Fail(begun.error());
  const stripe::Metadata metadata{{std::string(kMetaClient), client},
                                  {std::string(kMetaChittyId), chitty_id}};
  auto customer = deps.stripe.CreateCustomer({req.customer_email, metadata}, key);
  if (!customer) {
    if (Definitive(customer.error())) FailIntent(deps.ledger, key, customer.error(), caller.now);
    return Fail(customer.error());
  }
  if (auto done = deps.ledger.FinishIntent(key, ledger::IntentState::kSucceeded,
                                           IntentRequest({{"id", customer->id}}), "", caller.now);
      !done) {
    log::Warn("customer intent left pending", {log::Str("error", done.error().message)});
  }
  return customer->id;
}

// A scheduled hold's stand-in, cached under its SetupIntent id (not through
// HoldRepository::Save: its chitty_id must keep naming the PaymentIntent to come).
void CacheScheduled(const http::Deps& deps, const HoldRecord& record) {
  auto stored =
      deps.store.SetQuietly(HoldKey(record.pi.id), SerializeRecord(record), kHoldCacheTtl);
  if (!stored) log::Warn("hold cache write failed", {log::Str("error", stored.error().message)});
}

// A scheduled hold without a PaymentIntent yet, as the hold object shows it: its
// SetupIntent's part (cached), the ledger's status.
Result<HoldRecord> LoadScheduled(const http::Deps& deps, const ledger::Hold& hold, int64_t now) {
  HoldRecord record;
  if (auto cached = HoldRepository(deps.stripe, deps.store).Cached(hold.id)) {
    record = std::move(*cached);
  } else {
    auto setup = deps.stripe.RetrieveSetupIntent(hold.id);
    if (!setup) return Fail(setup.error());
    record = ScheduledRecord(hold, *setup, now);
    CacheScheduled(deps, record);
  }
  record.pi.status = hold.status;  // the ledger's: the cached stand-in may be older
  return record;
}

// POST /api/holds with authorize_at: a Customer (already made), a SetupIntent
// (usage=off_session) under the create's key, the hold recorded with status "scheduled" and
// its first event `scheduled`; 201 with setup_client_secret.
http::Response CreateScheduled(const http::Deps& deps, const http::Caller& caller,
                               const CreateHoldRequest& req, const std::string& stripe_key,
                               const std::string& chitty_id, const HoldTerms& terms) {
  const std::string& client = caller.client.name;
  auto setup = deps.stripe.CreateSetupIntent(
      {terms.customer, req.description, StripeMetadata(req, client, chitty_id)}, stripe_key);
  if (!setup) {
    if (Definitive(setup.error())) FailIntent(deps.ledger, stripe_key, setup.error(), caller.now);
    return http::ErrorResponse(setup.error());
  }
  ledger::Hold hold;
  hold.id = setup->id;
  hold.chitty_id = chitty_id;
  hold.client = client;
  hold.property_id = req.property_id;
  hold.tenant_id = req.tenant_id;
  hold.amount = req.amount;
  hold.currency = req.currency;
  hold.status = "scheduled";
  hold.created_at = caller.now;
  hold.release_after = terms.release_after;
  hold.authorize_at = terms.authorize_at;
  hold.stay_ends_at = terms.stay_ends_at;
  hold.reauthorize = terms.reauthorize;
  hold.customer = terms.customer;
  hold.disclosure_json = terms.disclosure;
  ledger::Event e;
  e.id = EventIdFor(hold.id, "scheduled");
  e.hold_id = hold.id;
  e.chitty_id = chitty_id;
  e.type = "scheduled";
  e.actor = "client:" + client;
  e.request_id = caller.request_id;
  e.status_after = hold.status;
  e.amount = hold.amount;
  e.currency = hold.currency;
  e.created_at = caller.now;
  e.detail_json = IntentRequest({{"authorize_at", FormatIso8601(*terms.authorize_at)}});
  // Unlike an authorization, a SetupIntent holds no money: an error answered here is safe,
  // and a keyed retry gets the same SetupIntent and records it (its intent may have been
  // closed by the reconciler meanwhile: the hold and its event are what count).
  if (auto recorded = deps.ledger.RecordCreate(
          hold, e, stripe_key, IntentRequest({{"id", setup->id}, {"status", setup->status}}),
          caller.now);
      !recorded && recorded.error().code != "intent_already_finished") {
    return LedgerError(recorded.error());
  }
  // Set once: a retry under the same key sets it when a failure here answered 503.
  if (auto set = RecordDisclosure(deps.ledger, hold.id, terms.disclosure); !set) {
    return LedgerError(set.error());
  }
  const HoldRecord record = ScheduledRecord(hold, *setup, caller.now);
  CacheScheduled(deps, record);
  HoldSchedule view = ViewOf(deps, record, hold);
  view.setup_client_secret = setup->client_secret;
  return http::Json(201, RenderHold(record, {}, view));
}

// A scheduled hold cancelled before its authorization: no money is held, so the ledger
// alone records it (event `canceled`); the scheduler then never authorizes it.
http::Response CancelScheduled(const http::Deps& deps, const http::Caller& caller,
                               const ledger::Hold& hold, const CancelHoldRequest& req) {
  if (auto conflict = CancelConflict(hold.status)) return http::ErrorResponse(*conflict);
  ledger::Event e;
  e.id = EventIdFor(hold.id, "canceled");
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.type = "canceled";
  e.actor = "client:" + caller.client.name;
  e.request_id = caller.request_id;
  e.status_before = hold.status;
  e.status_after = "canceled";
  e.amount = hold.amount;
  e.currency = hold.currency;
  e.created_at = caller.now;
  e.detail_json = ReasonDetail(req.reason, {});
  e.hold_reauthorization = "";
  if (auto appended = deps.ledger.AppendEvent(e); !appended) return LedgerError(appended.error());
  auto now_known = deps.ledger.FindHold(hold.id);
  const ledger::Hold canceled = now_known && *now_known ? **now_known : hold;
  auto record = LoadScheduled(deps, canceled, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  return Ok200(deps, *record, canceled);
}

// The hold object for a hold the ledger knows: its current PaymentIntent, or a scheduled
// hold's stand-in.
Result<HoldRecord> LoadLedgerHold(const http::Deps& deps, HoldRepository& repo,
                                  const ledger::Hold& hold, std::string_view client, int64_t now) {
  const std::string current = CurrentPaymentIntent(hold);
  if (current.empty()) return LoadScheduled(deps, hold, now);
  return repo.Load(current, client, now);
}

// The hold a PaymentIntent's chitty_id names in the ledger (a refused re-authorization's,
// which is in no chain), if any.
std::optional<ledger::Hold> OwnerOf(const http::Deps& deps, const stripe::PaymentIntent& pi) {
  auto chitty = pi.metadata.find(std::string(kMetaChittyId));
  if (chitty == pi.metadata.end() || chitty->second.empty()) return std::nullopt;
  auto owner = deps.ledger.FindHold(chitty->second);
  if (!owner || !*owner || (*owner)->id == pi.id) return std::nullopt;
  return std::move(*owner);
}

// Whether POST /reauthorize may act on the hold: authorized, or waiting for a card after a
// refused (re)authorization.
bool Reauthorizable(const ledger::Hold& hold) {
  return hold.status == "requires_capture" || !hold.reauthorization_json.empty() ||
         (hold.payment_intents.empty() && hold.status == "requires_payment_method");
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
  if (auto bad = BadTimes(*req, caller.now)) return http::ErrorResponse(*bad);
  if (auto accepted = CheckDisclosureTime(*req, caller.now); !accepted) {
    return http::ErrorResponse(accepted.error());
  }
  const std::string disclosure_json =
      req->disclosure ? RenderAcceptedDisclosure(*req->disclosure) : std::string();
  const std::string& client = caller.client.name;
  const bool keyed = !caller.idempotency_key.empty();
  const std::string stripe_key =
      DeriveStripeKey(client, "create", keyed ? caller.idempotency_key : crypto::RandomHex(16));
  const std::string digest = RequestDigest(client, "create", request.body);
  // A keyed retry sends Stripe exactly what the first attempt sent: its intent is recorded
  // under the same Stripe key, and BeginIntent answers with it (its ChittyID), whatever
  // memcached forgot; another request under that key ⇒ idempotency_key_reused. The mint
  // comes first so that a first attempt (nearly every create) costs one ledger statement;
  // a retry after memcached lost the key mints an id it does not use.
  const std::string minted = MintChittyId(deps, *req, client, stripe_key);
  const std::string intent_request = IntentRequest({{kMetaChittyId, minted},
                                                    {"actor", "client:" + client},
                                                    {"request_id", caller.request_id},
                                                    {"disclosure", disclosure_json}});
  auto begun = BeginIntent(deps, caller, stripe_key, req->authorize_at ? "schedule" : "create", "",
                           digest, intent_request);
  if (!begun) return LedgerError(begun.error());
  const std::string chitty_id =
      begun->request_json == intent_request
          ? minted
          : IntentField(begun->request_json, kMetaChittyId);  // the first's
  HoldTerms terms{req->release_after, req->authorize_at, req->stay_ends_at, req->reauthorize, "",
                  disclosure_json};
  if (req->reauthorize || req->authorize_at) {  // the guest's card is saved to a Customer
    auto customer = SaveCardCustomer(deps, caller, *req, stripe_key, chitty_id);
    if (!customer) return LedgerError(customer.error());
    terms.customer = std::move(*customer);
  }
  if (req->authorize_at) return CreateScheduled(deps, caller, *req, stripe_key, chitty_id, terms);
  stripe::CreateParams params{req->amount,         req->currency,
                              req->description,    req->customer_email,
                              req->payment_method, StripeMetadata(*req, client, chitty_id)};
  if (req->reauthorize) {  // saved for the off-session re-authorizations (STRIPE-NEXT §1.1)
    params.customer = terms.customer;
    params.setup_future_usage = "off_session";
  }
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
                                 caller.now, stripe_key, terms);
      !recorded) {
    // The card is authorized: answering an error would invite a second hold. The intent
    // stays pending and the reconciler records the hold from Stripe.
    log::Warn("created hold not recorded; the reconciler will record it",
              {log::Str("pi", record.pi.id), log::Str("error", recorded.error().message)});
  }
  HoldRepository(deps.stripe, deps.store).Save(record);
  const HoldSchedule view = ViewOf(deps, record, LedgerHoldOf(record, terms));
  return http::Json(201, RenderHold(record, client_secret, view));
}

http::Response GetHold(const http::Deps& deps, const http::Caller& caller, std::string_view id) {
  if (deps.settled != nullptr) {
    if (auto body = deps.settled->Find(id, caller.client.name, caller.now)) {
      return http::Json(200, *body);
    }
  }
  // The ledger's part (the chain and its current PaymentIntent, the schedule); a down ledger
  // leaves it out and GET still answers from the PaymentIntent named.
  auto known = deps.ledger.FindHold(id);
  std::optional<ledger::Hold> hold = known ? *known : std::nullopt;
  if (hold && hold->client != caller.client.name) return NoSuchHold();
  HoldRepository repo(deps.stripe, deps.store);
  auto record = hold ? LoadLedgerHold(deps, repo, *hold, caller.client.name, caller.now)
                     : repo.Load(id, caller.client.name, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  if (known && !hold) {  // a PaymentIntent outside any chain: a refused (re)authorization's?
    if (auto owner = OwnerOf(deps, record->pi); owner && owner->client == caller.client.name) {
      hold = std::move(owner);
      record = LoadLedgerHold(deps, repo, *hold, caller.client.name, caller.now);
      if (!record) return http::ErrorResponse(record.error());
    }
  }
  std::string body = RenderHold(*record, {}, ViewOf(deps, *record, hold));
  // A disputed hold is not settled: its `dispute` changes with Stripe's and the scheduler's.
  const bool disputed = hold && hold->dispute.has_value();
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
    auto record = LoadLedgerHold(deps, repo, hold, caller.client.name, caller.now);
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
  auto known = LedgerHoldFor(deps, caller, id);
  if (!known) return http::ErrorResponse(known.error());
  const auto after = q.find("starting_after");
  auto page = deps.ledger.ListEvents(known->id, after == q.end() ? "" : after->second, *limit);
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
  const std::string target = *known ? CurrentPaymentIntent(**known) : std::string(id);
  if (target.empty()) return http::ErrorResponse(*CaptureConflict((*known)->status));  // scheduled
  HoldRepository repo(deps.stripe, deps.store);
  bool from_stripe = false;
  auto record = repo.Load(target, caller.client.name, caller.now, &from_stripe);
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
    auto evidence = HoldEvidence(deps, *req, *known);
    if (!evidence) return LedgerError(evidence.error());
    if (auto refused = CheckCapture(*req, record->pi, *evidence); !refused) {
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
  const std::string target = *known ? CurrentPaymentIntent(**known) : std::string(id);
  if (target.empty()) return CancelScheduled(deps, caller, **known, *req);
  HoldRepository repo(deps.stripe, deps.store);
  auto record = repo.Load(target, caller.client.name, caller.now);
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
  const std::string target = *known ? CurrentPaymentIntent(**known) : std::string(id);
  if (target.empty()) {
    return http::ErrorResponse(RefundConflict((*known)->status, 0, 0)
                                   .value_or(MakeError(ErrorKind::kConflict, "hold_not_refundable",
                                                       "Hold was never captured")));
  }
  HoldRepository repo(deps.stripe, deps.store);
  bool from_stripe = false;
  auto record = repo.Load(target, client, caller.now, &from_stripe);
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
  // The 200: the hold as Stripe has it now (amount_refunded), kept for this process's GETs.
  const auto answer = [&](HoldRecord refunded) {
    repo.Save(refunded);
    std::string body = RenderHold(refunded, {}, ViewOf(deps, refunded, *known));
    if (deps.settled != nullptr) {  // a GET of this process must not serve the body before it
      deps.settled->Remember(id, refunded, body, caller.now);
      if (id != pi_id) deps.settled->Remember(pi_id, refunded, body, caller.now);
    }
    return http::Json(200, std::move(body));
  };
  auto prior = PriorIntent(deps, caller, key, digest);
  if (!prior) return LedgerError(prior.error());
  if (*prior) {  // a keyed repeat: Stripe replays the first answer for the first amount
    // ...for 24 h only; then the same key makes a second refund with no intent of its own.
    // A refund the ledger has recorded is answered from Stripe's state (read above), with
    // no second POST.
    if ((*prior)->state == ledger::IntentState::kSucceeded) return answer(std::move(*record));
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
  auto refund =
      deps.stripe.CreateRefund(stripe::RefundParams{pi_id, amount, req->reason, key}, key);
  if (!refund) {
    if (Definitive(refund.error())) FailIntent(deps.ledger, key, refund.error(), caller.now);
    return http::ErrorResponse(refund.error());
  }
  // The event first (its charge.refunded webhook is on its way), then Stripe's new state.
  JournalRefund(deps, *record, *refund, ClientActor(client, caller.request_id), caller.now, key);
  auto after = repo.Refresh(pi_id, client, caller.now);  // amount_refunded, as Stripe has it
  HoldRecord refunded = after ? std::move(*after) : *record;
  if (!after) refunded.pi.amount_refunded += refund->amount;
  return answer(std::move(refunded));
}

http::Response ReauthorizeHold(const http::Deps& deps, const http::Caller& caller,
                               const http::Request& request, std::string_view id) {
  if (auto ok = ParseReauthorizeHold(request.body); !ok) return http::ErrorResponse(ok.error());
  auto known = OwnLedgerHold(deps, caller, id);
  if (!known) return http::ErrorResponse(known.error());
  if (!*known) return NoSuchHold();
  const std::string& client = caller.client.name;
  HoldRepository repo(deps.stripe, deps.store);
  // Stripe's state first: the ledger may lag it (a webhook still on its way).
  if (const std::string current = CurrentPaymentIntent(**known); !current.empty()) {
    if (auto fresh = repo.Refresh(current, client, caller.now)) {
      if (SyncHold(deps.ledger, *fresh, Actor{"stripe", caller.request_id}, caller.now)) {
        known = OwnLedgerHold(deps, caller, (*known)->id);
        if (!known) return http::ErrorResponse(known.error());
        if (!*known) return NoSuchHold();
      }
    }
  }
  if (!Reauthorizable(**known)) {
    return http::ErrorResponse(
        MakeError(ErrorKind::kConflict, "hold_not_authorized",
                  "Only an authorized hold, or one waiting for the guest after a refused "
                  "authorization, can be re-authorized; this one is " +
                      (*known)->status));
  }
  const AuthorizeResult result =
      Authorize(deps, **known, ClientActor(client, caller.request_id), caller.now);
  switch (result.outcome) {
    case AuthorizeOutcome::kAuthorized: break;
    case AuthorizeOutcome::kRefused:  // recorded; GET shows reauthorization.client_secret
    case AuthorizeOutcome::kNoCard:
    case AuthorizeOutcome::kRetryLater: return LedgerError(result.error);
    case AuthorizeOutcome::kNotAuthorizable:
      return http::ErrorResponse(
          MakeError(ErrorKind::kConflict, "hold_not_authorized", result.error.message));
  }
  auto now_known = OwnLedgerHold(deps, caller, (*known)->id);
  if (!now_known) return http::ErrorResponse(now_known.error());
  if (!*now_known) return NoSuchHold();
  auto record = LoadLedgerHold(deps, repo, **now_known, client, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  return Ok200(deps, *record, *now_known);
}

namespace {

claims::EvidenceFile EvidenceFileOf(const ledger::Evidence& row) {
  claims::EvidenceFile file{row.id, row.filename, static_cast<size_t>(row.size),
                            claims::EvidenceType::kPdf, row.created_at};
  if (const auto type = claims::ParseContentType(row.type)) file.type = *type;
  return file;
}

// What tells one upload apart for its Stripe key and intent: the bytes' digest, their type
// and the filename (the same file under another name is another Stripe File).
std::string UploadDiscriminator(const claims::EvidenceUpload& upload, std::string_view bytes) {
  return crypto::Sha256Hex(bytes) + "\n" + std::string(claims::MimeType(upload.type)) + "\n" +
         upload.filename;
}

// The evidence_added event: one per file (its id names the file), of the hold's current
// PaymentIntent, detail {"file", "filename", "size", "type"}.
ledger::Event EvidenceAddedEvent(const ledger::Hold& hold, const ledger::Evidence& row,
                                 const Actor& actor, int64_t now) {
  ledger::Event e;
  e.id = EventIdFor(hold.id, "evidence:" + row.id);
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.type = "evidence_added";
  e.actor = actor.name;
  e.request_id = actor.request_id;
  e.amount = hold.amount;
  e.currency = hold.currency;
  e.payment_intent = hold.payment_intents.empty() ? hold.id : hold.payment_intents.back();
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "file");
  json::String(w, row.id);
  json::Key(w, "filename");
  json::String(w, row.filename);
  json::Key(w, "size");
  w.Int64(row.size);
  json::Key(w, "type");
  json::String(w, row.type);
  w.EndObject();
  e.detail_json.assign(buf.GetString(), buf.GetSize());
  e.created_at = now;
  return e;
}

}  // namespace

http::Response UploadEvidence(const http::Deps& deps, const http::Caller& caller,
                              const http::Request& request, std::string_view id) {
  const auto query = http::ParseQuery(request.query);
  const auto filename = query.find("filename");
  auto upload =
      claims::CheckEvidenceUpload(request.Header("content-type"),
                                  filename == query.end() ? "" : filename->second, request.body);
  if (!upload) return http::ErrorResponse(upload.error());
  auto hold = LedgerHoldFor(deps, caller, id);  // a down ledger: 503 before any Stripe call
  if (!hold) return LedgerError(hold.error());
  const std::string& client = caller.client.name;
  const std::string discriminator = UploadDiscriminator(*upload, request.body);
  const std::string key = DeriveStripeKey(client, "evidence:" + hold->id, discriminator);
  const std::string mime(claims::MimeType(upload->type));
  auto begun = BeginIntent(deps, caller, key, "evidence", hold->id,
                           RequestDigest(client, "evidence:" + hold->id, discriminator),
                           IntentRequest({{"actor", "client:" + client},
                                          {"request_id", caller.request_id},
                                          {"filename", upload->filename},
                                          {"type", mime},
                                          {"size", std::to_string(upload->size)}}));
  if (!begun) return LedgerError(begun.error());
  auto file = deps.stripe.UploadFile(stripe::FileUpload{upload->filename, mime, request.body}, key);
  if (!file) {
    if (Definitive(file.error())) FailIntent(deps.ledger, key, file.error(), caller.now);
    return http::ErrorResponse(file.error());
  }
  const ledger::Evidence row{
      file->id, hold->id, upload->filename, static_cast<int64_t>(upload->size), mime, caller.now};
  auto recorded = deps.ledger.RecordEvidence(
      row, EvidenceAddedEvent(*hold, row, ClientActor(client, caller.request_id), caller.now));
  if (!recorded) {
    // The file is at Stripe but not recorded: no 201 without its record. The intent stays
    // pending; the same upload again gets the same Stripe File (the same key) and records it.
    log::Warn("evidence not recorded", {log::Str("hold", hold->id), log::Str("file", file->id),
                                        log::Str("error", recorded.error().message)});
    return LedgerError(recorded.error());
  }
  claims::EvidenceFile answer = EvidenceFileOf(row);
  if (!*recorded) {  // recorded before (a repeat): answer with the first record
    if (auto files = deps.ledger.ListEvidence(hold->id)) {
      for (const auto& stored : *files) {
        if (stored.id == row.id) answer = EvidenceFileOf(stored);
      }
    }
  }
  if (auto done = deps.ledger.FinishIntent(key, ledger::IntentState::kSucceeded,
                                           IntentRequest({{"id", file->id}}), "", caller.now);
      !done) {
    log::Warn("evidence intent not finished; the reconciler will close it",
              {log::Str("file", file->id), log::Str("error", done.error().message)});
  }
  return http::Json(201, claims::RenderEvidenceFile(answer));
}

http::Response ListEvidence(const http::Deps& deps, const http::Caller& caller,
                            std::string_view id) {
  auto hold = LedgerHoldFor(deps, caller, id);
  if (!hold) return LedgerError(hold.error());
  auto files = deps.ledger.ListEvidence(hold->id);
  if (!files) return LedgerError(files.error());
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "data");
  w.StartArray();
  for (const auto& row : *files) claims::WriteEvidenceFile(w, EvidenceFileOf(row));
  w.EndArray();
  json::Key(w, "has_more");
  w.Bool(false);
  w.EndObject();
  return http::Json(200, std::string(buf.GetString(), buf.GetSize()));
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
  const ledger::Hold& shown = after && *after ? **after : hold;
  auto record = LoadLedgerHold(deps, repo, shown, client, caller.now);
  if (!record) return http::ErrorResponse(record.error());
  return Ok200(deps, *record, shown);
}

}  // namespace cc::holds
