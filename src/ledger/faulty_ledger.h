// FaultyLedger: a Ledger that forwards to another one and can be told to fail.
//
// leveldb's EnvWrapper idea, as store/faulty_store.h: tests wrap a working InMemoryLedger
// and flip SetFailing(true) to simulate PostgreSQL being down; every call then returns
// kUnavailable ("ledger unavailable: injected fault", code "service_unavailable", as
// PgLedger does) without touching the wrapped ledger. Flipping back restores it, with its
// contents intact. The switch and the call counter are atomic, so a test thread may flip
// it while others call; the calls' own thread-safety is the wrapped ledger's.
#pragma once

#include <atomic>
#include <cstdint>

#include "ledger/ledger.h"

namespace cc::ledger {

class FaultyLedger final : public Ledger {
 public:
  // `target` must outlive this object.
  explicit FaultyLedger(Ledger& target) : target_(target) {}

  void SetFailing(bool failing) { failing_.store(failing); }
  [[nodiscard]] bool failing() const { return failing_.load(); }
  // Calls made, failed or not.
  [[nodiscard]] uint64_t calls() const { return calls_.load(); }

  Result<bool> RecordHold(const Hold& hold) override {
    if (Fails()) return Down();
    return target_.RecordHold(hold);
  }
  Result<std::optional<Hold>> FindHold(std::string_view id) override {
    if (Fails()) return Down();
    return target_.FindHold(id);
  }
  Result<Page<Hold>> ListHolds(const HoldFilter& filter) override {
    if (Fails()) return Down();
    return target_.ListHolds(filter);
  }
  Result<bool> SetHoldClaim(std::string_view hold_id, std::string_view claim_json) override {
    if (Fails()) return Down();
    return target_.SetHoldClaim(hold_id, claim_json);
  }
  Result<bool> SetHoldDisclosure(std::string_view hold_id,
                                 std::string_view disclosure_json) override {
    if (Fails()) return Down();
    return target_.SetHoldDisclosure(hold_id, disclosure_json);
  }
  Result<bool> RecordEvidence(const Evidence& evidence, const Event& added) override {
    if (Fails()) return Down();
    return target_.RecordEvidence(evidence, added);
  }
  Result<std::vector<Evidence>> ListEvidence(std::string_view hold_id) override {
    if (Fails()) return Down();
    return target_.ListEvidence(hold_id);
  }
  Result<bool> RecordGuestLink(const GuestLink& link) override {
    if (Fails()) return Down();
    return target_.RecordGuestLink(link);
  }
  Result<std::optional<GuestLink>> FindGuestLink(std::string_view token_sha256) override {
    if (Fails()) return Down();
    return target_.FindGuestLink(token_sha256);
  }
  Result<Event> AppendEvent(const Event& event) override {
    if (Fails()) return Down();
    return target_.AppendEvent(event);
  }
  Result<Page<Event>> ListEvents(std::string_view hold_id, std::string_view starting_after,
                                 int limit) override {
    if (Fails()) return Down();
    return target_.ListEvents(hold_id, starting_after, limit);
  }
  Result<std::vector<Hold>> LeaseDueReleases(int64_t now, int64_t lease_s, int limit) override {
    if (Fails()) return Down();
    return target_.LeaseDueReleases(now, lease_s, limit);
  }
  Result<std::vector<Hold>> LeaseDueAuthorizations(int64_t now, int64_t margin_s, int64_t lease_s,
                                                   int limit) override {
    if (Fails()) return Down();
    return target_.LeaseDueAuthorizations(now, margin_s, lease_s, limit);
  }
  Result<bool> RecordDispute(std::string_view hold_id, const Dispute& dispute) override {
    if (Fails()) return Down();
    return target_.RecordDispute(hold_id, dispute);
  }
  Result<std::vector<Hold>> LeaseDueDisputes(int64_t now, int64_t lease_s, int limit) override {
    if (Fails()) return Down();
    return target_.LeaseDueDisputes(now, lease_s, limit);
  }
  Result<bool> MarkDispute(std::string_view hold_id, std::string_view dispute_id, DisputeMark mark,
                           int64_t at) override {
    if (Fails()) return Down();
    return target_.MarkDispute(hold_id, dispute_id, mark, at);
  }
  Result<std::vector<Hold>> LeaseDueChecks(int64_t now, int64_t interval_s, int limit) override {
    if (Fails()) return Down();
    return target_.LeaseDueChecks(now, interval_s, limit);
  }
  Result<StripeIntent> BeginIntent(const StripeIntent& intent) override {
    if (Fails()) return Down();
    return target_.BeginIntent(intent);
  }
  Result<std::optional<StripeIntent>> FindIntent(std::string_view idempotency_key) override {
    if (Fails()) return Down();
    return target_.FindIntent(idempotency_key);
  }
  Status FinishIntent(std::string_view idempotency_key, IntentState state,
                      std::string_view result_json, std::string_view stripe_request_id,
                      int64_t now) override {
    if (Fails()) return Down();
    return target_.FinishIntent(idempotency_key, state, result_json, stripe_request_id, now);
  }
  Result<std::vector<StripeIntent>> ListPendingIntents(int64_t created_before, int limit) override {
    if (Fails()) return Down();
    return target_.ListPendingIntents(created_before, limit);
  }
  Result<std::vector<StripeIntent>> PendingIntentsOf(std::string_view hold_id) override {
    if (Fails()) return Down();
    return target_.PendingIntentsOf(hold_id);
  }
  Result<bool> RecordWebhookEvent(std::string_view event_id, int64_t received_at) override {
    if (Fails()) return Down();
    return target_.RecordWebhookEvent(event_id, received_at);
  }
  Result<std::string> JobState(std::string_view name) override {
    if (Fails()) return Down();
    return target_.JobState(name);
  }
  Status SetJobState(std::string_view name, std::string_view value, int64_t now) override {
    if (Fails()) return Down();
    return target_.SetJobState(name, value, now);
  }
  Status Ping() override {
    if (Fails()) return Down();
    return target_.Ping();
  }
  Status SetNotificationClients(std::span<const std::string> clients) override {
    if (Fails()) return Down();
    return target_.SetNotificationClients(clients);
  }
  Result<std::vector<Notification>> LeaseDueNotifications(int64_t now, int64_t lease_s,
                                                          int limit) override {
    if (Fails()) return Down();
    return target_.LeaseDueNotifications(now, lease_s, limit);
  }
  Result<bool> RecordNotificationAttempt(const NotificationAttempt& attempt) override {
    if (Fails()) return Down();
    return target_.RecordNotificationAttempt(attempt);
  }
  Result<Page<Notification>> ListFailedNotifications(std::string_view client,
                                                     std::string_view starting_after,
                                                     int limit) override {
    if (Fails()) return Down();
    return target_.ListFailedNotifications(client, starting_after, limit);
  }

 private:
  bool Fails() {
    calls_.fetch_add(1);
    return failing_.load();
  }
  static tl::unexpected<Error> Down() {
    return Fail(ErrorKind::kUnavailable, "service_unavailable",
                "ledger unavailable: injected fault");
  }

  Ledger& target_;
  std::atomic<bool> failing_{false};
  std::atomic<uint64_t> calls_{0};
};

}  // namespace cc::ledger
