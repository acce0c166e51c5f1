#include "ledger/serial_ledger.h"

#include "runtime/fibers.h"

namespace cc::ledger {

bool SerialLedger::Lock() {
  if (!locked_) {
    locked_ = true;
    return true;
  }
  fibers::Fiber* self = fibers::Scheduler::Current();
  if (self == nullptr) return false;
  Waiter waiter{self, false};
  waiters_.push_back(&waiter);
  while (!waiter.granted) fibers::Scheduler::Park();  // a wake is only a hint
  return true;                                        // handed over: locked_ stayed true
}

void SerialLedger::Unlock() {
  if (waiters_.empty()) {
    locked_ = false;
    return;
  }
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->granted = true;
  fibers::Scheduler::Wake(next->fiber);
}

template <typename Call>
auto SerialLedger::Serially(Call call) -> decltype(call()) {
  if (!Lock()) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "ledger busy: called outside a fiber while a fiber's call is in flight");
  }
  class Unlocker {
   public:
    explicit Unlocker(SerialLedger& ledger) : ledger_(ledger) {}
    Unlocker(const Unlocker&) = delete;
    Unlocker& operator=(const Unlocker&) = delete;
    Unlocker(Unlocker&&) = delete;
    Unlocker& operator=(Unlocker&&) = delete;
    ~Unlocker() { ledger_.Unlock(); }

   private:
    SerialLedger& ledger_;
  };
  const Unlocker unlock(*this);
  return call();
}

Result<bool> SerialLedger::RecordHold(const Hold& hold) {
  return Serially([&] { return target_.RecordHold(hold); });
}
Result<std::optional<Hold>> SerialLedger::FindHold(std::string_view id) {
  return Serially([&] { return target_.FindHold(id); });
}
Result<Page<Hold>> SerialLedger::ListHolds(const HoldFilter& filter) {
  return Serially([&] { return target_.ListHolds(filter); });
}
Result<Event> SerialLedger::AppendEvent(const Event& event) {
  return Serially([&] { return target_.AppendEvent(event); });
}
Result<Page<Event>> SerialLedger::ListEvents(std::string_view hold_id,
                                             std::string_view starting_after, int limit) {
  return Serially([&] { return target_.ListEvents(hold_id, starting_after, limit); });
}
Result<StripeIntent> SerialLedger::BeginIntent(const StripeIntent& intent) {
  return Serially([&] { return target_.BeginIntent(intent); });
}
Result<std::optional<StripeIntent>> SerialLedger::FindIntent(std::string_view idempotency_key) {
  return Serially([&] { return target_.FindIntent(idempotency_key); });
}
Status SerialLedger::FinishIntent(std::string_view idempotency_key, IntentState state,
                                  std::string_view result_json, std::string_view stripe_request_id,
                                  int64_t now) {
  return Serially([&] {
    return target_.FinishIntent(idempotency_key, state, result_json, stripe_request_id, now);
  });
}
Result<std::vector<StripeIntent>> SerialLedger::ListPendingIntents(int64_t created_before,
                                                                   int limit) {
  return Serially([&] { return target_.ListPendingIntents(created_before, limit); });
}
Result<bool> SerialLedger::RecordWebhookEvent(std::string_view event_id, int64_t received_at) {
  return Serially([&] { return target_.RecordWebhookEvent(event_id, received_at); });
}
Status SerialLedger::Ping() {
  return Serially([&] { return target_.Ping(); });
}

}  // namespace cc::ledger
