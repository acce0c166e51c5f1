#include "ledger/pg_ledger.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <tuple>
#include <utility>

#include "core/json.h"

namespace cc::ledger {

// Every statement the ledger runs, prepared once per connection. One place per table.
enum class pg::Stmt {
  kHoldInsert,
  kHoldFind,
  kHoldCursor,
  kHoldList,
  kHoldLeaseReleases,
  kEventAppend,
  kEventGet,
  kEventCursor,
  kEventList,
  kRecordCreate,
  kIntentBegin,
  kIntentGet,
  kIntentFinish,
  kIntentPending,
  kWebhookRecord,
  kPing,
  kCount
};

namespace {

using pg::Stmt;

struct Statement {
  const char* name;
  const char* sql;
};

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): spliced into SQL literals at compile time
#define CC_HOLD_COLUMNS                                                                   \
  "h.id, h.chitty_id, h.client, coalesce(h.property_id, ''), coalesce(h.tenant_id, ''), " \
  "h.amount, h.currency, h.status, extract(epoch FROM h.created_at)::bigint, "            \
  "extract(epoch FROM h.expires_at)::bigint, "                                            \
  "(SELECT coalesce(string_agg(p.payment_intent, ',' ORDER BY p.position), '') "          \
  "FROM hold_payment_intents p WHERE p.hold_id = h.id), "                                 \
  "extract(epoch FROM h.release_after)::bigint"

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

constexpr std::array<Statement, static_cast<size_t>(Stmt::kCount)> kStatements = {{
    // holds + hold_payment_intents
    {"hold_insert",
     "WITH h AS (INSERT INTO holds (id, chitty_id, client, property_id, tenant_id, amount, "
     "currency, status, created_at, expires_at, release_after) VALUES ($1, $2, $3, "
     "nullif($4, ''), nullif($5, ''), $6::bigint, $7, $8, to_timestamp($9::bigint), "
     "to_timestamp($10::bigint), to_timestamp($12::bigint)) "
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
    // audit_events (its seq comes from holds.last_event_seq, under the hold's row lock)
    {"event_append",
     "WITH s AS (UPDATE holds SET last_event_seq = last_event_seq + 1, "
     "status = coalesce(nullif($8, ''), status), "
     "expires_at = coalesce(to_timestamp($15::bigint), expires_at) "
     "WHERE id = $2 RETURNING last_event_seq) "
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
     "currency, status, created_at, expires_at, release_after, last_event_seq) VALUES ($1, $2, "
     "$3, nullif($4, ''), nullif($5, ''), $6::bigint, $7, $8, to_timestamp($9::bigint), "
     "to_timestamp($10::bigint), to_timestamp($12::bigint), 1) "
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
     "AND state = 'pending' AND EXISTS (SELECT 1 FROM h) RETURNING 1) "
     "SELECT (SELECT count(*) FROM h), (SELECT count(*) FROM e), (SELECT count(*) FROM f), "
     "(SELECT count(*) FROM c)"},
    // Always flushed before it answers (set_config(…, true) is this statement's own
    // transaction's setting), whatever the session's synchronous_commit: no Stripe POST
    // goes out before its intent is on disk.
    {"intent_begin",
     "WITH durable AS (SELECT set_config('synchronous_commit', 'on', true)) "
     "INSERT INTO stripe_intents (idempotency_key, operation, hold_id, params_digest, "
     "created_at, request) SELECT $1, $2, nullif($3, ''), $4, to_timestamp($5::bigint), "
     "$6::json FROM durable "
     "ON CONFLICT (idempotency_key) DO NOTHING RETURNING " CC_INTENT_COLUMNS},
    {"intent_get", "SELECT " CC_INTENT_COLUMNS " FROM stripe_intents WHERE idempotency_key = $1"},
    {"intent_finish",
     "UPDATE stripe_intents SET state = $2, result = $3::json, "
     "stripe_request_id = nullif($4, ''), finished_at = to_timestamp($5::bigint) "
     "WHERE idempotency_key = $1 AND state = 'pending' RETURNING 1"},
    {"intent_pending",
     "SELECT " CC_INTENT_COLUMNS " FROM stripe_intents WHERE state = 'pending' "
     "AND created_at < to_timestamp($1::bigint) ORDER BY created_at, idempotency_key "
     "LIMIT $2::integer"},
    // webhook_events
    {"webhook_record",
     "INSERT INTO webhook_events (event_id, received_at) VALUES ($1, to_timestamp($2::bigint)) "
     "ON CONFLICT (event_id) DO NOTHING RETURNING 1"},
    {"ping", "SELECT 1"},
}};

#undef CC_HOLD_COLUMNS
#undef CC_EVENT_COLUMNS
#undef CC_INTENT_COLUMNS

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
  if (!options_.durable_records) {
    auto set = (*conn)->ExecScript("SET synchronous_commit = off", options_.statement_timeout_ms);
    if (!set || !set->ok()) {
      const std::string why = set ? set->message : set.error().message;
      StartBackoff(why);
      return Fail(ErrorKind::kUnavailable, "service_unavailable", "ledger unavailable: " + why);
    }
  }
  conn_ = std::move(*conn);
  backoff_ms_ = 0;
  return conn_.get();
}

Result<PgRows> PgLedger::Run(Stmt stmt, const std::vector<PgValue>& params) {
  auto conn = Connection();
  if (!conn) return Fail(conn.error());
  auto rows = (*conn)->ExecPrepared(Sql(stmt).name, params, options_.statement_timeout_ms);
  if (!rows) StartBackoff(rows.error().message);
  return rows;
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
                   Text(JoinChain(hold.payment_intents)), OptionalNumber(hold.release_after)});
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

Result<Event> PgLedger::AppendEvent(const Event& e) {
  if (auto ok = ValidateEvent(e); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(
      Stmt::kEventAppend,
      {Text(e.id), Text(e.hold_id), Text(e.chitty_id), Text(e.type), Text(e.actor),
       Text(e.request_id), Text(e.status_before), Text(e.status_after), OptionalNumber(e.amount),
       Text(e.currency), Text(e.payment_intent), Text(e.stripe_request_id), Text(e.detail_json),
       Number(e.created_at), OptionalNumber(e.hold_expires_at)});
  if (!rows) return Fail(rows.error());
  if (rows->sqlstate == kUniqueViolation) {  // this id is recorded: a retry
    auto stored = Run(Stmt::kEventGet, {Text(e.id)});
    if (!stored) return Fail(stored.error());
    if (!stored->ok() || stored->rows.empty()) return Refused(*rows);
    return EventFrom(stored->rows[0]);
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

Status PgLedger::RecordCreate(const Hold& hold, const Event& created, std::string_view intent_key,
                              std::string_view result_json, int64_t now) {
  if (auto ok = ValidateHold(hold); !ok) return ok;
  if (auto ok = ValidateEvent(created); !ok) return ok;
  if (created.hold_id != hold.id || created.status_after != hold.status) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                "a create's event is its hold's, with its status", "hold_id");
  }
  if (!json::ParseStrict(result_json)) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "result is JSON", "result");
  }
  {
    const Call call(busy_);
    if (!call.owner()) return Busy();
    auto rows = Run(Stmt::kRecordCreate, {Text(hold.id),
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
                                          Text(intent_key),
                                          Text(result_json),
                                          Number(now)});
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
  return Ledger::RecordCreate(hold, created, intent_key, result_json, now);
}

Result<StripeIntent> PgLedger::BeginIntent(const StripeIntent& i) {
  if (auto ok = ValidateIntent(i); !ok) return Fail(ok.error());
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows =
      Run(Stmt::kIntentBegin, {Text(i.idempotency_key), Text(i.operation), Text(i.hold_id),
                               Text(i.params_digest), Number(i.created_at), Text(i.request_json)});
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
  if (!json::ParseStrict(result_json)) {
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

Status PgLedger::Ping() {
  const Call call(busy_);
  if (!call.owner()) return Busy();
  auto rows = Run(Stmt::kPing, {});
  if (!rows) return Fail(rows.error());
  if (!rows->ok()) return Refused(*rows);
  return Ok();
}

}  // namespace cc::ledger
