// Journal: what the holds domain writes into the ledger (CONTRACT.md, Part 2, "Audit
// trail"), and how it reads it back for GET /api/holds/:id/events.
//
// Every audit event has an id derived from what it records (EventIdFor), never a random
// one: the same fact seen twice — by the client's own call and the webhook that follows
// it, by two concurrent deliveries of one event, by a worker and the reconciler repairing
// its crash — gets one id, and the ledger keeps the first (AppendEvent answers the stored
// event for a known id). That is how "exactly once, whichever comes first" holds without
// any lock: a transition to status S of PaymentIntent P is the event
// EventIdFor(hold, P + ":" + S); a hold's creation is EventIdFor(hold, "created").
//
// Writes go in an order that a crash can only cut short, never leave inconsistent: the
// hold row, then its events, then the Stripe intent's result. Each step is idempotent, so
// whoever finishes the work (a retry, the reconciler) repeats the steps from the start.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "claims/claim.h"
#include "core/result.h"
#include "holds/hold.h"
#include "http/http.h"
#include "ledger/ledger.h"

namespace cc::holds {

// Who caused an event: "client:<name>", "stripe", "scheduler", "reconciler", "guest";
// request_id is the X-Request-Id of the call that caused it ("" for jobs).
struct Actor {
  std::string name;
  std::string request_id;
};

Actor ClientActor(std::string_view client, std::string_view request_id);

// Who moved the PaymentIntent `pi_id` to `status`, as Stripe reports it: the caller of its
// hold's oldest pending intent of an operation that leaves that status (succeeded: a
// capture; canceled: a cancel or a release) — that caller's own record is still on its
// way, and Stripe's webhook may arrive first — else `fallback` (a change made elsewhere,
// e.g. in the Dashboard). A pending intent of another operation is no claim on it.
Actor ChangeActor(ledger::Ledger& ledger, std::string_view pi_id, std::string_view status,
                  const Actor& fallback);

// Who made a refund Stripe reports: the caller of the refund intent whose key the refund
// carries (metadata[intent], set by RefundHold), pending or finished; else `fallback` (a
// refund made elsewhere, e.g. in the Dashboard, even while a client's refund is pending).
Actor RefundActor(ledger::Ledger& ledger, const stripe::Refund& refund, const Actor& fallback);

// "evt_" + 24 hex digits of SHA-256(hold_id, what): the same fact, the same id.
std::string EventIdFor(std::string_view hold_id, std::string_view what);

// The ledger's row for a hold read from Stripe (owner, ids and amounts from its metadata).
ledger::Hold LedgerHoldOf(const HoldRecord& record);

// The Stripe idempotency key (and intent key) of the scheduler's release of a PaymentIntent.
std::string ReleaseKey(std::string_view client, std::string_view pi_id);

// What the ledger's row adds to the hold object (its id, chain, schedule and claim).
HoldSchedule ScheduleOf(const ledger::Hold& hold);

// The PaymentIntent a hold's calls act on (capture, cancel, refund, release): the last of
// its chain; "" for a scheduled hold that has none yet.
std::string CurrentPaymentIntent(const ledger::Hold& hold);

// The Stripe idempotency key (and intent key) of cancelling a PaymentIntent that a newer
// authorization of its hold replaces (operation "supersede"): derived from that
// PaymentIntent alone, so whoever finishes the replacement cancels it once.
std::string SupersedeKey(std::string_view client, std::string_view pi_id);

// A PaymentIntent (requires_capture) that becomes the hold's current one.
struct Adoption {
  std::string payment_intent;  // the new current PaymentIntent
  std::string replaces;        // the one it replaces; "" for a scheduled hold's first
  int64_t amount_capturable = 0;
  std::string currency;
  std::optional<int64_t> expires_at;  // its charge's capture_before (or the estimate)
};

// Records an adoption in one commit: the event `authorized` (the hold had no
// PaymentIntent: a scheduled hold) or `reauthorized` (detail.replaces), id
// EventIdFor(hold, "<type>:<new PaymentIntent>"), which appends the PaymentIntent to the
// chain, sets status requires_capture and expires_at, and clears `reauthorization`. The
// same fact recorded by the scheduler, the webhook or the reconciler is one event.
Status RecordAdoption(ledger::Ledger& ledger, const ledger::Hold& hold, const Adoption& adoption,
                      const Actor& actor, int64_t now);

// A refused (re)authorization (CONTRACT.md "The hold's life").
struct Refusal {
  std::string code;            // no_payment_method, authentication_required, card_declined…
  std::string decline_code;    // Stripe's, "" when none
  std::string payment_intent;  // the refused PaymentIntent; "" when none was made
  std::string client_secret;   // its client secret, for the guest to confirm it on-session
  std::string message;         // Stripe's sentence, "" when none
  int64_t attempt = 0;         // the attempt it answers (the Stripe key's discriminator)
};

// Records a refusal: the event `authorization_failed` (a scheduled hold with no
// PaymentIntent yet; its status becomes requires_payment_method) or
// `reauthorization_failed` (the current authorization stays), with detail.code, and the
// hold's `reauthorization` {"status": "failed", "code", "client_secret", "payment_intent",
// "attempt"} in the same commit. One event per (current PaymentIntent, attempt).
Status RecordRefusal(ledger::Ledger& ledger, const ledger::Hold& hold, const Refusal& refusal,
                     const Actor& actor, int64_t now);

// The hold's refused (re)authorization as the ledger keeps it: its attempt (-1 when none),
// the refused PaymentIntent ("" when none).
int64_t RefusedAttempt(const ledger::Hold& hold);
std::string AwaitedPaymentIntent(const ledger::Hold& hold);

// The event type of a change of status (captured, canceled, authorized, …); a cancel
// by Stripe because the authorization lapsed (cancellation_reason expired or automatic)
// is `expired`.
std::string_view TransitionType(std::string_view before, std::string_view after,
                                std::string_view cancellation_reason = {});

// A hold the service has just created: its row and its `created` event.
Status RecordCreated(ledger::Ledger& ledger, const HoldRecord& record, const Actor& actor,
                     int64_t now);

// What a create asked for beyond the PaymentIntent: the hold's schedule (what Stripe does
// not keep) and the Customer its card is saved to.
struct HoldTerms {
  std::optional<int64_t> release_after;
  std::optional<int64_t> authorize_at;
  std::optional<int64_t> stay_ends_at;
  bool reauthorize = false;
  std::string customer;
  std::string disclosure;  // the accepted disclosure (RenderAcceptedDisclosure's form) or ""
};

// The ledger row of a new hold read from Stripe, with its terms.
ledger::Hold LedgerHoldOf(const HoldRecord& record, const HoldTerms& terms);

// The same, and the create's Stripe intent finished with the PaymentIntent — in one commit
// (Ledger::RecordCreate) — with the hold's terms. With a disclosure (terms.disclosure) the
// records are the single calls, the disclosure set (RecordDisclosure) before the intent is
// finished.
Status RecordCreatedAndFinish(ledger::Ledger& ledger, const HoldRecord& record, const Actor& actor,
                              int64_t now, const std::string& intent_key,
                              const HoldTerms& terms = {});

// The disclosure the guest accepted on the hold (Ledger::SetHoldDisclosure: the first one
// stays); "" records nothing. A create intent keeps it in its request as `disclosure`, so
// the reconciler's repair of a create sets it too.
Status RecordDisclosure(ledger::Ledger& ledger, const std::string& hold_id,
                        std::string_view disclosure_json);

// Brings the ledger in line with Stripe's state of a hold, recording what changed. Only the
// hold's current PaymentIntent speaks for it: an older one of its chain (replaced by a
// re-authorization), or one of its PaymentIntents not (yet) in the chain (a
// re-authorization not adopted yet, a refused one: found by their chitty_id), records
// nothing. A cancel of the current PaymentIntent that a re-authorization made (its
// SupersedeKey intent is pending or succeeded) is that re-authorization's adoption (the
// event `reauthorized`, from the intent), whoever records it first. A hold
// unknown to the ledger is imported (its trail starts with `created` when Stripe made it
// within the last 10 minutes — the create's own record is on its way — else with
// `reconciled`), and a status other than the ledger's is a transition event carrying
// `detail_json` (a JSON object). Nothing changed ⇒ nothing written; a non-terminal status
// for a hold the ledger has as terminal (succeeded, canceled) is a stale read of Stripe ⇒
// nothing written. A cancel that is
// the scheduler's release (its intent under ReleaseKey is pending or succeeded) is
// `released`, actor `scheduler`. A `captured` event of a hold whose claim is recorded
// carries it as detail.claim, whoever records it.
Status SyncHold(ledger::Ledger& ledger, const HoldRecord& record, const Actor& actor, int64_t now,
                std::string_view detail_json = "{}");

// The ledger-only status of a hold Stripe no longer knows (another account, a reset
// sandbox): not open, so the reconciler does not compare it again.
inline constexpr std::string_view kMissingAtStripe = "missing_at_stripe";

// Records once that Stripe answered 404 for a hold: a `reconciled` event (actor
// reconciler) with detail.missing_at_stripe, and the hold's status kMissingAtStripe.
Status RecordMissingAtStripe(ledger::Ledger& ledger, const ledger::Hold& hold, int64_t now);

// A refund of the hold's PaymentIntent: the event `refunded` with the id
// EventIdFor(hold, "refund:" + re_id), amount and currency the refund's, detail
// {"refund": re_id, "reason": metadata[reason] or null} — one event whoever records it
// first (the client's call, charge.refunded's re-read, the reconciler's catch-up). A
// refund that failed or was canceled is not recorded.
Status RecordRefund(ledger::Ledger& ledger, const HoldRecord& record, const stripe::Refund& refund,
                    const Actor& actor, int64_t now);

// After an itemized capture succeeded at Stripe, in the journal's order: the claim on the
// hold (Ledger::SetHoldClaim; a hold the ledger does not know yet gets it after SyncHold
// imports it), then the `captured` event (SyncHold with detail_json). `hold_id` is the
// ledger's id of the hold (its first PaymentIntent). Answers the hold's claim as the ledger
// keeps it: `claim_json`, or the claim set before it (the first claim stays). The caller
// finishes the intent after an Ok, so a failure leaves it to the reconciler.
Result<std::string> RecordCapture(ledger::Ledger& ledger, const HoldRecord& record,
                                  const Actor& actor, int64_t now, std::string_view detail_json,
                                  const std::string& hold_id, const std::string& claim_json);

// The request a client's capture intent keeps, written before the Stripe POST: the
// PaymentIntent, who asked (actor, request_id), the reason and, for an itemized capture,
// `claim` (claims::WriteClaim's form, captured_at null: not captured yet). A repair
// (the reconciler) reads the claim back with IntentClaimJson.
std::string CaptureIntentRequest(std::string_view pi_id, const Actor& actor,
                                 std::string_view reason, const claims::Claim* claim);
// The claim a capture intent's request carries, as the hold keeps it (RenderClaim with
// `captured_at`); "" when it carries none or it is unreadable.
std::string IntentClaimJson(std::string_view request_json, int64_t captured_at);
// Whether Stripe's PaymentIntent shows this capture intent's effect: captured and, for an
// itemized capture, with its claim's summary in the metadata (so a hold captured by
// another request, with other items, is not taken for this one's).
bool CaptureApplied(std::string_view request_json, const stripe::PaymentIntent& pi);
// `detail_json` (a JSON object) with a `claim` member `claim_json` added; unchanged when
// claim_json is "".
std::string WithClaim(std::string_view detail_json, std::string_view claim_json);

// Writes the contract's event object.
void WriteEvent(json::Writer& w, const ledger::Event& event);
std::string RenderEventPage(const ledger::Page<ledger::Event>& page);

// SHA-256 hex of the client's request (who, and the exact body): an intent's digest, so a
// retry of the same request finds its intent and another request under the key does not.
std::string RequestDigest(std::string_view client, std::string_view operation,
                          std::string_view body);

// The JSON object an intent keeps (ledger::StripeIntent::request_json): string fields.
std::string IntentRequest(std::initializer_list<std::pair<std::string_view, std::string_view>> kv);
// A string field of it, "" when absent.
std::string IntentField(std::string_view request_json, std::string_view key);

// Finishes a Stripe intent after its POST: succeeded with the PaymentIntent id and
// status, or failed with the error. A ledger failure here is logged and left to the
// reconciler (the intent stays pending; the money state is Stripe's).
void FinishIntent(ledger::Ledger& ledger, const std::string& key, const stripe::PaymentIntent& pi,
                  int64_t now);
void FailIntent(ledger::Ledger& ledger, const std::string& key, const Error& error, int64_t now);
// The same for a refund's intent: succeeded with the Refund's id and status.
void FinishRefundIntent(ledger::Ledger& ledger, const std::string& key,
                        const stripe::Refund& refund, int64_t now);

}  // namespace cc::holds
