#include "ledger/serial_ledger.h"

#include "core/metrics.h"
#include "runtime/fibers.h"

namespace cc::ledger {

Ledger* SerialLedger::Lock() {
  if (!free_.empty() && waiters_.empty()) {
    Ledger* target = free_.back();
    free_.pop_back();
    return target;
  }
  fibers::Fiber* self = fibers::Scheduler::Current();
  if (self == nullptr) return nullptr;
  Waiter waiter{self, nullptr};
  waiters_.push_back(&waiter);
  while (waiter.granted == nullptr) fibers::Scheduler::Park();  // a wake is only a hint
  return waiter.granted;
}

void SerialLedger::Unlock(Ledger* target) {
  if (waiters_.empty()) {
    free_.push_back(target);
    return;
  }
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->granted = target;
  fibers::Scheduler::Wake(next->fiber);
}

template <typename Answer>
Answer SerialLedger::Timed(std::chrono::steady_clock::time_point start, Answer answer) {
  if (metrics_ == nullptr) return answer;
  // A 4xx kind is an answer (a conflict, a refused value), not a failing database.
  const bool ok = answer.has_value() || HttpStatus(answer.error().kind) < 500;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  metrics_->DependencyCall(metrics::Dependency::kPostgresql, took.count(), ok);
  return answer;
}

template <typename Call>
auto SerialLedger::Serially(Call call) -> decltype(call(std::declval<Ledger&>())) {
  const auto start = std::chrono::steady_clock::now();
  Ledger* target = Lock();
  if (target == nullptr) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "ledger busy: called outside a fiber while a fiber's call is in flight");
  }
  class Unlocker {
   public:
    Unlocker(SerialLedger& ledger, Ledger* target) : ledger_(ledger), target_(target) {}
    Unlocker(const Unlocker&) = delete;
    Unlocker& operator=(const Unlocker&) = delete;
    Unlocker(Unlocker&&) = delete;
    Unlocker& operator=(Unlocker&&) = delete;
    ~Unlocker() { ledger_.Unlock(target_); }

   private:
    SerialLedger& ledger_;
    Ledger* target_;
  };
  const Unlocker unlock(*this, target);
  return Timed(start, call(*target));
}

template <typename In, typename Out, typename Run>
Out SerialLedger::Batched(BatchQueue<In, Out>& queue, const In& in, Run run) {
  const auto start = std::chrono::steady_clock::now();
  Queued<In, Out> self{&in, fibers::Scheduler::Current(), false, std::nullopt};
  queue.calls.push_back(&self);
  if (queue.has_leader) {
    while (!self.out && !self.leads) fibers::Scheduler::Park();  // a wake is only a hint
    if (self.out) return Timed(start, std::move(*self.out));
  }
  // Leading: no earlier call is queued (a leader takes the queue from its front).
  queue.has_leader = true;
  Ledger* target = Lock();  // on a fiber: parks until a target is free, never nullptr
  std::vector<Queued<In, Out>*> batch;
  std::vector<const In*> ins;
  while (!queue.calls.empty() && batch.size() < kMaxBatch) {
    batch.push_back(queue.calls.front());
    ins.push_back(queue.calls.front()->in);
    queue.calls.pop_front();
  }
  queue.has_leader = !queue.calls.empty();
  if (queue.has_leader) {  // the next batch's leader waits for a target meanwhile
    queue.calls.front()->leads = true;
    fibers::Scheduler::Wake(queue.calls.front()->fiber);
  }
  ++batches_;
  batched_calls_ += batch.size();
  auto outs = run(*target, ins);
  Unlock(target);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->out = i < outs.size() ? std::move(outs[i])
                                    : Out(Fail(ErrorKind::kInternal, "internal_error",
                                               "a batch answered fewer calls than it had"));
    if (batch[i] != &self) fibers::Scheduler::Wake(batch[i]->fiber);
  }
  return Timed(start, std::move(*self.out));
}

Result<bool> SerialLedger::RecordHold(const Hold& hold) {
  return Serially([&](Ledger& l) { return l.RecordHold(hold); });
}
Result<std::optional<Hold>> SerialLedger::FindHold(std::string_view id) {
  return Serially([&](Ledger& l) { return l.FindHold(id); });
}
Result<Page<Hold>> SerialLedger::ListHolds(const HoldFilter& filter) {
  return Serially([&](Ledger& l) { return l.ListHolds(filter); });
}
Result<std::vector<Hold>> SerialLedger::LeaseDueReleases(int64_t now, int64_t lease_s, int limit) {
  return Serially([&](Ledger& l) { return l.LeaseDueReleases(now, lease_s, limit); });
}
Result<std::vector<Hold>> SerialLedger::LeaseDueAuthorizations(int64_t now, int64_t margin_s,
                                                               int64_t lease_s, int limit) {
  return Serially(
      [&](Ledger& l) { return l.LeaseDueAuthorizations(now, margin_s, lease_s, limit); });
}
Result<bool> SerialLedger::RecordGuestLink(const GuestLink& link) {
  return Serially([&](Ledger& l) { return l.RecordGuestLink(link); });
}

Result<std::optional<GuestLink>> SerialLedger::FindGuestLink(std::string_view token_sha256) {
  return Serially([&](Ledger& l) { return l.FindGuestLink(token_sha256); });
}

Result<bool> SerialLedger::RecordDispute(std::string_view hold_id, const Dispute& dispute) {
  return Serially([&](Ledger& l) { return l.RecordDispute(hold_id, dispute); });
}
Result<std::vector<Hold>> SerialLedger::LeaseDueDisputes(int64_t now, int64_t lease_s, int limit) {
  return Serially([&](Ledger& l) { return l.LeaseDueDisputes(now, lease_s, limit); });
}
Result<bool> SerialLedger::MarkDispute(std::string_view hold_id, std::string_view dispute_id,
                                       DisputeMark mark, int64_t at) {
  return Serially([&](Ledger& l) { return l.MarkDispute(hold_id, dispute_id, mark, at); });
}
Result<std::vector<Hold>> SerialLedger::LeaseDueChecks(int64_t now, int64_t interval_s, int limit) {
  return Serially([&](Ledger& l) { return l.LeaseDueChecks(now, interval_s, limit); });
}
Result<bool> SerialLedger::SetHoldClaim(std::string_view hold_id, std::string_view claim_json) {
  return Serially([&](Ledger& l) { return l.SetHoldClaim(hold_id, claim_json); });
}

Result<bool> SerialLedger::SetHoldDisclosure(std::string_view hold_id,
                                             std::string_view disclosure_json) {
  return Serially([&](Ledger& l) { return l.SetHoldDisclosure(hold_id, disclosure_json); });
}

Result<bool> SerialLedger::RecordEvidence(const Evidence& evidence, const Event& added) {
  return Serially([&](Ledger& l) { return l.RecordEvidence(evidence, added); });
}

Result<std::vector<Evidence>> SerialLedger::ListEvidence(std::string_view hold_id) {
  return Serially([&](Ledger& l) { return l.ListEvidence(hold_id); });
}
Status SerialLedger::RecordCreate(const Hold& hold, const Event& created,
                                  std::string_view intent_key, std::string_view result_json,
                                  int64_t now) {
  if (fibers::Scheduler::Current() == nullptr) {
    return Serially(
        [&](Ledger& l) { return l.RecordCreate(hold, created, intent_key, result_json, now); });
  }
  const CreateRecord record{&hold, &created, intent_key, result_json, now};
  return Batched(creates_, record, [](Ledger& l, const std::vector<const CreateRecord*>& each) {
    std::vector<CreateRecord> records;
    records.reserve(each.size());
    for (const CreateRecord* r : each) records.push_back(*r);
    return l.RecordCreates(records);
  });
}

Result<Event> SerialLedger::AppendEvent(const Event& event) {
  return Serially([&](Ledger& l) { return l.AppendEvent(event); });
}
Result<Page<Event>> SerialLedger::ListEvents(std::string_view hold_id,
                                             std::string_view starting_after, int limit) {
  return Serially([&](Ledger& l) { return l.ListEvents(hold_id, starting_after, limit); });
}
Result<StripeIntent> SerialLedger::BeginIntent(const StripeIntent& intent) {
  if (fibers::Scheduler::Current() == nullptr) {
    return Serially([&](Ledger& l) { return l.BeginIntent(intent); });
  }
  return Batched(intents_, intent, [](Ledger& l, const std::vector<const StripeIntent*>& each) {
    return l.BeginIntents(each);
  });
}

Result<std::optional<StripeIntent>> SerialLedger::FindIntent(std::string_view idempotency_key) {
  return Serially([&](Ledger& l) { return l.FindIntent(idempotency_key); });
}
Status SerialLedger::FinishIntent(std::string_view idempotency_key, IntentState state,
                                  std::string_view result_json, std::string_view stripe_request_id,
                                  int64_t now) {
  return Serially([&](Ledger& l) {
    return l.FinishIntent(idempotency_key, state, result_json, stripe_request_id, now);
  });
}
Result<std::vector<StripeIntent>> SerialLedger::ListPendingIntents(int64_t created_before,
                                                                   int limit) {
  return Serially([&](Ledger& l) { return l.ListPendingIntents(created_before, limit); });
}
Result<std::vector<StripeIntent>> SerialLedger::PendingIntentsOf(std::string_view hold_id) {
  return Serially([&](Ledger& l) { return l.PendingIntentsOf(hold_id); });
}
Result<bool> SerialLedger::RecordWebhookEvent(std::string_view event_id, int64_t received_at) {
  return Serially([&](Ledger& l) { return l.RecordWebhookEvent(event_id, received_at); });
}
Result<std::string> SerialLedger::JobState(std::string_view name) {
  return Serially([&](Ledger& l) { return l.JobState(name); });
}
Status SerialLedger::SetJobState(std::string_view name, std::string_view value, int64_t now) {
  return Serially([&](Ledger& l) { return l.SetJobState(name, value, now); });
}
Status SerialLedger::Ping() {
  return Serially([&](Ledger& l) { return l.Ping(); });
}
Status SerialLedger::SetNotificationClients(std::span<const std::string> clients) {
  return Serially([&](Ledger& l) { return l.SetNotificationClients(clients); });
}
Result<std::vector<Notification>> SerialLedger::LeaseDueNotifications(int64_t now, int64_t lease_s,
                                                                      int limit) {
  return Serially([&](Ledger& l) { return l.LeaseDueNotifications(now, lease_s, limit); });
}
Result<bool> SerialLedger::RecordNotificationAttempt(const NotificationAttempt& attempt) {
  return Serially([&](Ledger& l) { return l.RecordNotificationAttempt(attempt); });
}
Result<Page<Notification>> SerialLedger::ListFailedNotifications(std::string_view client,
                                                                 std::string_view starting_after,
                                                                 int limit) {
  return Serially(
      [&](Ledger& l) { return l.ListFailedNotifications(client, starting_after, limit); });
}

}  // namespace cc::ledger
