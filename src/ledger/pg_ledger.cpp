#include "ledger/pg_ledger.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/json.h"
#include "core/log.h"

namespace cc::ledger {

// Every statement the ledger runs, prepared once per connection. One place per table.
enum class pg::Stmt {
  kHoldInsert,
  kHoldFind,
  kHoldCursor,
  kHoldList,
  kHoldLeaseReleases,
  kHoldLeaseAuthorizations,
  kHoldLeaseChecks,
  kHoldSetClaim,
  kHoldSetDisclosure,
  kHoldRecordDispute,
  kHoldLeaseDisputes,
  kHoldMarkDispute,
  kHoldExists,
  kEvidenceRecord,
  kEvidenceList,
  kGuestLinkRecord,
  kGuestLinkFind,
  kEventAppend,
  kEventGet,
  kEventCursor,
  kEventList,
  kRecordCreate,
  kRecordCreates,
  kIntentBegin,
  kIntentBegins,
  kIntentGet,
  kIntentFinish,
  kIntentPending,
  kIntentPendingOf,
  kWebhookRecord,
  kJobStateGet,
  kJobStateSet,
  kNotifyClients,
  kNotifyLease,
  kNotifyAttempt,
  kNotifyStatus,
  kNotifyCursor,
  kNotifyFailed,
  kPing,
  kCount
};

namespace {

using pg::Stmt;

struct Statement {
  const char* name;
  const char* sql;
};

// SQLSTATE 0A000, which PostgreSQL also answers when a prepared statement's result type
// changed under it (a migration altered a column's type).
constexpr std::string_view kFeatureNotSupported = "0A000";

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): spliced into SQL literals at compile time
#define CC_HOLD_COLUMNS                                                                      \
  "h.id, h.chitty_id, h.client, coalesce(h.property_id, ''), coalesce(h.tenant_id, ''), "    \
  "h.amount, h.currency, h.status, extract(epoch FROM h.created_at)::bigint, "               \
  "extract(epoch FROM h.expires_at)::bigint, "                                               \
  "(SELECT coalesce(string_agg(p.payment_intent, ',' ORDER BY p.position), '') "             \
  "FROM hold_payment_intents p WHERE p.hold_id = h.id), "                                    \
  "extract(epoch FROM h.release_after)::bigint, extract(epoch FROM h.lease_until)::bigint, " \
  "coalesce(h.claim::text, ''), extract(epoch FROM h.authorize_at)::bigint, "                \
  "extract(epoch FROM h.stay_ends_at)::bigint, h.reauthorize, coalesce(h.customer, ''), "    \
  "coalesce(h.reauthorization::text, ''), coalesce(h.disclosure::text, ''), "                \
  "coalesce(h.dispute_id, ''), coalesce(h.dispute_status, ''), "                             \
  "coalesce(h.dispute_reason, ''), coalesce(h.dispute_amount, 0), "                          \
  "extract(epoch FROM h.dispute_due_by)::bigint, "                                           \
  "extract(epoch FROM h.dispute_staged_at)::bigint, "                                        \
  "extract(epoch FROM h.dispute_submitted_at)::bigint, "                                     \
  "extract(epoch FROM h.dispute_lease_until)::bigint"

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): spliced into SQL literals at compile time
#define CC_EVENT_COLUMNS                                                                      \
  "id, hold_id, seq, chitty_id, type, actor, coalesce(request_id, ''), "                      \
  "coalesce(status_before, ''), coalesce(status_after, ''), amount, coalesce(currency, ''), " \
  "coalesce(payment_intent, ''), coalesce(stripe_request_id, ''), detail::text, "             \
  "extract(epoch FROM created_at)::bigint"

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): spliced into SQL literals at compile time
#define CC_INTENT_COLUMNS                                                             \
  "idempotency_key, operation, coalesce(hold_id, ''), params_digest, state, "         \
  "coalesce(result::text, ''), coalesce(stripe_request_id, ''), "                     \
  "extract(epoch FROM created_at)::bigint, extract(epoch FROM finished_at)::bigint, " \
  "request::text"

// "This row is still pending", for an UPDATE of one intent (or notification) by its key. Written so
// that no partial index on pending intents (stripe_intents_pending, _pending_of: WHERE state =
// 'pending') can serve it: those hold the first version of every intent until VACUUM
// reaches the table, and PostgreSQL would scan one whole, filtering by key, whenever its
// statistics call the pending intents few (measured: record_creates' custom plan did; the
// create path's PostgreSQL CPU grew with the intents written since the last VACUUM). The
// primary key finds the row; the state is then checked on that row alone.
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): spliced into SQL literals at compile time
#define CC_STILL_PENDING(alias) "coalesce(" alias "state, '') = 'pending'"
// The same for a notification (notifications_pending: WHERE status = 'pending').
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): spliced into SQL literals at compile time
#define CC_NOTIFICATION_STILL_PENDING "coalesce(status, '') = 'pending'"

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): spliced into SQL literals at compile time
#define CC_NOTIFICATION_COLUMNS                                                           \
  "id, client, hold_id, type, status, attempts, coalesce(last_error, ''), "               \
  "extract(epoch FROM next_attempt_at)::bigint, extract(epoch FROM created_at)::bigint, " \
  "extract(epoch FROM delivered_at)::bigint, extract(epoch FROM lease_until)::bigint, "   \
  "event_id, hold_seq"

constexpr std::array<Statement, static_cast<size_t>(Stmt::kCount)> kStatements = {{
    // holds + hold_payment_intents
    {"hold_insert",
     "WITH h AS (INSERT INTO holds (id, chitty_id, client, property_id, tenant_id, amount, "
     "currency, status, created_at, expires_at, release_after, authorize_at, stay_ends_at, "
     "reauthorize, customer) VALUES ($1, $2, $3, "
     "nullif($4, ''), nullif($5, ''), $6::bigint, $7, $8, to_timestamp($9::bigint), "
     "to_timestamp($10::bigint), to_timestamp($12::bigint), to_timestamp($13::bigint), "
     "to_timestamp($14::bigint), $15::boolean, nullif($16, '')) "
     "ON CONFLICT (id) DO NOTHING RETURNING id), "
     "c AS (INSERT INTO hold_payment_intents (payment_intent, hold_id, position) "
     "SELECT u.pi, h.id, (u.ord - 1)::integer FROM h, "
     "unnest(string_to_array($11::text, ',')) WITH ORDINALITY AS u(pi, ord) RETURNING 1) "
     "SELECT (SELECT count(*) FROM h), (SELECT count(*) FROM c)"},
    {"hold_find",
     "SELECT " CC_HOLD_COLUMNS " FROM holds h WHERE h.id = $1 OR h.chitty_id = $1 OR h.id = "
     "(SELECT hold_id FROM hold_payment_intents WHERE payment_intent = $1) LIMIT 1"},
    {"hold_cursor", "SELECT 1 FROM holds WHERE id = $1 AND client = $2"},
    {"hold_list", "SELECT " CC_HOLD_COLUMNS " FROM holds h WHERE h.client = $1 "
                  "AND ($2::text IS NULL OR h.property_id = $2) "
                  "AND ($3::text IS NULL OR h.tenant_id = $3) "
                  "AND ($4::text IS NULL OR h.status = $4) "
                  "AND ($5::bigint IS NULL OR (h.status = 'requires_capture' "
                  "AND h.expires_at < to_timestamp($5::bigint))) "
                  "AND ($6::bigint IS NULL OR h.created_at > to_timestamp($6::bigint)) "
                  "AND ($7::bigint IS NULL OR h.created_at < to_timestamp($7::bigint)) "
                  "AND ($8::text IS NULL OR (h.created_at, h.id) < "
                  "(SELECT c.created_at, c.id FROM holds c WHERE c.id = $8 AND c.client = $1)) "
                  "ORDER BY h.created_at DESC, h.id DESC LIMIT $9::integer"},
    {"hold_lease_releases",
     "UPDATE holds h SET lease_until = to_timestamp($1::bigint + $2::bigint) WHERE h.id IN ("
     "SELECT id FROM holds WHERE release_after <= to_timestamp($1::bigint) "
     "AND status NOT IN ('succeeded', 'canceled') "
     "AND (lease_until IS NULL OR lease_until <= to_timestamp($1::bigint)) "
     "ORDER BY release_after, id LIMIT $3::integer FOR UPDATE SKIP LOCKED) "
     "RETURNING " CC_HOLD_COLUMNS},
    // Due scheduled authorizations and re-authorizations ($2: REAUTH_MARGIN_H in seconds),
    // through the partial indexes of 0008, leased as hold_lease_releases leases.
    {"hold_lease_authorizations",
     "UPDATE holds h SET lease_until = to_timestamp($1::bigint + $3::bigint) WHERE h.id IN ("
     "SELECT id FROM holds WHERE ((status = 'scheduled' AND authorize_at <= "
     "to_timestamp($1::bigint)) OR (reauthorize AND status = 'requires_capture' "
     "AND reauthorization IS NULL AND expires_at <= to_timestamp($1::bigint + $2::bigint) "
     "AND stay_ends_at > expires_at)) "
     "AND (lease_until IS NULL OR lease_until <= to_timestamp($1::bigint)) "
     "ORDER BY CASE WHEN status = 'scheduled' THEN authorize_at "
     "ELSE expires_at - make_interval(secs => $2::bigint) END, id "
     "LIMIT $4::integer FOR UPDATE SKIP LOCKED) "
     "RETURNING " CC_HOLD_COLUMNS},
    // The reconciler's due comparisons (holds_check_due, migration 0011); the list of
    // statuses is ComparedWithStripe's, and the index's.
    {"hold_lease_checks",
     "UPDATE holds h SET checked_at = to_timestamp($1::bigint) FROM ("
     "SELECT id, coalesce(checked_at, created_at) AS since FROM holds WHERE status NOT IN ("
     "'succeeded', 'canceled', 'missing_at_stripe', 'scheduled') AND "
     "coalesce(checked_at, created_at) <= to_timestamp($1::bigint - $2::bigint) "
     "ORDER BY coalesce(checked_at, created_at), id LIMIT $3::integer FOR UPDATE SKIP LOCKED) d "
     "WHERE h.id = d.id RETURNING " CC_HOLD_COLUMNS ", extract(epoch FROM d.since)::bigint"},
    // A hold's claim is set once: the first capture's stays.
    {"hold_set_claim",
     "UPDATE holds SET claim = $2::json WHERE id = $1 AND claim IS NULL RETURNING 1"},
    // The disclosure is set once, like the claim.
    {"hold_set_disclosure",
     "UPDATE holds SET disclosure = $2::json WHERE id = $1 AND disclosure IS NULL RETURNING 1"},
    // Stripe's facts of the dispute; another dispute id starts its marks over. Answers
    // whether anything changed.
    {"hold_record_dispute",
     "WITH o AS (SELECT id, dispute_id, dispute_status, dispute_reason, dispute_amount, "
     "dispute_due_by FROM holds WHERE id = $1 FOR UPDATE), "
     "u AS (UPDATE holds h SET dispute_id = $2, dispute_status = $3, dispute_reason = $4, "
     "dispute_amount = $5::bigint, dispute_due_by = to_timestamp($6::bigint), "
     "dispute_staged_at = CASE WHEN o.dispute_id = $2 THEN h.dispute_staged_at END, "
     "dispute_submitted_at = CASE WHEN o.dispute_id = $2 THEN h.dispute_submitted_at END, "
     "dispute_lease_until = CASE WHEN o.dispute_id = $2 THEN h.dispute_lease_until END "
     "FROM o WHERE h.id = o.id AND (o.dispute_id, o.dispute_status, o.dispute_reason, "
     "o.dispute_amount, o.dispute_due_by) IS DISTINCT FROM ($2, $3, $4, $5::bigint, "
     "to_timestamp($6::bigint)) RETURNING 1) "
     "SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM u)"},
    {"hold_lease_disputes",
     "UPDATE holds h SET dispute_lease_until = to_timestamp($1::bigint + $2::bigint) "
     "WHERE h.id IN (SELECT id FROM holds WHERE dispute_id IS NOT NULL "
     "AND dispute_staged_at IS NULL "
     "AND dispute_status IN ('needs_response', 'warning_needs_response') "
     "AND (dispute_lease_until IS NULL OR dispute_lease_until <= to_timestamp($1::bigint)) "
     "ORDER BY dispute_due_by NULLS LAST, id LIMIT $3::integer FOR UPDATE SKIP LOCKED) "
     "RETURNING " CC_HOLD_COLUMNS},
    // $3: 'staged' | 'submitted' | 'lease_ended'. Answers (hold found, mark recorded).
    {"hold_mark_dispute",
     "WITH o AS (SELECT id, dispute_id, dispute_staged_at, dispute_submitted_at, "
     "dispute_lease_until FROM holds WHERE id = $1 FOR UPDATE), "
     "u AS (UPDATE holds h SET "
     "dispute_staged_at = CASE WHEN $3 = 'staged' THEN coalesce(o.dispute_staged_at, "
     "to_timestamp($4::bigint)) ELSE o.dispute_staged_at END, "
     "dispute_submitted_at = CASE WHEN $3 = 'submitted' THEN coalesce(o.dispute_submitted_at, "
     "to_timestamp($4::bigint)) ELSE o.dispute_submitted_at END, "
     "dispute_lease_until = CASE WHEN $3 = 'submitted' THEN o.dispute_lease_until END "
     "FROM o WHERE h.id = o.id AND o.dispute_id = $2 RETURNING 1) "
     "SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM u), "
     "(SELECT CASE $3 WHEN 'staged' THEN o.dispute_staged_at IS NULL "
     "WHEN 'submitted' THEN o.dispute_submitted_at IS NULL "
     "ELSE o.dispute_lease_until IS NOT NULL END FROM o WHERE o.dispute_id = $2)"},
    {"hold_exists", "SELECT 1 FROM holds WHERE id = $1"},
    // evidence (0009_evidence.sql): the file and its evidence_added event in one statement;
    // a file already recorded inserts nothing and appends no event. The event's seq comes
    // from holds.last_event_seq, as event_append's.
    {"evidence_record",
     "WITH h AS (SELECT id FROM holds WHERE id = $2), "
     "v AS (INSERT INTO evidence (id, hold_id, filename, size, type, created_at) "
     "SELECT $1, h.id, $3, $4::bigint, $5, to_timestamp($6::bigint) FROM h "
     "ON CONFLICT (id) DO NOTHING RETURNING hold_id), "
     "s AS (UPDATE holds SET last_event_seq = last_event_seq + 1, "
     "status = coalesce(nullif($13, ''), status) "
     "WHERE id = (SELECT hold_id FROM v) RETURNING last_event_seq), "
     "e AS (INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, request_id, "
     "status_before, status_after, amount, currency, payment_intent, stripe_request_id, "
     "detail, created_at) SELECT $7, $2, s.last_event_seq, $8, $9, $10, nullif($11, ''), "
     "nullif($12, ''), nullif($13, ''), $14::bigint, nullif($15, ''), nullif($16, ''), "
     "nullif($17, ''), $18::json, to_timestamp($19::bigint) FROM s RETURNING 1) "
     "SELECT (SELECT count(*) FROM h), (SELECT count(*) FROM v), (SELECT count(*) FROM e)"},
    {"evidence_list",
     "SELECT id, hold_id, filename, size, type, extract(epoch FROM created_at)::bigint "
     "FROM evidence WHERE hold_id = $1 ORDER BY seq"},
    // guest_links (0013_guest_links.sql): the token's SHA-256 only.
    {"guest_link_record",
     "WITH h AS (SELECT id FROM holds WHERE id = $2), "
     "g AS (INSERT INTO guest_links (token_sha256, hold_id, created_at, expires_at) "
     "SELECT $1, h.id, to_timestamp($3::bigint), to_timestamp($4::bigint) FROM h "
     "ON CONFLICT (token_sha256) DO NOTHING RETURNING 1) "
     "SELECT (SELECT count(*) FROM h), (SELECT count(*) FROM g)"},
    {"guest_link_find",
     "SELECT token_sha256, hold_id, extract(epoch FROM created_at)::bigint, "
     "extract(epoch FROM expires_at)::bigint FROM guest_links WHERE token_sha256 = $1"},
    // audit_events (its seq comes from holds.last_event_seq, under the hold's row lock)
    // $16: a PaymentIntent the event appends to the hold's chain ('' none); $17: the
    // hold's new reauthorization (NULL: unchanged, '': cleared); $18: only while the hold's
    // status is still status_before ($7).
    {"event_append",
     "WITH s AS (UPDATE holds SET last_event_seq = last_event_seq + 1, "
     "status = coalesce(nullif($8, ''), status), "
     "expires_at = coalesce(to_timestamp($15::bigint), expires_at), "
     "reauthorization = CASE WHEN $17::text IS NULL THEN reauthorization "
     "ELSE nullif($17::text, '')::json END "
     "WHERE id = $2 AND (NOT $18::boolean OR status IS NOT DISTINCT FROM nullif($7, '')) "
     "RETURNING last_event_seq), "
     "c AS (INSERT INTO hold_payment_intents (payment_intent, hold_id, position) "
     "SELECT $16::text, $2, (SELECT coalesce(max(position) + 1, 0) FROM hold_payment_intents "
     "WHERE hold_id = $2) FROM s WHERE $16 <> '' AND NOT EXISTS (SELECT 1 FROM "
     "hold_payment_intents WHERE payment_intent = $16 AND hold_id = $2) RETURNING 1) "
     "INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, request_id, "
     "status_before, status_after, amount, currency, payment_intent, stripe_request_id, "
     "detail, created_at) SELECT $1, $2, s.last_event_seq, $3, $4, $5, nullif($6, ''), "
     "nullif($7, ''), nullif($8, ''), $9::bigint, nullif($10, ''), nullif($11, ''), "
     "nullif($12, ''), $13::json, to_timestamp($14::bigint) FROM s RETURNING seq"},
    {"event_get", "SELECT " CC_EVENT_COLUMNS " FROM audit_events WHERE id = $1"},
    {"event_cursor", "SELECT seq FROM audit_events WHERE id = $1 AND hold_id = $2"},
    {"event_list",
     "SELECT " CC_EVENT_COLUMNS " FROM audit_events WHERE hold_id = $1 AND seq > $2::bigint "
     "ORDER BY seq LIMIT $3::integer"},
    // stripe_intents
    // A create's hold, its first event (seq 1) and its intent's result in one statement and
    // one commit. A hold already recorded (a retry, or the webhook's import won) inserts
    // nothing and finishes nothing: the caller then makes the separate calls.
    {"record_create",
     "WITH h AS (INSERT INTO holds (id, chitty_id, client, property_id, tenant_id, amount, "
     "currency, status, created_at, expires_at, release_after, last_event_seq, authorize_at, "
     "stay_ends_at, reauthorize, customer) VALUES ($1, $2, "
     "$3, nullif($4, ''), nullif($5, ''), $6::bigint, $7, $8, to_timestamp($9::bigint), "
     "to_timestamp($10::bigint), to_timestamp($12::bigint), 1, to_timestamp($29::bigint), "
     "to_timestamp($30::bigint), $31::boolean, nullif($32, '')) "
     "ON CONFLICT (id) DO NOTHING RETURNING id), "
     "c AS (INSERT INTO hold_payment_intents (payment_intent, hold_id, position) "
     "SELECT u.pi, h.id, (u.ord - 1)::integer FROM h, "
     "unnest(string_to_array($11::text, ',')) WITH ORDINALITY AS u(pi, ord) RETURNING 1), "
     "e AS (INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, request_id, "
     "status_before, status_after, amount, currency, payment_intent, stripe_request_id, "
     "detail, created_at) SELECT $13, h.id, 1, $14, $15, $16, nullif($17, ''), "
     "nullif($18, ''), nullif($19, ''), $20::bigint, nullif($21, ''), nullif($22, ''), "
     "nullif($23, ''), $24::json, to_timestamp($25::bigint) FROM h RETURNING 1), "
     "f AS (UPDATE stripe_intents SET state = 'succeeded', result = $27::json, "
     "finished_at = to_timestamp($28::bigint) WHERE idempotency_key = $26 "
     "AND " CC_STILL_PENDING(
         "") " AND EXISTS (SELECT 1 FROM h) RETURNING 1) "
             "SELECT (SELECT count(*) FROM h), (SELECT count(*) FROM e), (SELECT count(*) FROM f), "
             "(SELECT count(*) FROM c)"},
    // record_create for a batch: the same rows, one row per create in the parallel text
    // arrays (unnest zips them); answers, per create, whether its hold and its intent's
    // result were recorded.
    {"record_creates",
     "WITH u AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
     "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], "
     "$11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], "
     "$17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], "
     "$23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[], "
     "$29::text[], $30::text[], $31::text[], $32::text[]) "
     "AS u(id, chitty_id, client, property_id, tenant_id, amount, currency, status, "
     "created_at, expires_at, chain, release_after, eid, echitty, etype, actor, request_id, "
     "sb, sa, eamount, ecurrency, epi, esr, detail, ecreated, ikey, result, now, "
     "authorize_at, stay_ends_at, reauthorize, customer)), "
     "h AS (INSERT INTO holds (id, chitty_id, client, property_id, tenant_id, amount, "
     "currency, status, created_at, expires_at, release_after, last_event_seq, authorize_at, "
     "stay_ends_at, reauthorize, customer) "
     "SELECT id, chitty_id, client, nullif(property_id, ''), nullif(tenant_id, ''), "
     "amount::bigint, currency, status, to_timestamp(created_at::bigint), "
     "to_timestamp(expires_at::bigint), to_timestamp(release_after::bigint), 1, "
     "to_timestamp(authorize_at::bigint), to_timestamp(stay_ends_at::bigint), "
     "reauthorize::boolean, nullif(customer, '') FROM u "
     "ON CONFLICT (id) DO NOTHING RETURNING id), "
     "c AS (INSERT INTO hold_payment_intents (payment_intent, hold_id, position) "
     "SELECT p.pi, h.id, (p.ord - 1)::integer FROM h JOIN u ON u.id = h.id, "
     "unnest(string_to_array(u.chain, ',')) WITH ORDINALITY AS p(pi, ord) RETURNING 1), "
     "e AS (INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, request_id, "
     "status_before, status_after, amount, currency, payment_intent, stripe_request_id, "
     "detail, created_at) SELECT u.eid, h.id, 1, u.echitty, u.etype, u.actor, "
     "nullif(u.request_id, ''), nullif(u.sb, ''), nullif(u.sa, ''), u.eamount::bigint, "
     "nullif(u.ecurrency, ''), nullif(u.epi, ''), nullif(u.esr, ''), u.detail::json, "
     "to_timestamp(u.ecreated::bigint) FROM h JOIN u ON u.id = h.id RETURNING 1), "
     "f AS (UPDATE stripe_intents s SET state = 'succeeded', result = u.result::json, "
     "finished_at = to_timestamp(u.now::bigint) FROM h JOIN u ON u.id = h.id "
     "WHERE s.idempotency_key = u.ikey AND " CC_STILL_PENDING(
         "s.") " RETURNING s.idempotency_key) "
               "SELECT u.id, EXISTS (SELECT 1 FROM h WHERE h.id = u.id), "
               "EXISTS (SELECT 1 FROM f WHERE f.idempotency_key = u.ikey) FROM u"},
    // Always flushed before it answers (set_config(…, true) is this statement's own
    // transaction's setting), whatever the session's synchronous_commit: no Stripe POST
    // goes out before its intent is on disk.
    {"intent_begin",
     "WITH durable AS (SELECT set_config('synchronous_commit', 'on', true)) "
     "INSERT INTO stripe_intents (idempotency_key, operation, hold_id, params_digest, "
     "created_at, request) SELECT $1, $2, nullif($3, ''), $4, to_timestamp($5::bigint), "
     "$6::json FROM durable "
     "ON CONFLICT (idempotency_key) DO NOTHING RETURNING " CC_INTENT_COLUMNS},
    // intent_begin for a batch (parallel text arrays); the new rows come back.
    {"intent_begins",
     "WITH durable AS (SELECT set_config('synchronous_commit', 'on', true)) "
     "INSERT INTO stripe_intents (idempotency_key, operation, hold_id, params_digest, "
     "created_at, request) SELECT u.k, u.op, nullif(u.h, ''), u.d, to_timestamp(u.t::bigint), "
     "u.r::json FROM durable, unnest($1::text[], $2::text[], $3::text[], $4::text[], "
     "$5::text[], $6::text[]) AS u(k, op, h, d, t, r) "
     "ON CONFLICT (idempotency_key) DO NOTHING RETURNING " CC_INTENT_COLUMNS},
    {"intent_get", "SELECT " CC_INTENT_COLUMNS " FROM stripe_intents WHERE idempotency_key = $1"},
    {"intent_finish",
     "UPDATE stripe_intents SET state = $2, result = $3::json, "
     "stripe_request_id = nullif($4, ''), finished_at = to_timestamp($5::bigint) "
     "WHERE idempotency_key = $1 AND " CC_STILL_PENDING("") " RETURNING 1"},
    {"intent_pending",
     "SELECT " CC_INTENT_COLUMNS " FROM stripe_intents WHERE state = 'pending' "
     "AND created_at < to_timestamp($1::bigint) ORDER BY created_at, idempotency_key "
     "LIMIT $2::integer"},
    // A hold's pending intents (stripe_intents_pending_of, migration 0012).
    {"intent_pending_of",
     "SELECT " CC_INTENT_COLUMNS " FROM stripe_intents WHERE state = 'pending' AND hold_id = $1 "
     "ORDER BY created_at, idempotency_key"},
    // webhook_events
    {"webhook_record",
     "INSERT INTO webhook_events (event_id, received_at) VALUES ($1, to_timestamp($2::bigint)) "
     "ON CONFLICT (event_id) DO NOTHING RETURNING 1"},
    // job_state
    {"job_state_get", "SELECT value FROM job_state WHERE name = $1"},
    {"job_state_set",
     "INSERT INTO job_state (name, value, updated_at) VALUES ($1, $2, to_timestamp($3::bigint)) "
     "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"},
    // notification_clients + notifications (the outbox; 0006_notifications.sql). The rows
    // are queued by the audit_events trigger, in the event's own statement.
    // Every worker runs it at start, at once: new names go in sorted order, so two
    // callers adding the same names wait for each other instead of deadlocking.
    {"notify_clients",
     "WITH d AS (DELETE FROM notification_clients WHERE client <> ALL($1::text[]) RETURNING 1), "
     "i AS (INSERT INTO notification_clients (client) SELECT DISTINCT c FROM unnest($1::text[]) "
     "AS u(c) ORDER BY c ON CONFLICT (client) DO NOTHING RETURNING 1) "
     "SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM i)"},
    // Due, not leased, a notification client's, and the oldest pending one of its hold (a
    // hold's notifications go in event order; delivered and given-up ones do not block).
    // Rows another run is leasing right now are skipped; one whose lease another run has
    // just committed fails the re-check of lease_until under FOR UPDATE.
    {"notify_lease",
     "WITH l AS (UPDATE notifications n SET lease_until = to_timestamp($1::bigint + $2::bigint) "
     "WHERE n.id IN (SELECT x.id FROM notifications x WHERE x.status = 'pending' "
     "AND x.next_attempt_at <= to_timestamp($1::bigint) "
     "AND (x.lease_until IS NULL OR x.lease_until <= to_timestamp($1::bigint)) "
     "AND x.client IN (SELECT client FROM notification_clients) "
     "AND NOT EXISTS (SELECT 1 FROM notifications p WHERE p.hold_id = x.hold_id "
     "AND p.status = 'pending' AND p.hold_seq < x.hold_seq) "
     "ORDER BY x.created_at, x.id LIMIT $3::integer FOR UPDATE OF x SKIP LOCKED) "
     "RETURNING " CC_NOTIFICATION_COLUMNS ") "
     "SELECT l.*, ev.* FROM l CROSS JOIN LATERAL (SELECT " CC_EVENT_COLUMNS
     " FROM audit_events WHERE id = l.event_id) ev"},
    // $2: delivered | failed | gave_up | not_tried. Only a pending one changes.
    {"notify_attempt",
     "UPDATE notifications SET "
     "status = CASE $2::text WHEN 'delivered' THEN 'delivered' WHEN 'gave_up' THEN 'gave_up' "
     "ELSE 'pending' END, "
     "attempts = attempts + CASE WHEN $2::text = 'not_tried' THEN 0 ELSE 1 END, "
     "last_error = CASE WHEN $2::text IN ('failed', 'gave_up') THEN $3 ELSE last_error END, "
     "next_attempt_at = CASE WHEN $2::text IN ('failed', 'not_tried') "
     "THEN to_timestamp($4::bigint) END, "
     "delivered_at = CASE WHEN $2::text = 'delivered' THEN to_timestamp($5::bigint) END, "
     "lease_until = NULL WHERE id = $1 AND " CC_NOTIFICATION_STILL_PENDING " RETURNING 1"},
    {"notify_status", "SELECT status FROM notifications WHERE id = $1"},
    {"notify_cursor", "SELECT 1 FROM notifications WHERE id = $1 AND client = $2"},
    {"notify_failed",
     "SELECT " CC_NOTIFICATION_COLUMNS " FROM notifications n WHERE n.client = $1 "
     "AND n.attempts > 0 AND n.status <> 'delivered' "
     "AND ($2::text IS NULL OR (n.created_at, n.id) < "
     "(SELECT c.created_at, c.id FROM notifications c WHERE c.id = $2 AND c.client = $1)) "
     "ORDER BY n.created_at DESC, n.id DESC LIMIT $3::integer"},
    {"ping", "SELECT 1"},
}};

#undef CC_HOLD_COLUMNS
#undef CC_EVENT_COLUMNS
#undef CC_INTENT_COLUMNS
#undef CC_NOTIFICATION_COLUMNS

const Statement& Sql(Stmt stmt) { return kStatements.at(static_cast<size_t>(stmt)); }

tl::unexpected<Error> Internal(std::string message) {
  return Fail(ErrorKind::kInternal, "ledger_error", std::move(message));
}

tl::unexpected<Error> Refused(const PgRows& rows) {
  return Internal("ledger refused a statement (" + rows.sqlstate + "): " + rows.message);
}

tl::unexpected<Error> UnknownCursor() {
  return Fail(ErrorKind::kInvalidArgument, "invalid_request",
              "starting_after names no item of this list", "starting_after");
}

constexpr const char* kUniqueViolation = "23505";

PgValue Text(std::string_view s) { return std::string(s); }
PgValue Number(int64_t n) { return std::to_string(n); }
PgValue OptionalNumber(std::optional<int64_t> n) { return n ? Number(*n) : PgValue(std::nullopt); }
PgValue TextOrNull(std::string_view s) { return s.empty() ? PgValue() : Text(s); }

std::string Str(const PgValue& v) { return v.value_or(""); }

// A PostgreSQL array literal of text ({"a","b",NULL}): the parameter of a batch
// statement's column, one element per item.
class TextArray {
 public:
  void Add(const PgValue& v) {
    out_ += out_.empty() ? '{' : ',';
    if (!v) {
      out_ += "NULL";
      return;
    }
    out_ += '"';
    for (const char c : *v) {
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  [[nodiscard]] PgValue Literal() const { return out_.empty() ? "{}" : out_ + '}'; }

 private:
  std::string out_;
};

// The parameters of a batch statement: column i of every item's row.
std::vector<PgValue> Columns(const std::vector<std::vector<PgValue>>& rows, size_t width) {
  std::vector<TextArray> columns(width);
  for (const auto& row : rows) {
    for (size_t i = 0; i < width; ++i) columns[i].Add(row.at(i));
  }
  std::vector<PgValue> params;
  params.reserve(width);
  for (const TextArray& c : columns) params.push_back(c.Literal());
  return params;
}

int64_t Int(const PgValue& v) {
  int64_t n = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

std::optional<int64_t> OptionalInt(const PgValue& v) {
  return v ? std::optional<int64_t>(Int(v)) : std::nullopt;
}

std::vector<std::string> SplitChain(const std::string& joined) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < joined.size()) {
    const size_t comma = joined.find(',', start);
    const size_t end = comma == std::string::npos ? joined.size() : comma;
    out.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string JoinChain(const std::vector<std::string>& chain) {
  std::string out;
  for (const std::string& pi : chain) {
    if (!out.empty()) out += ',';
    out += pi;  // validated: [A-Za-z0-9_], no comma
  }
  return out;
}

Hold HoldFrom(const std::vector<PgValue>& r) {
  Hold h;
  h.id = Str(r.at(0));
  h.chitty_id = Str(r.at(1));
  h.client = Str(r.at(2));
  h.property_id = Str(r.at(3));
  h.tenant_id = Str(r.at(4));
  h.amount = Int(r.at(5));
  h.currency = Str(r.at(6));
  h.status = Str(r.at(7));
  h.created_at = Int(r.at(8));
  h.expires_at = OptionalInt(r.at(9));
  h.payment_intents = SplitChain(Str(r.at(10)));
  h.release_after = OptionalInt(r.at(11));
  h.lease_until = OptionalInt(r.at(12));
  h.claim_json = Str(r.at(13));
  h.authorize_at = OptionalInt(r.at(14));
  h.stay_ends_at = OptionalInt(r.at(15));
  h.reauthorize = Str(r.at(16)) == "t";
  h.customer = Str(r.at(17));
  h.reauthorization_json = Str(r.at(18));
  h.disclosure_json = Str(r.at(19));
  if (!Str(r.at(20)).empty()) {
    Dispute d;
    d.id = Str(r.at(20));
    d.status = Str(r.at(21));
    d.reason = Str(r.at(22));
    d.amount = Int(r.at(23));
    d.evidence_due_by = OptionalInt(r.at(24));
    d.staged_at = OptionalInt(r.at(25));
    d.submitted_at = OptionalInt(r.at(26));
    d.lease_until = OptionalInt(r.at(27));
    h.dispute = std::move(d);
  }
  return h;
}

Event EventFrom(const std::vector<PgValue>& r) {
  Event e;
  e.id = Str(r.at(0));
  e.hold_id = Str(r.at(1));
  e.seq = Int(r.at(2));
  e.chitty_id = Str(r.at(3));
  e.type = Str(r.at(4));
  e.actor = Str(r.at(5));
  e.request_id = Str(r.at(6));
  e.status_before = Str(r.at(7));
  e.status_after = Str(r.at(8));
  e.amount = OptionalInt(r.at(9));
  e.currency = Str(r.at(10));
  e.payment_intent = Str(r.at(11));
  e.stripe_request_id = Str(r.at(12));
  e.detail_json = Str(r.at(13));
  e.created_at = Int(r.at(14));
  return e;
}

constexpr size_t kNotificationColumns = 13;

// A notification row; with `with_event`, the event's columns follow (notify_lease).
Notification NotificationFrom(const std::vector<PgValue>& r, bool with_event) {
  Notification n;
  n.id = Str(r.at(0));
  n.client = Str(r.at(1));
  n.hold_id = Str(r.at(2));
  n.type = Str(r.at(3));
  n.status = ParseNotificationStatus(Str(r.at(4))).value_or(NotificationStatus::kPending);
  n.attempts = static_cast<int>(Int(r.at(5)));
  n.last_error = Str(r.at(6));
  n.next_attempt_at = OptionalInt(r.at(7));
  n.created_at = Int(r.at(8));
  n.delivered_at = OptionalInt(r.at(9));
  n.lease_until = OptionalInt(r.at(10));
  if (with_event) {
    n.event = EventFrom(std::vector<PgValue>(
        r.begin() + static_cast<std::ptrdiff_t>(kNotificationColumns), r.end()));
  } else {
    n.event.id = Str(r.at(11));
    n.event.seq = Int(r.at(12));
  }
  return n;
}

StripeIntent IntentFrom(const std::vector<PgValue>& r) {
  StripeIntent i;
  i.idempotency_key = Str(r.at(0));
  i.operation = Str(r.at(1));
  i.hold_id = Str(r.at(2));
  i.params_digest = Str(r.at(3));
  i.state = ParseIntentState(Str(r.at(4))).value_or(IntentState::kPending);
  i.result_json = Str(r.at(5));
  i.stripe_request_id = Str(r.at(6));
  i.created_at = Int(r.at(7));
  i.finished_at = OptionalInt(r.at(8));
  i.request_json = Str(r.at(9));
  return i;
}

}  // namespace

// Marks the ledger busy for one call; a second concurrent call is refused (a bug).
class PgLedger::Call {
 public:
  explicit Call(std::atomic<bool>& busy) : busy_(busy), owner_(!busy.exchange(true)) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  Call(Call&&) = delete;
  Call& operator=(Call&&) = delete;
  ~Call() {
    if (owner_) busy_.store(false);
  }
  [[nodiscard]] bool owner() const { return owner_; }

 private:
  std::atomic<bool>& busy_;
  bool owner_;
};

void PgLedger::StartBackoff(const std::string& why) {
  conn_.reset();
  backoff_ms_ = backoff_ms_ == 0 ? options_.min_backoff_ms
                                 : std::min(backoff_ms_ * 2, options_.max_backoff_ms);
  retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms_);
  last_error_ = why;
}

Result<PgConnection*> PgLedger::Connection() {
  if (conn_ != nullptr && !conn_->broken()) return conn_.get();
  conn_.reset();
  if (std::chrono::steady_clock::now() < retry_at_) {
    return Fail(ErrorKind::kUnavailable, "service_unavailable",
                "ledger unavailable (reconnecting after a backoff): " + last_error_);
  }
  auto conn = PgConnection::Connect(options_.conninfo, waiter_, options_.connect_timeout_ms);
  if (!conn) {
    StartBackoff(conn.error().message);
    return Fail(conn.error());
  }
  for (const Statement& s : kStatements) {
    auto prepared = (*conn)->Prepare(s.name, s.sql, options_.statement_timeout_ms);
    if (!prepared) {
      StartBackoff(prepared.error().message);
      return Fail(prepared.error());
    }
    if (!prepared->ok()) {
      StartBackoff(prepared->message);
      return Internal("ledger schema missing or behind: run chittycharge-migrate (" +
                      std::string(s.name) + ": " + prepared->message + ")");
    }
  }
  // The statements run on generic plans cached for the connection's life (until an ANALYZE
  // of their tables). One planned while a table was small scans it whole once it has grown:
  // on a new ledger under load, record_creates' update of stripe_intents read the whole
  // table at every batch until autovacuum's next ANALYZE, most of PostgreSQL's CPU
  // (docs/performance.md, "A plan made on a new ledger"). Each statement's rows are found
  // through an index, so the planner is told never to prefer a scan of a whole table.
  std::string session = "SET enable_seqscan = off";
  if (!options_.durable_records) session += "; SET synchronous_commit = off";
  if (auto set = (*conn)->ExecScript(session, options_.statement_timeout_ms); !set || !set->ok()) {
    const std::string why = set ? set->message : set.error().message;
    StartBackoff(why);
    return Fail(ErrorKind::kUnavailable, "service_unavailable", "ledger unavailable: " + why);
  }
  conn_ = std::move(*conn);
  backoff_ms_ = 0;
  return conn_.get();
}

Result<PgRows> PgLedger::Run(Stmt stmt, const std::vector<PgValue>& params) {
  for (int attempt = 0;; ++attempt) {
    auto conn = Connection();
    if (!conn) return Fail(conn.error());
    auto rows = (*conn)->ExecPrepared(Sql(stmt).name, params, options_.statement_timeout_ms);
    if (!rows) {
      StartBackoff(rows.error().message);
    } else if (rows->sqlstate == kFeatureNotSupported && attempt == 0) {
      // A migration changed the type of a column this connection's statements return
      // ("cached plan must not change result type"): PostgreSQL refused the statement
      // before running it. A new connection prepares them again; the call is made once more.
      log::Warn("ledger statement refused; preparing the statements again",
                {log::Str("statement", Sql(stmt).name), log::Str("error", rows->message)});
      conn_.reset();
      continue;
    }
    return rows;
  }
}

namespace {

tl::unexpected<Error> Busy() {
  return Internal(
      "PgLedger called while a call is in flight (one call at a time; use one "
      "PgLedger per caller)");
}

}  // namespace

Result<bool> PgLedger::RecordHold(const Hold& hold) {
  if (auto ok = ValidateHold(hold); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldInsert,
                  {Text(hold.id), Text(hold.chitty_id), Text(hold.client), Text(hold.property_id),
                   Text(hold.tenant_id), Number(hold.amount), Text(hold.currency),
                   Text(hold.status), Number(hold.created_at), OptionalNumber(hold.expires_at),
                   Text(JoinChain(hold.payment_intents)), OptionalNumber(hold.release_after),
                   OptionalNumber(hold.authorize_at), OptionalNumber(hold.stay_ends_at),
                   Text(hold.reauthorize ? "true" : "false"), Text(hold.customer)});
  if (!rows) return Fail(rows.error());
  if (rows->sqlstate == kUniqueViolation) {
    return Fail(ErrorKind::kConflict, "ledger_conflict",
                "a chitty_id or PaymentIntent of this hold belongs to another hold (" +
                    rows->constraint + ")");
  }
  if (!rows->ok()) return Refused(*rows);
  return !rows->rows.empty() && Int(rows->rows[0].at(0)) == 1;
}

Result<std::optional<Hold>> PgLedger::FindHold(std::string_view id) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldFind, {Text(id)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (rows->rows.empty()) return std::optional<Hold>();
  return std::optional<Hold>(HoldFrom(rows->rows[0]));
}

Result<Page<Hold>> PgLedger::ListHolds(const HoldFilter& f) {
  if (auto ok = ValidateHoldFilter(f); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  if (!f.starting_after.empty()) {
    auto cursor = Run(Stmt::kHoldCursor, {Text(f.starting_after), Text(f.client)});
    if (!cursor) return Fail(cursor.error());
    if (!cursor->ok()) return Refused(*cursor);
    if (cursor->rows.empty()) return UnknownCursor();
  }
  auto rows =
      Run(Stmt::kHoldList,
          {Text(f.client), TextOrNull(f.property_id), TextOrNull(f.tenant_id), TextOrNull(f.status),
           OptionalNumber(f.expiring_before), OptionalNumber(f.created_after),
           OptionalNumber(f.created_before), TextOrNull(f.starting_after), Number(f.limit + 1)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  Page<Hold> page;
  for (const auto& r : rows->rows) page.data.push_back(HoldFrom(r));
  page.has_more = page.data.size() > static_cast<size_t>(f.limit);
  if (page.has_more) page.data.pop_back();
  return page;
}

Result<std::vector<Hold>> PgLedger::LeaseDueReleases(int64_t now, int64_t lease_s, int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldLeaseReleases, {Number(now), Number(lease_s), Number(limit)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  std::vector<Hold> due;
  for (const auto& r : rows->rows) due.push_back(HoldFrom(r));
  std::sort(due.begin(), due.end(), [](const Hold& a, const Hold& b) {
    return std::tie(*a.release_after, a.id) < std::tie(*b.release_after, b.id);
  });
  return due;
}

Result<std::vector<Hold>> PgLedger::LeaseDueAuthorizations(int64_t now, int64_t margin_s,
                                                           int64_t lease_s, int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldLeaseAuthorizations,
                  {Number(now), Number(margin_s), Number(lease_s), Number(limit)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  std::vector<Hold> due;
  for (const auto& r : rows->rows) due.push_back(HoldFrom(r));
  // RETURNING keeps no order: due time, then id (as the lease chose them).
  const auto due_at = [margin_s](const Hold& h) {
    return h.status == "scheduled" ? h.authorize_at.value_or(0)
                                   : h.expires_at.value_or(0) - margin_s;
  };
  std::sort(due.begin(), due.end(), [&](const Hold& a, const Hold& b) {
    const int64_t at_a = due_at(a);
    const int64_t at_b = due_at(b);
    return std::tie(at_a, a.id) < std::tie(at_b, b.id);
  });
  return due;
}

Result<std::vector<Hold>> PgLedger::LeaseDueChecks(int64_t now, int64_t interval_s, int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldLeaseChecks, {Number(now), Number(interval_s), Number(limit)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  // RETURNING keeps no order: the longest waiting first (the time each waited since, then
  // its id, as the lease chose them).
  std::vector<std::pair<int64_t, Hold>> taken;
  for (const auto& r : rows->rows) taken.emplace_back(Int(r.back()), HoldFrom(r));
  std::sort(taken.begin(), taken.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.id) < std::tie(b.first, b.second.id);
  });
  std::vector<Hold> due;
  for (auto& [since, hold] : taken) due.push_back(std::move(hold));
  return due;
}

Result<bool> PgLedger::SetHoldClaim(std::string_view hold_id, std::string_view claim_json) {
  if (auto ok = ValidateClaim(claim_json); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldSetClaim, {Text(hold_id), Text(claim_json)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (!rows->rows.empty()) return true;
  auto exists = Run(Stmt::kHoldExists, {Text(hold_id)});  // claimed before, or no such hold
  if (!exists) return Fail(exists.error());
  if (!exists->ok()) return Refused(*exists);
  if (exists->rows.empty()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  return false;
}

Result<bool> PgLedger::SetHoldDisclosure(std::string_view hold_id,
                                         std::string_view disclosure_json) {
  if (auto ok = ValidateDisclosure(disclosure_json); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldSetDisclosure, {Text(hold_id), Text(disclosure_json)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (!rows->rows.empty()) return true;
  auto exists = Run(Stmt::kHoldExists, {Text(hold_id)});  // set before, or no such hold
  if (!exists) return Fail(exists.error());
  if (!exists->ok()) return Refused(*exists);
  if (exists->rows.empty()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  return false;
}

Result<bool> PgLedger::RecordEvidence(const Evidence& v, const Event& e) {
  if (auto ok = ValidateEvidence(v, e); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kEvidenceRecord,
                  {Text(v.id), Text(v.hold_id), Text(v.filename), Number(v.size), Text(v.type),
                   Number(v.created_at), Text(e.id), Text(e.chitty_id), Text(e.type), Text(e.actor),
                   Text(e.request_id), Text(e.status_before), Text(e.status_after),
                   OptionalNumber(e.amount), Text(e.currency), Text(e.payment_intent),
                   Text(e.stripe_request_id), Text(e.detail_json), Number(e.created_at)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  const auto& counts = rows->rows.at(0);
  if (Int(counts.at(0)) == 0) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + v.hold_id);
  }
  return Int(counts.at(1)) > 0;
}

Result<std::vector<Evidence>> PgLedger::ListEvidence(std::string_view hold_id) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kEvidenceList, {Text(hold_id)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  std::vector<Evidence> out;
  for (const auto& r : rows->rows) {
    Evidence v;
    v.id = Str(r.at(0));
    v.hold_id = Str(r.at(1));
    v.filename = Str(r.at(2));
    v.size = Int(r.at(3));
    v.type = Str(r.at(4));
    v.created_at = Int(r.at(5));
    out.push_back(std::move(v));
  }
  return out;
}

Result<bool> PgLedger::RecordGuestLink(const GuestLink& link) {
  if (auto ok = ValidateGuestLink(link); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kGuestLinkRecord, {Text(link.token_sha256), Text(link.hold_id),
                                           Number(link.created_at), Number(link.expires_at)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  const auto& counts = rows->rows.at(0);
  if (Int(counts.at(0)) == 0) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + link.hold_id);
  }
  return Int(counts.at(1)) > 0;
}

Result<std::optional<GuestLink>> PgLedger::FindGuestLink(std::string_view token_sha256) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kGuestLinkFind, {Text(token_sha256)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (rows->rows.empty()) return std::optional<GuestLink>();
  const auto& r = rows->rows.at(0);
  return std::optional<GuestLink>(
      GuestLink{Str(r.at(0)), Str(r.at(1)), Int(r.at(2)), Int(r.at(3))});
}

Result<bool> PgLedger::RecordDispute(std::string_view hold_id, const Dispute& d) {
  if (auto ok = ValidateDispute(d); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows =
      Run(Stmt::kHoldRecordDispute, {Text(hold_id), Text(d.id), Text(d.status), Text(d.reason),
                                     Number(d.amount), OptionalNumber(d.evidence_due_by)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (rows->rows.empty() || Int(rows->rows[0].at(0)) == 0) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  return Int(rows->rows[0].at(1)) > 0;
}

Result<std::vector<Hold>> PgLedger::LeaseDueDisputes(int64_t now, int64_t lease_s, int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kHoldLeaseDisputes, {Number(now), Number(lease_s), Number(limit)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  std::vector<Hold> due;
  for (const auto& r : rows->rows) due.push_back(HoldFrom(r));
  const auto key = [](const Hold& h) {
    const auto& due_by = h.dispute->evidence_due_by;
    return std::make_tuple(!due_by.has_value(), due_by.value_or(0), std::cref(h.id));
  };
  std::sort(due.begin(), due.end(), [&](const Hold& a, const Hold& b) { return key(a) < key(b); });
  return due;
}

Result<bool> PgLedger::MarkDispute(std::string_view hold_id, std::string_view dispute_id,
                                   DisputeMark mark, int64_t at) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  const char* name = mark == DisputeMark::kStaged      ? "staged"
                     : mark == DisputeMark::kSubmitted ? "submitted"
                                                       : "lease_ended";
  auto rows =
      Run(Stmt::kHoldMarkDispute, {Text(hold_id), Text(dispute_id), Text(name), Number(at)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (rows->rows.empty() || Int(rows->rows[0].at(0)) == 0) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  return Int(rows->rows[0].at(1)) > 0 && Str(rows->rows[0].at(2)) == "t";
}

Result<Event> PgLedger::AppendEvent(const Event& e) {
  if (auto ok = ValidateEvent(e); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(
      Stmt::kEventAppend,
      {Text(e.id), Text(e.hold_id), Text(e.chitty_id), Text(e.type), Text(e.actor),
       Text(e.request_id), Text(e.status_before), Text(e.status_after), OptionalNumber(e.amount),
       Text(e.currency), Text(e.payment_intent), Text(e.stripe_request_id), Text(e.detail_json),
       Number(e.created_at), OptionalNumber(e.hold_expires_at), Text(e.hold_payment_intent),
       e.hold_reauthorization ? Text(*e.hold_reauthorization) : PgValue(),
       Text(e.if_status_unchanged ? "true" : "false")});
  if (!rows) return Fail(rows.error());
  const bool nothing_written = rows->ok() && rows->rows.empty();
  if (rows->sqlstate == kUniqueViolation || (nothing_written && e.if_status_unchanged)) {
    auto stored = Run(Stmt::kEventGet, {Text(e.id)});  // this id is recorded: a retry
    if (!stored) return Fail(stored.error());
    if (stored->ok() && !stored->rows.empty()) return EventFrom(stored->rows[0]);
    if (!nothing_written) return Refused(*rows);
    auto exists = Run(Stmt::kHoldExists, {Text(e.hold_id)});
    if (!exists) return Fail(exists.error());
    if (exists->ok() && !exists->rows.empty()) {
      return Fail(ErrorKind::kConflict, "hold_changed",
                  "the hold's status changed since it was read");
    }
  }
  if (!rows->ok()) return Refused(*rows);
  if (rows->rows.empty()) return Fail(ErrorKind::kNotFound, "not_found", "no hold " + e.hold_id);
  Event stored = e;
  stored.seq = Int(rows->rows[0].at(0));
  return stored;
}

Result<Page<Event>> PgLedger::ListEvents(std::string_view hold_id, std::string_view starting_after,
                                         int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  int64_t after_seq = 0;
  if (!starting_after.empty()) {
    auto cursor = Run(Stmt::kEventCursor, {Text(starting_after), Text(hold_id)});
    if (!cursor) return Fail(cursor.error());
    if (!cursor->ok()) return Refused(*cursor);
    if (cursor->rows.empty()) return UnknownCursor();
    after_seq = Int(cursor->rows[0].at(0));
  }
  auto rows = Run(Stmt::kEventList, {Text(hold_id), Number(after_seq), Number(limit + 1)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  Page<Event> page;
  for (const auto& r : rows->rows) page.data.push_back(EventFrom(r));
  page.has_more = page.data.size() > static_cast<size_t>(limit);
  if (page.has_more) page.data.pop_back();
  return page;
}

// Refused as a whole (nothing recorded), its items go one by one. An integrity error is
// one item's (another hold's chitty_id) and that item's call will say so; anything else
// is logged.
void PgLedger::WarnRefusedBatch(const char* statement, const PgRows& rows) const {
  if (rows.sqlstate.starts_with("23")) return;
  log::Warn("ledger batch refused; its items go one by one",
            {log::Str("statement", statement), log::Str("sqlstate", rows.sqlstate),
             log::Str("error", rows.message)});
}

namespace {

Status ValidateCreate(const CreateRecord& r) {
  if (auto ok = ValidateHold(*r.hold); !ok) return ok;
  if (auto ok = ValidateEvent(*r.created); !ok) return ok;
  if (r.created->hold_id != r.hold->id || r.created->status_after != r.hold->status) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                "a create's event is its hold's, with its status", "hold_id");
  }
  if (!json::IsJsonText(r.result_json)) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "result is JSON", "result");
  }
  return Ok();
}

// record_create's parameters, and one row of record_creates' arrays.
std::vector<PgValue> CreateParams(const CreateRecord& r) {
  const Hold& hold = *r.hold;
  const Event& created = *r.created;
  return {Text(hold.id),
          Text(hold.chitty_id),
          Text(hold.client),
          Text(hold.property_id),
          Text(hold.tenant_id),
          Number(hold.amount),
          Text(hold.currency),
          Text(hold.status),
          Number(hold.created_at),
          OptionalNumber(hold.expires_at),
          Text(JoinChain(hold.payment_intents)),
          OptionalNumber(hold.release_after),
          Text(created.id),
          Text(created.chitty_id),
          Text(created.type),
          Text(created.actor),
          Text(created.request_id),
          Text(created.status_before),
          Text(created.status_after),
          OptionalNumber(created.amount),
          Text(created.currency),
          Text(created.payment_intent),
          Text(created.stripe_request_id),
          Text(created.detail_json),
          Number(created.created_at),
          Text(r.intent_key),
          Text(r.result_json),
          Number(r.now),
          OptionalNumber(hold.authorize_at),
          OptionalNumber(hold.stay_ends_at),
          Text(hold.reauthorize ? "true" : "false"),
          Text(hold.customer)};
}

constexpr size_t kCreateParams = 32;

std::vector<PgValue> IntentParams(const StripeIntent& i) {
  return {Text(i.idempotency_key), Text(i.operation),    Text(i.hold_id),
          Text(i.params_digest),   Number(i.created_at), Text(i.request_json)};
}

constexpr size_t kIntentParams = 6;

}  // namespace

Status PgLedger::RecordCreate(const Hold& hold, const Event& created, std::string_view intent_key,
                              std::string_view result_json, int64_t now) {
  const CreateRecord record{&hold, &created, intent_key, result_json, now};
  if (auto ok = ValidateCreate(record); !ok) return ok;
  return RecordValidCreate(record);
}

Status PgLedger::RecordValidCreate(const CreateRecord& record) {
  const Hold& hold = *record.hold;
  const Event& created = *record.created;
  {
    const Call call(busy_);
    if (!call.owner()) return Busy();
    auto rows = Run(Stmt::kRecordCreate, CreateParams(record));
    if (!rows) return Fail(rows.error());
    if (rows->sqlstate == kUniqueViolation) {
      return Fail(ErrorKind::kConflict, "ledger_conflict",
                  "a chitty_id, PaymentIntent or event id of this create belongs to another hold");
    }
    if (!rows->ok()) return Refused(*rows);
    if (!rows->rows.empty() && Int(rows->rows[0].at(0)) == 1 && Int(rows->rows[0].at(2)) == 1) {
      return Ok();
    }
  }
  // A repeat (the hold was recorded), or an intent not pending (unknown, or finished): the
  // separate calls give the same answers as RecordHold, AppendEvent and FinishIntent.
  return Ledger::RecordCreate(hold, created, record.intent_key, record.result_json, record.now);
}

// One statement for the creates that can share it: valid, and no hold id or intent key
// twice. What it does not settle (a repeat, an intent not pending, a refused batch, a
// lone create) goes through RecordCreate, one by one, with its own answers.
std::vector<Status> PgLedger::RecordCreates(std::span<const CreateRecord> records) {
  std::vector<std::optional<Status>> answers(records.size());
  std::vector<size_t> batch;
  std::unordered_set<std::string_view> holds;
  std::unordered_set<std::string_view> keys;
  for (size_t i = 0; i < records.size(); ++i) {
    if (auto ok = ValidateCreate(records[i]); !ok) {
      answers[i] = ok;
    } else if (holds.insert(records[i].hold->id).second &&
               keys.insert(records[i].intent_key).second) {
      batch.push_back(i);
    }
  }
  if (batch.size() > 1) {
    const Call call(busy_);
    if (!call.owner()) return std::vector<Status>(records.size(), Status(Busy()));
    std::vector<std::vector<PgValue>> rows;
    rows.reserve(batch.size());
    for (const size_t i : batch) rows.push_back(CreateParams(records[i]));
    auto result = Run(Stmt::kRecordCreates, Columns(rows, kCreateParams));
    if (!result) {
      for (const size_t i : batch) answers[i] = Fail(result.error());
    } else if (!result->ok()) {
      WarnRefusedBatch("record_creates", *result);
    } else {
      std::unordered_set<std::string> done;
      for (const auto& r : result->rows) {
        if (Str(r.at(1)) == "t" && Str(r.at(2)) == "t") done.insert(Str(r.at(0)));
      }
      for (const size_t i : batch) {
        if (done.contains(records[i].hold->id)) {
          answers[i] = Ok();
          ++batch_settled_;
        }
      }
    }
  }
  std::vector<Status> out;
  out.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const CreateRecord& r = records[i];
    out.push_back(answers[i] ? *answers[i] : RecordValidCreate(r));  // validated above
  }
  return out;
}

Result<StripeIntent> PgLedger::BeginIntent(const StripeIntent& i) {
  if (auto ok = ValidateIntent(i); !ok) return Fail(ok.error());
  return BeginValidIntent(i);
}

Result<StripeIntent> PgLedger::BeginValidIntent(const StripeIntent& i) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kIntentBegin, IntentParams(i));
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (!rows->rows.empty()) return IntentFrom(rows->rows[0]);
  auto stored = Run(Stmt::kIntentGet, {Text(i.idempotency_key)});  // the key was recorded
  if (!stored) return Fail(stored.error());
  if (!stored->ok()) return Refused(*stored);
  if (stored->rows.empty()) return Internal("an intent vanished while it was recorded");
  StripeIntent existing = IntentFrom(stored->rows[0]);
  if (existing.params_digest != i.params_digest) {
    return Fail(ErrorKind::kConflict, "idempotency_key_reused",
                "this Stripe idempotency key was recorded with other parameters");
  }
  return existing;
}

// One statement for the intents that can share it (valid, each key once); the others,
// and every key the statement did not insert (recorded before: a retry, or another
// digest), go through BeginIntent one by one.
std::vector<Result<StripeIntent>> PgLedger::BeginIntents(
    std::span<const StripeIntent* const> intents) {
  std::vector<std::optional<Result<StripeIntent>>> answers(intents.size());
  std::vector<size_t> batch;
  std::unordered_set<std::string_view> keys;
  for (size_t i = 0; i < intents.size(); ++i) {
    if (auto ok = ValidateIntent(*intents[i]); !ok) {
      answers[i] = Fail(ok.error());
    } else if (keys.insert(intents[i]->idempotency_key).second) {
      batch.push_back(i);
    }
  }
  if (batch.size() > 1) {
    const Call call(busy_);
    if (!call.owner()) {
      return std::vector<Result<StripeIntent>>(intents.size(), Result<StripeIntent>(Busy()));
    }
    std::vector<std::vector<PgValue>> rows;
    rows.reserve(batch.size());
    for (const size_t i : batch) rows.push_back(IntentParams(*intents[i]));
    auto result = Run(Stmt::kIntentBegins, Columns(rows, kIntentParams));
    if (!result) {
      for (const size_t i : batch) answers[i] = Fail(result.error());
    } else if (!result->ok()) {
      WarnRefusedBatch("intent_begins", *result);
    } else {
      std::unordered_map<std::string, StripeIntent> inserted;
      for (const auto& r : result->rows) {
        StripeIntent intent = IntentFrom(r);
        std::string key = intent.idempotency_key;
        inserted.emplace(std::move(key), std::move(intent));
      }
      for (const size_t i : batch) {
        auto found = inserted.find(intents[i]->idempotency_key);
        if (found != inserted.end()) {
          answers[i] = std::move(found->second);
          ++batch_settled_;
        }
      }
    }
  }
  std::vector<Result<StripeIntent>> out;
  out.reserve(intents.size());
  for (size_t i = 0; i < intents.size(); ++i) {
    out.push_back(answers[i] ? std::move(*answers[i])
                             : BeginValidIntent(*intents[i]));  // validated above
  }
  return out;
}

Result<std::optional<StripeIntent>> PgLedger::FindIntent(std::string_view idempotency_key) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kIntentGet, {Text(idempotency_key)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (rows->rows.empty()) return std::optional<StripeIntent>();
  return std::optional<StripeIntent>(IntentFrom(rows->rows[0]));
}

Status PgLedger::FinishIntent(std::string_view idempotency_key, IntentState state,
                              std::string_view result_json, std::string_view stripe_request_id,
                              int64_t now) {
  if (state == IntentState::kPending) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                "an intent finishes as succeeded or failed", "state");
  }
  if (!json::IsJsonText(result_json)) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "result is JSON", "result");
  }
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kIntentFinish, {Text(idempotency_key), Text(IntentStateName(state)),
                                        Text(result_json), Text(stripe_request_id), Number(now)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (!rows->rows.empty()) return Ok();
  auto stored = Run(Stmt::kIntentGet, {Text(idempotency_key)});
  if (!stored) return Fail(stored.error());
  if (!stored->ok()) return Refused(*stored);
  if (stored->rows.empty()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no intent with this idempotency key");
  }
  if (IntentFrom(stored->rows[0]).state == state) return Ok();
  return Fail(ErrorKind::kConflict, "intent_already_finished",
              "this intent finished with the other state");
}

Result<std::vector<StripeIntent>> PgLedger::ListPendingIntents(int64_t created_before, int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kIntentPending, {Number(created_before), Number(limit)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  std::vector<StripeIntent> out;
  for (const auto& r : rows->rows) out.push_back(IntentFrom(r));
  return out;
}

Result<std::vector<StripeIntent>> PgLedger::PendingIntentsOf(std::string_view hold_id) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kIntentPendingOf, {Text(hold_id)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  std::vector<StripeIntent> out;
  for (const auto& r : rows->rows) out.push_back(IntentFrom(r));
  return out;
}

Result<bool> PgLedger::RecordWebhookEvent(std::string_view event_id, int64_t received_at) {
  if (event_id.empty()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "an event id is needed", "id");
  }
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kWebhookRecord, {Text(event_id), Number(received_at)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  return !rows->rows.empty();
}

Result<std::string> PgLedger::JobState(std::string_view name) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kJobStateGet, {Text(name)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  return rows->rows.empty() ? std::string() : Str(rows->rows[0].at(0));
}

Status PgLedger::SetJobState(std::string_view name, std::string_view value, int64_t now) {
  if (name.empty()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "a job state has a name", "name");
  }
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kJobStateSet, {Text(name), Text(value), Number(now)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  return Ok();
}

Status PgLedger::Ping() {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kPing, {});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  return Ok();
}

namespace {

std::string_view OutcomeName(NotificationAttempt::Outcome outcome) {
  using Outcome = NotificationAttempt::Outcome;
  switch (outcome) {
    case Outcome::kDelivered: return "delivered";
    case Outcome::kFailed: return "failed";
    case Outcome::kGaveUp: return "gave_up";
    case Outcome::kNotTried: return "not_tried";
  }
  return "not_tried";
}

}  // namespace

Status PgLedger::SetNotificationClients(std::span<const std::string> clients) {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  TextArray names;
  for (const std::string& c : clients) names.Add(c);
  auto rows = Run(Stmt::kNotifyClients, {names.Literal()});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  return Ok();
}

Result<std::vector<Notification>> PgLedger::LeaseDueNotifications(int64_t now, int64_t lease_s,
                                                                  int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kNotifyLease, {Number(now), Number(lease_s), Number(limit)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  std::vector<Notification> due;
  for (const auto& r : rows->rows) due.push_back(NotificationFrom(r, true));
  std::sort(due.begin(), due.end(), [](const Notification& a, const Notification& b) {
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });
  return due;
}

Result<bool> PgLedger::RecordNotificationAttempt(const NotificationAttempt& a) {
  if (auto ok = ValidateNotificationAttempt(a); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kNotifyAttempt, {Text(a.id), Text(OutcomeName(a.outcome)), Text(a.error),
                                         OptionalNumber(a.next_attempt_at), Number(a.at)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  if (!rows->rows.empty()) return true;
  auto stored = Run(Stmt::kNotifyStatus, {Text(a.id)});
  if (!stored) return Fail(stored.error());
  if (!stored->ok()) return Refused(*stored);
  if (stored->rows.empty()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no notification " + a.id);
  }
  return false;
}

Result<Page<Notification>> PgLedger::ListFailedNotifications(std::string_view client,
                                                             std::string_view starting_after,
                                                             int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  if (!starting_after.empty()) {
    auto cursor = Run(Stmt::kNotifyCursor, {Text(starting_after), Text(client)});
    if (!cursor) return Fail(cursor.error());
    if (!cursor->ok()) return Refused(*cursor);
    if (cursor->rows.empty()) return UnknownCursor();
  }
  auto rows =
      Run(Stmt::kNotifyFailed, {Text(client), TextOrNull(starting_after), Number(limit + 1)});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  Page<Notification> page;
  for (const auto& r : rows->rows) page.data.push_back(NotificationFrom(r, false));
  page.has_more = page.data.size() > static_cast<size_t>(limit);
  if (page.has_more) page.data.pop_back();
  return page;
}

}  // namespace cc::ledger
