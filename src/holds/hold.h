// Hold: what ChittyCharge knows of one authorization hold, and its JSON forms.
//
// A hold IS a Stripe PaymentIntent plus the metadata keys below; HoldRecord adds what
// Stripe does not keep (captured_at) and when the PaymentIntent was read (fetched_at,
// for the 2-second freshness rule). RenderHold() is the contract's hold object.
// The cache form (SerializeRecord) holds the PaymentIntent in Stripe's own JSON shape,
// so one parser reads Stripe answers, webhook events and the cache.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "core/tier.h"
#include "ledger/ledger.h"
#include "stripe/stripe_api.h"

namespace cc::holds {

// The Stripe metadata keys ChittyCharge writes (documented for operators in docs/api.md).
inline constexpr std::string_view kMetaChittyId = "chitty_id";
inline constexpr std::string_view kMetaTier = "tier";
inline constexpr std::string_view kMetaClient = "client";
inline constexpr std::string_view kMetaPropertyId = "property_id";
inline constexpr std::string_view kMetaTenantId = "tenant_id";
inline constexpr std::string_view kMetaBookingId = "booking_id";  // the client's, used by us
inline constexpr std::string_view kMetaCaptureReason = "capture_reason";
inline constexpr std::string_view kMetaCancelReason = "cancel_reason";
inline constexpr std::string_view kMetaPendingChittyId = "chitty_id_pending";  // the replaced id
// "pending" while chitty_id is a CHITTY-AUTH-PENDING- fallback; removed when replaced, when
// chitty_id_pending appears instead (so the two never take two slots at once).
inline constexpr std::string_view kMetaChittyIdState = "chitty_id_state";

// A claimed capture also writes claims::kMetaClaimItems and kMetaClaimTotal ("claim_items",
// "claim_total": claims::SummarizeClaim).

// Keys a client may not send in `metadata` (booking_id is allowed: it is the client's).
bool IsReservedMetadataKey(std::string_view key);
// Keys shown in the hold's `metadata`: everything but the service's own.
bool IsClientMetadataKey(std::string_view key);
// Slots the service may use over a hold's life; the client gets 50 minus these: the 11
// reserved keys less one, as chitty_id_state and chitty_id_pending never coexist.
inline constexpr size_t kServiceMetadataSlots = 10;

inline constexpr int64_t kAuthorizationWindowEstimate = 7 * 24 * 3600;

struct HoldRecord {
  stripe::PaymentIntent pi;  // client_secret always empty here
  std::optional<int64_t> captured_at;
  int64_t fetched_at = 0;

  // The record of a PaymentIntent read from Stripe at `now`: the one way to build a
  // HoldRecord from a Stripe answer. Clears client_secret (create returns it to the
  // caller itself; it is never kept). captured_at is what Stripe does not know: the
  // capture time this service saw, if any (usually the cached record's).
  static HoldRecord FromStripe(stripe::PaymentIntent pi, std::optional<int64_t> captured_at,
                               int64_t now);
};

bool IsTerminal(std::string_view status);
Tier HoldTier(const stripe::PaymentIntent& pi);
std::optional<int64_t> ExpiresAt(const stripe::PaymentIntent& pi);
std::optional<int64_t> EstimatedProcessingFee(const stripe::PaymentIntent& pi);

// What the ledger adds to the hold object (CONTRACT.md Part 2): the chain of
// PaymentIntents (empty: just the record's), the schedule and the claim. Default: unknown.
struct HoldSchedule {
  std::optional<int64_t> release_after;
  std::vector<std::string> payment_intents;
  // The tier's limit in the hold's currency (TIER_LIMITS_<CUR>); unset: the Part 1 figure.
  std::optional<int64_t> tier_limit = {};
  // The hold's `claim` as the ledger keeps it (a JSON object, claims::RenderClaim's form,
  // written as is); "" ⇒ null. Defaulted, so {release_after, chain} still initializes.
  std::string claim_json = {};
  // The hold's own id when the record is another object's: a re-authorized hold's current
  // PaymentIntent (the id stays the first one's), a scheduled hold (its SetupIntent's id).
  // "" ⇒ the record's id.
  std::string hold_id = {};
  // The record stands in for a scheduled hold that has no PaymentIntent yet (built from its
  // SetupIntent and the ledger): payment_intent is null, payment_intents the (empty) chain.
  bool scheduled = false;
  std::optional<int64_t> authorize_at = {};
  std::optional<int64_t> stay_ends_at = {};
  bool reauthorize = false;
  // The ledger's reauthorization (a JSON object) or "" ⇒ null; shown as {"status", "code",
  // "client_secret", "payment_intent"} (its bookkeeping fields left out).
  std::string reauthorization_json = {};
  // A scheduled hold's create answer: the SetupIntent's client secret; written when set.
  std::string setup_client_secret = {};
  // The hold's `disclosure` as the ledger keeps it ({"version", "accepted_at"}); "" ⇒ null.
  std::string disclosure_json = {};
  // The hold's `dispute` (CONTRACT.md "Disputes"); nullopt ⇒ null.
  std::optional<ledger::Dispute> dispute = {};
};

// The contract's hold object; client_secret is written only when non-empty (create).
std::string RenderHold(const HoldRecord& record, std::string_view client_secret = {},
                       const HoldSchedule& schedule = {});
void WriteHold(json::Writer& w, const HoldRecord& record, std::string_view client_secret = {},
               const HoldSchedule& schedule = {});

std::string SerializeRecord(const HoldRecord& record);
Result<HoldRecord> DeserializeRecord(std::string_view text);

}  // namespace cc::holds
