// InMemoryLedger: a real, working Ledger kept in maps, for unit tests of the domains.
//
// It behaves like PgLedger in everything a caller can observe (the shared behaviour tests
// in tests/unit/ledger/ledger_behaviour.h run against both): the same validation, the
// same answers to repeats, the same list order and cursors. It never fails otherwise;
// wrap it in a FaultyLedger to simulate an outage. Nothing survives the object.
// Thread-safe (one mutex), so one instance can stand for the shared database behind
// several threads or processes' worth of callers in a test.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ledger/ledger.h"

namespace cc::ledger {

class InMemoryLedger final : public Ledger {
 public:
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
  Result<bool> RecordWebhookEvent(std::string_view event_id, int64_t received_at) override;
  Result<std::string> JobState(std::string_view name) override;
  Status SetJobState(std::string_view name, std::string_view value, int64_t now) override;
  Status Ping() override { return Ok(); }
  Status SetNotificationClients(std::span<const std::string> clients) override;
  Result<std::vector<Notification>> LeaseDueNotifications(int64_t now, int64_t lease_s,
                                                          int limit) override;
  Result<bool> RecordNotificationAttempt(const NotificationAttempt& attempt) override;
  Result<Page<Notification>> ListFailedNotifications(std::string_view client,
                                                     std::string_view starting_after,
                                                     int limit) override;

 private:
  // The hold's id for a hold id, chitty_id or chain PaymentIntent id; "" if none.
  // Caller holds mu_.
  [[nodiscard]] std::string ResolveHold(std::string_view id) const;
  // AppendEvent's work. Caller holds mu_.
  Result<Event> AppendLocked(const Event& event);

  std::mutex mu_;
  std::map<std::string, Hold, std::less<>> holds_;
  std::map<std::string, std::string, std::less<>> aliases_;        // pi_… / chitty_id → hold id
  std::map<std::string, std::vector<Event>, std::less<>> events_;  // by hold id, seq order
  std::map<std::string, std::string, std::less<>> event_holds_;    // event id → hold id
  std::map<std::string, StripeIntent, std::less<>> intents_;
  std::map<std::string, int64_t, std::less<>> webhook_events_;
  std::map<std::string, int64_t, std::less<>> leases_;   // hold id → leased until
  std::map<std::string, int64_t, std::less<>> checked_;  // hold id → compared with Stripe at
  std::map<std::string, std::string, std::less<>> job_state_;
  std::set<std::string, std::less<>> notification_clients_;
  std::map<std::string, Notification, std::less<>> notifications_;  // by id, with its event
  std::vector<Evidence> evidence_;                                  // in the order recorded
  std::map<std::string, GuestLink, std::less<>> guest_links_;       // by token_sha256
};

}  // namespace cc::ledger
