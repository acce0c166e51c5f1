// PgLedger: the Ledger on PostgreSQL, over one PgConnection (libpq, asynchronous).
//
// The SQL of every table lives in pg_ledger.cpp, one statement per operation, prepared
// once per connection right after it opens (a schema that is missing or behind ⇒
// kInternal "ledger schema missing or behind: run chittycharge-migrate"). Parameters are
// always bound, never spliced into SQL. The database must have been migrated
// (chittycharge-migrate); the role needs the grants of ledger_grant_service_role().
//
// Connection: opened by the first call, not the constructor. When it is lost (server
// stopped, network, no answer within statement_timeout_ms) the call answers kUnavailable
// and the ledger waits a backoff (min_backoff_ms, doubling up to max_backoff_ms) during
// which every call answers kUnavailable at once without touching the network; the first
// call after it reconnects. A write whose connection was lost mid-call may or may not
// have committed: callers retry with the same ids (every write is idempotent on its id).
// libpq and SQLSTATE codes stop here: unique violations become the port's values
// (false / the stored row / kConflict), connection errors kUnavailable, anything else
// kInternal (code "ledger_error", the server's message).
//
// Thread-safety: one call at a time. A PgLedger is not shared between threads, nor
// between fibers that may park mid-call; a second call while one is in flight is a bug
// and answers kInternal at once. Use one PgLedger per concurrent caller.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "ledger/ledger.h"
#include "ledger/pg_connection.h"
#include "ledger/socket_waiter.h"

namespace cc::ledger {

namespace pg {
enum class Stmt;  // the prepared statements (pg_ledger.cpp)
}

struct PgLedgerOptions {
  std::string conninfo = "postgresql:///chittycharge";  // DATABASE_URL
  int connect_timeout_ms = 5000;
  int statement_timeout_ms = 5000;
  int min_backoff_ms = 100;
  int max_backoff_ms = 5000;
  // false: every statement but BeginIntent commits without waiting for its WAL flush
  // (synchronous_commit = off for the session). A crash of PostgreSQL may then lose the
  // last fraction of a second of records made after a Stripe POST — never an intent, so
  // the reconciler rebuilds them from Stripe — and a commit costs no disk wait.
  bool durable_records = true;
};

class PgLedger final : public Ledger {
 public:
  // `waiter` must outlive this object.
  PgLedger(PgLedgerOptions options, SocketWaiter& waiter)
      : options_(std::move(options)), waiter_(waiter) {}

  Result<bool> RecordHold(const Hold& hold) override;
  Result<std::optional<Hold>> FindHold(std::string_view id) override;
  Result<Page<Hold>> ListHolds(const HoldFilter& filter) override;
  Result<std::vector<Hold>> LeaseDueReleases(int64_t now, int64_t lease_s, int limit) override;
  Result<std::vector<Hold>> LeaseDueAuthorizations(int64_t now, int64_t margin_s, int64_t lease_s,
                                                   int limit) override;
  Result<std::vector<Hold>> LeaseDueChecks(int64_t now, int64_t interval_s, int limit) override;
  Result<bool> SetHoldClaim(std::string_view hold_id, std::string_view claim_json) override;
  Result<bool> SetHoldDisclosure(std::string_view hold_id,
                                 std::string_view disclosure_json) override;
  Result<bool> RecordEvidence(const Evidence& evidence, const Event& added) override;
  Result<std::vector<Evidence>> ListEvidence(std::string_view hold_id) override;
  Result<bool> RecordGuestLink(const GuestLink& link) override;
  Result<std::optional<GuestLink>> FindGuestLink(std::string_view token_sha256) override;
  Result<bool> RecordDispute(std::string_view hold_id, const Dispute& dispute) override;
  Result<std::vector<Hold>> LeaseDueDisputes(int64_t now, int64_t lease_s, int limit) override;
  Result<bool> MarkDispute(std::string_view hold_id, std::string_view dispute_id, DisputeMark mark,
                           int64_t at) override;
  Result<Event> AppendEvent(const Event& event) override;
  Result<Page<Event>> ListEvents(std::string_view hold_id, std::string_view starting_after,
                                 int limit) override;
  Result<StripeIntent> BeginIntent(const StripeIntent& intent) override;
  Result<std::optional<StripeIntent>> FindIntent(std::string_view idempotency_key) override;
  Status FinishIntent(std::string_view idempotency_key, IntentState state,
                      std::string_view result_json, std::string_view stripe_request_id,
                      int64_t now) override;
  Result<std::vector<StripeIntent>> ListPendingIntents(int64_t created_before, int limit) override;
  Result<std::vector<StripeIntent>> PendingIntentsOf(std::string_view hold_id) override;
  Status RecordCreate(const Hold& hold, const Event& created, std::string_view intent_key,
                      std::string_view result_json, int64_t now) override;
  Result<bool> RecordWebhookEvent(std::string_view event_id, int64_t received_at) override;
  Result<std::string> JobState(std::string_view name) override;
  Status SetJobState(std::string_view name, std::string_view value, int64_t now) override;
  Status Ping() override;
  Status SetNotificationClients(std::span<const std::string> clients) override;
  Result<std::vector<Notification>> LeaseDueNotifications(int64_t now, int64_t lease_s,
                                                          int limit) override;
  Result<bool> RecordNotificationAttempt(const NotificationAttempt& attempt) override;
  Result<Page<Notification>> ListFailedNotifications(std::string_view client,
                                                     std::string_view starting_after,
                                                     int limit) override;
  std::vector<Result<StripeIntent>> BeginIntents(
      std::span<const StripeIntent* const> intents) override;
  std::vector<Status> RecordCreates(std::span<const CreateRecord> records) override;

  // True while a connection is open and not known broken (for /health and tests).
  [[nodiscard]] bool connected() const { return conn_ != nullptr && !conn_->broken(); }
  // Items a batch statement settled (the rest went one by one), for tests and the bench.
  [[nodiscard]] size_t batch_settled() const { return batch_settled_; }

 private:
  class Call;

  // The open connection, opening it (and preparing every statement) when due.
  Result<PgConnection*> Connection();
  // Runs a prepared statement; connection errors become kUnavailable (and start the
  // backoff), refused statements come back in PgRows for the caller to map.
  Result<PgRows> Run(pg::Stmt stmt, const std::vector<PgValue>& params);
  void StartBackoff(const std::string& why);
  // RecordCreate and BeginIntent after their validation (a batch's leftovers are valid).
  Status RecordValidCreate(const CreateRecord& record);
  Result<StripeIntent> BeginValidIntent(const StripeIntent& intent);

  PgLedgerOptions options_;
  SocketWaiter& waiter_;
  std::unique_ptr<PgConnection> conn_;
  std::chrono::steady_clock::time_point retry_at_{};
  int backoff_ms_ = 0;
  std::string last_error_;
  std::atomic<bool> busy_{false};
  size_t batch_settled_ = 0;
  // A batch statement refused for another reason than an integrity error (a bug).
  void WarnRefusedBatch(const char* statement, const PgRows& rows) const;
};

}  // namespace cc::ledger
