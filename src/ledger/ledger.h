// The ledger port: the durable record the service keeps beside Stripe (CONTRACT.md,
// Part 2): holds and their chain of PaymentIntents, the append-only audit trail, an
// intent before every Stripe POST and its result after, and the Stripe webhook event ids
// seen. PostgreSQL in production (ledger/pg_ledger.h); InMemoryLedger and FaultyLedger
// for tests.
//
// Semantics every implementation shares (tests/unit/ledger/ledger_behaviour.h pins them):
// - Times are unix seconds. Empty strings stand for "absent" (SQL NULL).
// - Records are validated: a malformed one is kInvalidArgument (code "invalid_request")
//   and changes nothing.
// - Calls that create something answer whether they created it, so a retry after a lost
//   answer is harmless: RecordHold → false when the hold id exists; AppendEvent → the
//   stored event when its id exists; BeginIntent → the stored intent when its key exists
//   with the same params digest (kConflict "idempotency_key_reused" with another one);
//   RecordWebhookEvent → false when the event id was seen (atomic: of any number of
//   concurrent recorders of one id, exactly one gets true); SetHoldClaim → false when the
//   hold has a claim (the first one stays).
// - Lists use stable cursors: holds newest first by (created_at, id), events oldest first
//   by their per-hold seq; `starting_after` names the last item of the previous page and
//   never skips an item that existed when that page was read. An unknown
//   `starting_after` is kInvalidArgument (param "starting_after").
// - The ledger unreachable ⇒ kUnavailable (code "service_unavailable"), nothing else;
//   any other failure is kInternal. Callers treat kUnavailable as "nothing recorded,
//   do not move money".
// Thread-safety: InMemoryLedger and FaultyLedger are thread-safe; a PgLedger serves one
// call at a time (see its header).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cc::ledger {

// A Stripe dispute of a hold's charge (CONTRACT.md "Disputes"): Stripe's facts as last read
// (RecordDispute) and the service's own steps (MarkDispute).
struct Dispute {
  std::string id;      // du_…
  std::string status;  // Stripe's: needs_response, under_review, won, lost, warning_…
  std::string reason;  // Stripe's: fraudulent, product_unacceptable, …
  int64_t amount = 0;  // minor units of the hold's currency
  std::optional<int64_t> evidence_due_by;  // none: Stripe gave no due date (0 / null)
  // Read only (RecordDispute keeps them; MarkDispute sets them once).
  std::optional<int64_t> staged_at;     // evidence staged at Stripe (submit=false)
  std::optional<int64_t> submitted_at;  // evidence submitted (submit=true)
  std::optional<int64_t> lease_until;   // a staging run has it until then

  bool operator==(const Dispute&) const = default;
};

// What MarkDispute records: a step of the service's own on the hold's dispute.
enum class DisputeMark {
  kStaged,      // staged_at (once), and the staging lease ends
  kSubmitted,   // submitted_at (once)
  kLeaseEnded,  // the staging lease ends, nothing else (a failed run: the next one retries)
};

struct Hold {
  std::string id;  // the first PaymentIntent id (pi_…), or a scheduled hold's seti_…
  std::string chitty_id;
  std::string client;  // the token name that created it: its owner
  std::string property_id;
  std::string tenant_id;
  int64_t amount = 0;    // minor units, > 0
  std::string currency;  // lower case, 3 letters
  std::string status;    // the last status recorded (Stripe's, or "scheduled")
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;         // end of the authorization window
  std::vector<std::string> payment_intents;  // the chain, oldest first
  std::optional<int64_t> release_after;      // the scheduler releases it then, if uncaptured
  // Read only (RecordHold ignores it): while in the future, a scheduler run has taken the
  // hold's release (LeaseDueReleases) and a cancel of it is that release.
  std::optional<int64_t> lease_until;
  // Read only (RecordHold ignores it; SetHoldClaim sets it): the itemized claim its capture
  // took (CONTRACT.md "Itemized capture"), a JSON object kept as given; "" when none.
  std::string claim_json;
  // The hold's life (CONTRACT.md "The hold's life"; 0008_hold_life.sql).
  std::optional<int64_t> authorize_at;  // a scheduled hold: the scheduler authorizes it then
  std::optional<int64_t> stay_ends_at;  // the end of the stay
  bool reauthorize = false;             // kept authorized until stay_ends_at
  std::string customer;                 // cus_…: the Customer of the guest's saved card
  // Read only (RecordHold ignores it; set and cleared by events' hold_reauthorization): the
  // refused (re)authorization the guest must act on, a JSON object ({"status": "failed",
  // "code", "client_secret", "payment_intent", "attempt"}); "" when none.
  std::string reauthorization_json;
  // Read only (RecordHold ignores it; SetHoldDisclosure sets it): the disclosure the guest
  // accepted (CONTRACT.md "The hold's life", create field `disclosure`), a JSON object
  // {"version", "accepted_at"} kept as given; "" when none.
  std::string disclosure_json;
  // Read only (RecordDispute, MarkDispute set it): the dispute of its charge; none: nullopt.
  std::optional<Dispute> dispute;
};

// An evidence file of a hold (CONTRACT.md "Evidence"): a file stored with Stripe's Files
// API (purpose dispute_evidence), recorded with its `evidence_added` event.
struct Evidence {
  std::string id;  // Stripe's File id: file_ then [A-Za-z0-9_]
  std::string hold_id;
  std::string filename;  // as the client named it (claims::CheckFilename's form)
  int64_t size = 0;      // bytes, > 0
  std::string type;      // image/jpeg | image/png | application/pdf
  int64_t created_at = 0;

  bool operator==(const Evidence&) const = default;
};

// A guest link of a hold (CONTRACT.md "Guest links"): the SHA-256 of its token (64 lower-case
// hex digits; the token itself is never stored), the hold (its own id), and its life.
struct GuestLink {
  std::string token_sha256;
  std::string hold_id;
  int64_t created_at = 0;
  int64_t expires_at = 0;  // > created_at

  bool operator==(const GuestLink&) const = default;
};

struct Event {
  std::string id;  // evt_…, the service's own; chosen by the caller, unique
  std::string hold_id;
  std::string chitty_id;
  std::string type;   // CONTRACT.md's types: created, captured, …
  std::string actor;  // client:<name> | stripe | scheduler | reconciler | guest
  std::string request_id;
  std::string status_before;
  std::string status_after;  // non-empty ⇒ also the hold's status, in the same commit
  std::optional<int64_t> amount;
  std::string currency;
  std::string payment_intent;
  std::string stripe_request_id;
  std::string detail_json = "{}";  // a JSON object, stored as given
  int64_t created_at = 0;
  int64_t seq = 0;  // the hold's event order, assigned by the ledger (1, 2, …)
  // Set: also the hold's expires_at, in the same commit (an authorization's window). Not
  // part of the event itself (not stored with it, not read back).
  std::optional<int64_t> hold_expires_at;
  // Non-empty: also appended to the hold's chain of PaymentIntents (its new current one),
  // in the same commit; already in the chain ⇒ left as it is. Not stored with the event.
  std::string hold_payment_intent;
  // Set: also the hold's reauthorization (a JSON object; "" clears it), in the same commit.
  // Not stored with the event.
  std::optional<std::string> hold_reauthorization;
  // true: appended only while the hold's status is still status_before (a transition its
  // caller read from Stripe and the ledger: another one committed meanwhile must not be
  // undone by it) ⇒ kConflict "hold_changed" otherwise, nothing written. Not stored.
  bool if_status_unchanged = false;
};

enum class IntentState { kPending, kSucceeded, kFailed };

struct StripeIntent {
  std::string idempotency_key;  // the Idempotency-Key of the Stripe POST
  std::string operation;        // "create", "capture", "cancel", …
  std::string hold_id;          // empty for a create (the hold does not exist yet)
  std::string params_digest;    // lower-case hex SHA-256 of the request it serves
  // What a retry or the reconciler needs to repeat the POST with the same parameters (a
  // JSON object, e.g. the ChittyID a create sent); "{}" when nothing.
  std::string request_json = "{}";
  IntentState state = IntentState::kPending;
  std::string result_json;  // Stripe's answer or error (a JSON value); empty while pending
  std::string stripe_request_id;
  int64_t created_at = 0;
  std::optional<int64_t> finished_at;
};

struct HoldFilter {
  std::string client;       // required: lists are per client
  std::string property_id;  // the rest: empty / nullopt = any
  std::string tenant_id;
  std::string status;
  std::optional<int64_t> expiring_before;  // status requires_capture and expires_at < this
  std::optional<int64_t> created_after;    // created_at > this
  std::optional<int64_t> created_before;   // created_at < this
  std::string starting_after;              // a hold id of this client
  int limit = 10;                          // 1..100
};

template <typename T>
struct Page {
  std::vector<T> data;
  bool has_more = false;
};

// A notification to a client app (CONTRACT.md, "Notifications to client apps"): one per
// audit event of a hold whose client is a notification client (SetNotificationClients),
// queued by the ledger itself when the event is appended, in the same commit.
enum class NotificationStatus { kPending, kDelivered, kGaveUp };

struct Notification {
  std::string id;  // NotificationIdFor(event id): the same on every try
  std::string client;
  std::string hold_id;
  std::string type;  // "hold.<event type>"
  NotificationStatus status = NotificationStatus::kPending;
  int attempts = 0;                        // tries made (delivered or not)
  std::string last_error;                  // why the last failed try failed
  std::optional<int64_t> next_attempt_at;  // while pending: due then
  int64_t created_at = 0;                  // its event's created_at
  std::optional<int64_t> delivered_at;
  std::optional<int64_t> lease_until;  // a sender has it until then
  // The event it tells of, as stored (with its seq). Filled by LeaseDueNotifications only;
  // elsewhere only event.id and event.seq are set.
  Event event;
};

// What one try of a notification came to (RecordNotificationAttempt).
struct NotificationAttempt {
  enum class Outcome {
    kDelivered,  // the client answered 2xx
    kFailed,     // not delivered; due again at next_attempt_at
    kGaveUp,     // not delivered, and no more tries
    kNotTried,   // the sender let it go untried (attempts unchanged); due at next_attempt_at
  };
  std::string id;
  Outcome outcome = Outcome::kDelivered;
  std::string error;                       // kFailed / kGaveUp: kept as last_error
  std::optional<int64_t> next_attempt_at;  // required for kFailed and kNotTried
  int64_t at = 0;                          // when the try ended
};

// One create's records after its Stripe POST (RecordCreate's arguments, by reference).
struct CreateRecord {
  const Hold* hold = nullptr;
  const Event* created = nullptr;
  std::string_view intent_key;
  std::string_view result_json;
  int64_t now = 0;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Records a new hold with its chain (payment_intents may be empty for a scheduled
  // hold). true: recorded; false: a hold with this id exists (left unchanged).
  // A chitty_id or PaymentIntent id that belongs to another hold is kConflict.
  virtual Result<bool> RecordHold(const Hold& hold) = 0;
  // The hold with this id or chitty_id, or whose chain holds this PaymentIntent id;
  // nullopt if none.
  virtual Result<std::optional<Hold>> FindHold(std::string_view id) = 0;
  virtual Result<Page<Hold>> ListHolds(const HoldFilter& filter) = 0;
  // The scheduler's due releases: holds not settled (succeeded, canceled) whose
  // release_after is at or before `now`, oldest due first, at most `limit`, each leased to
  // the caller until now + lease_s: no other caller gets it before then, so concurrent
  // runs take each hold once and a run killed mid-pass leaves its holds to the next run
  // once the lease ends.
  virtual Result<std::vector<Hold>> LeaseDueReleases(int64_t now, int64_t lease_s, int limit) = 0;
  // The scheduler's due (re)authorizations (CONTRACT.md "The hold's life"): scheduled holds
  // (status "scheduled") whose authorize_at is at or before `now`, and holds to re-authorize
  // (reauthorize set, status requires_capture, no refused re-authorization waiting for the
  // guest, stay_ends_at later than expires_at) whose expires_at is at or before now +
  // margin_s. Oldest due first (authorize_at, or expires_at - margin_s), at most `limit`,
  // each leased as LeaseDueReleases leases (the same lease: one job acts on a hold at a time).
  virtual Result<std::vector<Hold>> LeaseDueAuthorizations(int64_t now, int64_t margin_s,
                                                           int64_t lease_s, int limit) = 0;
  // The reconciler's due comparisons with Stripe: open holds (not succeeded, canceled,
  // missing_at_stripe or scheduled) last compared — or, never compared, created — at or
  // before now - interval_s, the longest waiting first, at most `limit`. Taking a hold
  // marks it compared at `now`, so concurrent callers take each hold once and a taken
  // hold is due again interval_s later.
  virtual Result<std::vector<Hold>> LeaseDueChecks(int64_t now, int64_t interval_s, int limit) = 0;
  // After a claimed capture succeeded at Stripe: the hold's claim (a JSON object, kept as
  // given; kInvalidArgument otherwise). true: set; false: the hold already has a claim,
  // which stays unchanged (a hold is captured once, so the first claim is its claim).
  // `hold_id` is the hold's own id; kNotFound for an unknown one.
  virtual Result<bool> SetHoldClaim(std::string_view hold_id, std::string_view claim_json) = 0;
  // The disclosure the guest accepted (a JSON object, kept as given; kInvalidArgument
  // otherwise), set once like the claim: true: set; false: the hold has one (unchanged);
  // kNotFound for an unknown hold id (the hold's own id).
  virtual Result<bool> SetHoldDisclosure(std::string_view hold_id,
                                         std::string_view disclosure_json) = 0;

  // An evidence file and its `evidence_added` event (`added`, of the same hold), in one
  // commit. true: recorded; false: a file with this id is recorded (nothing changes, the
  // event is not appended again). kNotFound for an unknown hold.
  virtual Result<bool> RecordEvidence(const Evidence& evidence, const Event& added) = 0;
  // The hold's evidence files (its own id) in the order they were recorded; [] for a hold
  // without any or an unknown hold.
  virtual Result<std::vector<Evidence>> ListEvidence(std::string_view hold_id) = 0;
  // A guest link. true: recorded; false: a link with this token_sha256 is recorded
  // (unchanged). kNotFound for an unknown hold (its own id); kInvalidArgument for a
  // malformed link (ValidateGuestLink).
  virtual Result<bool> RecordGuestLink(const GuestLink& link) = 0;
  // The link whose token hashes to `token_sha256`, expired or not (the caller compares
  // expires_at with its clock); nullopt: none.
  virtual Result<std::optional<GuestLink>> FindGuestLink(std::string_view token_sha256) = 0;
  // Stripe's facts of the hold's dispute (id, status, reason, amount, evidence_due_by; the
  // rest of `dispute` is ignored). true: changed; false: already so. Another dispute id
  // replaces the dispute (its marks start over). kNotFound for an unknown hold id (the
  // hold's own id); kInvalidArgument for a malformed dispute (ValidateDispute).
  virtual Result<bool> RecordDispute(std::string_view hold_id, const Dispute& dispute) = 0;
  // The staging pass's work: holds whose dispute is not staged and still open for evidence
  // (status needs_response or warning_needs_response) and not leased, soonest due first
  // (no due date last, then by hold id), at most `limit`, each leased until now + lease_s.
  virtual Result<std::vector<Hold>> LeaseDueDisputes(int64_t now, int64_t lease_s, int limit) = 0;
  // A step on the hold's dispute `dispute_id` at `at`. true: recorded; false: already
  // recorded (the first time stays), or the hold's dispute is another one. kNotFound for
  // an unknown hold id.
  virtual Result<bool> MarkDispute(std::string_view hold_id, std::string_view dispute_id,
                                   DisputeMark mark, int64_t at) = 0;

  // Appends an event to its hold's trail (kNotFound for an unknown hold) and returns it
  // as stored, with its seq. An id already recorded returns that event unchanged.
  virtual Result<Event> AppendEvent(const Event& event) = 0;
  // The hold's events oldest first, after the event `starting_after` (empty: from the
  // start); limit 1..100.
  virtual Result<Page<Event>> ListEvents(std::string_view hold_id, std::string_view starting_after,
                                         int limit) = 0;

  // Before a Stripe POST: records the intent as pending (its state, result and
  // finished_at are ignored) and returns the stored one.
  virtual Result<StripeIntent> BeginIntent(const StripeIntent& intent) = 0;
  // The intent recorded under this key, or nullopt.
  virtual Result<std::optional<StripeIntent>> FindIntent(std::string_view idempotency_key) = 0;
  // After it: kSucceeded or kFailed with Stripe's answer. kNotFound for an unknown key;
  // finishing a finished intent again with the same state is a no-op, with the other
  // state kConflict.
  virtual Status FinishIntent(std::string_view idempotency_key, IntentState state,
                              std::string_view result_json, std::string_view stripe_request_id,
                              int64_t now) = 0;
  // Pending intents created before `created_before`, oldest first (the reconciler's work).
  virtual Result<std::vector<StripeIntent>> ListPendingIntents(int64_t created_before,
                                                               int limit) = 0;
  // The hold's pending intents (`hold_id` its own id), oldest first: what its callers asked
  // Stripe for and have not recorded the answer of yet (a webhook may arrive before it).
  virtual Result<std::vector<StripeIntent>> PendingIntentsOf(std::string_view hold_id) = 0;

  // After a create's Stripe POST, what RecordHold(hold), AppendEvent(created) and
  // FinishIntent(key, kSucceeded, result_json, "", now) record, in that order, with the
  // same answers to repeats — in one commit where the implementation can (PgLedger: one
  // statement). The default makes the three calls.
  virtual Status RecordCreate(const Hold& hold, const Event& created, std::string_view intent_key,
                              std::string_view result_json, int64_t now);

  // Batches: each answer (in order) is what the single call would answer for that item,
  // as if the items were made one after the other. The defaults make the single calls;
  // PgLedger records a batch in one statement, so concurrent creates share a commit
  // (SerialLedger gathers them).
  virtual std::vector<Result<StripeIntent>> BeginIntents(
      std::span<const StripeIntent* const> intents);
  virtual std::vector<Status> RecordCreates(std::span<const CreateRecord> records);

  // A named value the scheduler keeps between passes ("" when never set), e.g. the
  // reconciler's cursor in Stripe's event list. The defaults keep nothing (kInternal).
  virtual Result<std::string> JobState(std::string_view name);
  virtual Status SetJobState(std::string_view name, std::string_view value, int64_t now);

  // true the first time this Stripe event id is recorded, false on every repeat.
  virtual Result<bool> RecordWebhookEvent(std::string_view event_id, int64_t received_at) = 0;

  // Ok when the ledger answers (GET /health's database_connected).
  virtual Status Ping() = 0;

  // --- the notifications outbox (docs/notifications.md) ---
  // The clients whose holds' events are queued as notifications from now on (those with a
  // webhook URL); replaces the set. Events appended while a client is not in it are never
  // queued, so a deployment without webhooks queues nothing.
  virtual Status SetNotificationClients(std::span<const std::string> clients) = 0;
  // The sender's due work: pending notifications of the set's clients whose
  // next_attempt_at is at or before `now` and that no sender holds, each the OLDEST pending
  // one of its hold (a hold's notifications go one at a time, in event order; delivered
  // and given-up ones do not block), oldest first by (created_at, id), at most `limit`,
  // each leased to the caller until now + lease_s (concurrent callers never get the same
  // one), with its event.
  virtual Result<std::vector<Notification>> LeaseDueNotifications(int64_t now, int64_t lease_s,
                                                                  int limit) = 0;
  // Records a try and ends the lease. true: recorded; false: the notification is no longer
  // pending (another sender finished it), nothing changed; kNotFound for an unknown id;
  // kInvalidArgument for kFailed / kNotTried without next_attempt_at.
  virtual Result<bool> RecordNotificationAttempt(const NotificationAttempt& attempt) = 0;
  // GET /api/notifications?status=failed: the client's notifications that failed at least
  // once and are not delivered (pending with attempts > 0, or given up), newest first by
  // (created_at, id), after the notification `starting_after` (empty: from the start; one
  // of this client's, else kInvalidArgument param "starting_after"); limit 1..100.
  virtual Result<Page<Notification>> ListFailedNotifications(std::string_view client,
                                                             std::string_view starting_after,
                                                             int limit) = 0;
};

// "ntf_" + the event id after its "evt_": a notification's id, the same on every try.
std::string NotificationIdFor(std::string_view event_id);
// "pending" / "delivered" / "gave_up".
std::string_view NotificationStatusName(NotificationStatus status);
std::optional<NotificationStatus> ParseNotificationStatus(std::string_view name);
Status ValidateNotificationAttempt(const NotificationAttempt& attempt);

// The checks every implementation applies before recording (kInvalidArgument).
Status ValidateHold(const Hold& hold);
Status ValidateEvent(const Event& event);
Status ValidateIntent(const StripeIntent& intent);
Status ValidateHoldFilter(const HoldFilter& filter);
Status ValidateClaim(std::string_view claim_json);            // a JSON object
Status ValidateDisclosure(std::string_view disclosure_json);  // a JSON object
Status ValidateEvidence(const Evidence& evidence, const Event& added);
// token_sha256 of 64 lower-case hex digits, a hold id, created_at > 0, expires_at > created_at.
Status ValidateGuestLink(const GuestLink& link);
Status ValidateClaim(std::string_view claim_json);  // a JSON object
// id du_…/dp_… of [A-Za-z0-9_], status and reason 1..64 of [a-z_], amount >= 0.
Status ValidateDispute(const Dispute& dispute);
Status ValidateLimit(int limit);
// Whether the reconciler compares a hold in this status with Stripe (LeaseDueChecks): one
// with a PaymentIntent that may still change.
bool ComparedWithStripe(std::string_view status);
// "pending" / "succeeded" / "failed", and back (nullopt for anything else).
std::string_view IntentStateName(IntentState state);
std::optional<IntentState> ParseIntentState(std::string_view name);

}  // namespace cc::ledger
