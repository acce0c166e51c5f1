// SerialLedger: the Ledgers (connections) of one event loop shared by its fibers, one call
// at a time on each.
//
// PgLedger serves one call at a time and refuses a second one as a bug, but a call parks
// its fiber while PostgreSQL answers (EventLoopSocketWaiter), so another fiber of the same
// loop may call meanwhile. SerialLedger forwards every call to the ledger it wraps under
// a fiber-aware lock: a caller that finds it taken queues and parks (fibers::Scheduler::
// Park, never blocking the OS thread), and the lock is handed to the waiters in arrival
// order (FIFO, no barging), so no caller waits behind later ones. A call's wait is bounded
// by the wrapped ledger's own timeouts times the callers ahead of it; a PgLedger whose
// database is down answers at once during its backoff, so a queue drains quickly.
//
// With several targets (a small pool of connections per loop) up to that many calls run
// at once, each on a target of its own; a caller waits only when all are taken.
//
// Group commit for the create path: BeginIntent and RecordCreate calls made on fibers
// queue per kind; the first of a queue waits for a target, then takes every call queued
// by then (up to kMaxBatch) and makes them as one BeginIntents / RecordCreates call (one
// statement, one commit on PgLedger), while the next arrival leads the next batch. An
// idle loop thus answers a lone call at once, and a busy one shares each commit among
// the creates that arrived while the previous ones ran. Answers are the single calls'.
// Outside a fiber a call runs at once when the lock is free; if a (parked) fiber holds
// it, the call cannot wait without blocking that fiber's thread and answers kInternal
// ("ledger busy") — callers outside fibers use a ledger of their own.
// With a Metrics, every call's time as its caller saw it (the wait for a connection or a
// batch included) goes to the pool's dependency histogram as "postgresql"; a failure is an
// error of the database (unreachable, timed out, refused), not an answer such as "not found".
// Thread-safety: none; one per event loop, used from that loop's thread only. Answers are
// the wrapped ledger's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "ledger/ledger.h"

namespace cc::fibers {
struct Fiber;
}
namespace cc::metrics {
class Metrics;
}

namespace cc::ledger {

class SerialLedger final : public Ledger {
 public:
  // The targets must outlive this object; at least one.
  explicit SerialLedger(Ledger& target) : SerialLedger(std::vector<Ledger*>{&target}) {}
  explicit SerialLedger(std::vector<Ledger*> targets, metrics::Metrics* metrics = nullptr)
      : targets_(std::move(targets)),
        free_(targets_.rbegin(), targets_.rend()),
        metrics_(metrics) {}

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
  // (BeginIntents / RecordCreates: the defaults, each item through the calls above.)

  static constexpr size_t kMaxBatch = 64;

  // Callers parked waiting for the lock (tests, diagnostics).
  [[nodiscard]] size_t waiting() const { return waiters_.size(); }
  // Batches made (BeginIntents / RecordCreates calls on a target) and the calls in them.
  [[nodiscard]] size_t batches() const { return batches_; }
  [[nodiscard]] size_t batched_calls() const { return batched_calls_; }

 private:
  // A parked caller, on its own fiber's stack.
  struct Waiter {
    fibers::Fiber* fiber = nullptr;
    Ledger* granted = nullptr;
  };

  // Takes a free target, parking behind earlier callers; nullptr: none free and not on a
  // fiber.
  Ledger* Lock();
  // Hands the target to the first waiter, or frees it.
  void Unlock(Ledger* target);
  template <typename Call>
  auto Serially(Call call) -> decltype(call(std::declval<Ledger&>()));
  // Records a call's time and outcome in metrics_, if any.
  template <typename Answer>
  Answer Timed(std::chrono::steady_clock::time_point start, Answer answer);

  // A call waiting in a batch queue, on its caller's stack.
  template <typename In, typename Out>
  struct Queued {
    const In* in = nullptr;
    fibers::Fiber* fiber = nullptr;
    bool leads = false;  // handed the lead of the next batch
    std::optional<Out> out;
  };
  template <typename In, typename Out>
  struct BatchQueue {
    std::deque<Queued<In, Out>*> calls;
    bool has_leader = false;  // a queued call is waiting for a target to lead a batch
  };
  // Queues `in`, waits for its answer or leads a batch made by `run(target, ins)`.
  template <typename In, typename Out, typename Run>
  Out Batched(BatchQueue<In, Out>& queue, const In& in, Run run);

  std::vector<Ledger*> targets_;
  std::vector<Ledger*> free_;
  std::deque<Waiter*> waiters_;
  metrics::Metrics* metrics_;
  BatchQueue<StripeIntent, Result<StripeIntent>> intents_;
  BatchQueue<CreateRecord, Status> creates_;
  size_t batches_ = 0;
  size_t batched_calls_ = 0;
};

}  // namespace cc::ledger
