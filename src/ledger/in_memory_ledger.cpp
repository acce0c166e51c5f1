#include "ledger/in_memory_ledger.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "core/json.h"

namespace cc::ledger {
namespace {

tl::unexpected<Error> Conflict(std::string code, std::string message) {
  return Fail(ErrorKind::kConflict, std::move(code), std::move(message));
}

tl::unexpected<Error> UnknownCursor() {
  return Fail(ErrorKind::kInvalidArgument, "invalid_request",
              "starting_after names no item of this list", "starting_after");
}

bool Matches(const Hold& h, const HoldFilter& f) {
  if (h.client != f.client) return false;
  if (!f.property_id.empty() && h.property_id != f.property_id) return false;
  if (!f.tenant_id.empty() && h.tenant_id != f.tenant_id) return false;
  if (!f.status.empty() && h.status != f.status) return false;
  if (f.expiring_before &&
      (h.status != "requires_capture" || !h.expires_at || *h.expires_at >= *f.expiring_before)) {
    return false;
  }
  if (f.created_after && h.created_at <= *f.created_after) return false;
  if (f.created_before && h.created_at >= *f.created_before) return false;
  return true;
}

// Newest first: (created_at, id) descending.
bool NewerFirst(const Hold* a, const Hold* b) {
  return std::tie(a->created_at, a->id) > std::tie(b->created_at, b->id);
}

}  // namespace

std::string InMemoryLedger::ResolveHold(std::string_view id) const {
  if (holds_.find(id) != holds_.end()) return std::string(id);
  const auto alias = aliases_.find(id);
  return alias == aliases_.end() ? std::string() : alias->second;
}

Result<bool> InMemoryLedger::RecordHold(const Hold& hold) {
  if (auto ok = ValidateHold(hold); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  if (holds_.find(hold.id) != holds_.end()) return false;
  if (!ResolveHold(hold.chitty_id).empty()) {
    return Conflict("ledger_conflict", "this chitty_id belongs to another hold");
  }
  for (const std::string& pi : hold.payment_intents) {
    if (!ResolveHold(pi).empty()) {
      return Conflict("ledger_conflict", "a PaymentIntent of the chain belongs to another hold");
    }
  }
  Hold& stored = holds_.emplace(hold.id, hold).first->second;
  stored.lease_until.reset();
  stored.claim_json.clear();
  stored.reauthorization_json.clear();
  stored.disclosure_json.clear();
  stored.dispute.reset();
  aliases_.emplace(hold.chitty_id, hold.id);
  for (const std::string& pi : hold.payment_intents) aliases_.emplace(pi, hold.id);
  return true;
}

Result<std::optional<Hold>> InMemoryLedger::FindHold(std::string_view id) {
  std::lock_guard lock(mu_);
  const std::string hold_id = ResolveHold(id);
  if (hold_id.empty()) return std::optional<Hold>();
  Hold hold = holds_.find(hold_id)->second;
  const auto lease = leases_.find(hold_id);
  hold.lease_until = lease == leases_.end() ? std::nullopt : std::optional<int64_t>(lease->second);
  return std::optional<Hold>(std::move(hold));
}

Result<Page<Hold>> InMemoryLedger::ListHolds(const HoldFilter& filter) {
  if (auto ok = ValidateHoldFilter(filter); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const Hold* cursor = nullptr;
  if (!filter.starting_after.empty()) {
    const auto found = holds_.find(filter.starting_after);
    if (found == holds_.end() || found->second.client != filter.client) return UnknownCursor();
    cursor = &found->second;
  }
  std::vector<const Hold*> matching;
  for (const auto& [id, hold] : holds_) {
    if (!Matches(hold, filter)) continue;
    if (cursor != nullptr && !NewerFirst(cursor, &hold)) continue;
    matching.push_back(&hold);
  }
  std::sort(matching.begin(), matching.end(), NewerFirst);
  Page<Hold> page;
  page.has_more = matching.size() > static_cast<size_t>(filter.limit);
  matching.resize(std::min(matching.size(), static_cast<size_t>(filter.limit)));
  for (const Hold* h : matching) page.data.push_back(*h);
  return page;
}

Result<bool> InMemoryLedger::SetHoldClaim(std::string_view hold_id, std::string_view claim_json) {
  if (auto ok = ValidateClaim(claim_json); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const auto hold = holds_.find(hold_id);
  if (hold == holds_.end()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  if (!hold->second.claim_json.empty()) return false;
  hold->second.claim_json = std::string(claim_json);
  return true;
}

Result<bool> InMemoryLedger::SetHoldDisclosure(std::string_view hold_id,
                                               std::string_view disclosure_json) {
  if (auto ok = ValidateDisclosure(disclosure_json); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const auto hold = holds_.find(hold_id);
  if (hold == holds_.end()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  if (!hold->second.disclosure_json.empty()) return false;
  hold->second.disclosure_json = std::string(disclosure_json);
  return true;
}

Result<bool> InMemoryLedger::RecordEvidence(const Evidence& evidence, const Event& added) {
  if (auto ok = ValidateEvidence(evidence, added); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  if (std::any_of(evidence_.begin(), evidence_.end(),
                  [&](const Evidence& e) { return e.id == evidence.id; })) {
    return false;
  }
  if (!holds_.contains(evidence.hold_id)) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + evidence.hold_id);
  }
  auto appended = AppendLocked(added);
  if (!appended) return Fail(appended.error());
  evidence_.push_back(evidence);
  return true;
}

Result<std::vector<Evidence>> InMemoryLedger::ListEvidence(std::string_view hold_id) {
  std::lock_guard lock(mu_);
  std::vector<Evidence> out;
  for (const auto& e : evidence_) {
    if (e.hold_id == hold_id) out.push_back(e);
  }
  return out;
}

Result<bool> InMemoryLedger::RecordGuestLink(const GuestLink& link) {
  if (auto ok = ValidateGuestLink(link); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  if (guest_links_.contains(link.token_sha256)) return false;
  if (!holds_.contains(link.hold_id)) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + link.hold_id);
  }
  guest_links_.emplace(link.token_sha256, link);
  return true;
}

Result<std::optional<GuestLink>> InMemoryLedger::FindGuestLink(std::string_view token_sha256) {
  std::lock_guard lock(mu_);
  const auto found = guest_links_.find(token_sha256);
  if (found == guest_links_.end()) return std::optional<GuestLink>();
  return std::optional<GuestLink>(found->second);
}

Result<bool> InMemoryLedger::RecordDispute(std::string_view hold_id, const Dispute& dispute) {
  if (auto ok = ValidateDispute(dispute); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const auto hold = holds_.find(hold_id);
  if (hold == holds_.end()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  std::optional<Dispute>& stored = hold->second.dispute;
  Dispute next = dispute;
  next.staged_at.reset();
  next.submitted_at.reset();
  next.lease_until.reset();
  if (stored && stored->id == dispute.id) {
    next.staged_at = stored->staged_at;
    next.submitted_at = stored->submitted_at;
    next.lease_until = stored->lease_until;
  }
  if (stored == next) return false;
  stored = next;
  return true;
}

Result<std::vector<Hold>> InMemoryLedger::LeaseDueDisputes(int64_t now, int64_t lease_s,
                                                           int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  std::vector<Hold*> due;
  for (auto& [id, hold] : holds_) {
    const auto& d = hold.dispute;
    if (!d || d->staged_at || (d->lease_until && *d->lease_until > now)) continue;
    if (d->status != "needs_response" && d->status != "warning_needs_response") continue;
    due.push_back(&hold);
  }
  const auto key = [](const Hold* h) {
    const auto& due_by = h->dispute->evidence_due_by;
    return std::make_tuple(!due_by.has_value(), due_by.value_or(0), std::cref(h->id));
  };
  std::sort(due.begin(), due.end(), [&](const Hold* a, const Hold* b) { return key(a) < key(b); });
  due.resize(std::min(due.size(), static_cast<size_t>(limit)));
  std::vector<Hold> leased;
  for (Hold* hold : due) {
    hold->dispute->lease_until = now + lease_s;
    leased.push_back(*hold);
  }
  return leased;
}

Result<bool> InMemoryLedger::MarkDispute(std::string_view hold_id, std::string_view dispute_id,
                                         DisputeMark mark, int64_t at) {
  std::lock_guard lock(mu_);
  const auto hold = holds_.find(hold_id);
  if (hold == holds_.end()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + std::string(hold_id));
  }
  auto& d = hold->second.dispute;
  if (!d || d->id != dispute_id) return false;
  switch (mark) {
    case DisputeMark::kStaged:
      d->lease_until.reset();
      if (d->staged_at) return false;
      d->staged_at = at;
      return true;
    case DisputeMark::kSubmitted:
      if (d->submitted_at) return false;
      d->submitted_at = at;
      return true;
    case DisputeMark::kLeaseEnded: {
      const bool leased = d->lease_until.has_value();
      d->lease_until.reset();
      return leased;
    }
  }
  return false;
}

Result<Event> InMemoryLedger::AppendEvent(const Event& event) {
  if (auto ok = ValidateEvent(event); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  return AppendLocked(event);
}

Result<Event> InMemoryLedger::AppendLocked(const Event& event) {
  if (const auto seen = event_holds_.find(event.id); seen != event_holds_.end()) {
    for (const Event& e : events_[seen->second]) {
      if (e.id == event.id) return e;
    }
  }
  const auto hold = holds_.find(event.hold_id);
  if (hold == holds_.end()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no hold " + event.hold_id);
  }
  if (event.if_status_unchanged && hold->second.status != event.status_before) {
    return Conflict("hold_changed", "the hold's status changed since it was read");
  }
  if (!event.hold_payment_intent.empty()) {
    const std::string owner = ResolveHold(event.hold_payment_intent);
    if (!owner.empty() && owner != event.hold_id) {
      return Conflict("ledger_conflict", "this PaymentIntent belongs to another hold");
    }
  }
  std::vector<Event>& trail = events_[event.hold_id];
  Event stored = event;
  stored.seq = static_cast<int64_t>(trail.size()) + 1;
  trail.push_back(stored);
  event_holds_.emplace(event.id, event.hold_id);
  if (notification_clients_.contains(hold->second.client)) {  // queued in the same "commit"
    Notification n;
    n.id = NotificationIdFor(stored.id);
    n.client = hold->second.client;
    n.hold_id = stored.hold_id;
    n.type = "hold." + stored.type;
    n.created_at = stored.created_at;
    n.next_attempt_at = stored.created_at;
    n.event = stored;
    n.event.hold_expires_at.reset();
    notifications_.emplace(n.id, std::move(n));
  }
  if (!event.status_after.empty()) hold->second.status = event.status_after;
  if (event.hold_expires_at) hold->second.expires_at = event.hold_expires_at;
  if (event.hold_reauthorization) hold->second.reauthorization_json = *event.hold_reauthorization;
  auto& chain = hold->second.payment_intents;
  if (!event.hold_payment_intent.empty() &&
      std::find(chain.begin(), chain.end(), event.hold_payment_intent) == chain.end()) {
    chain.push_back(event.hold_payment_intent);
    aliases_.emplace(event.hold_payment_intent, event.hold_id);
  }
  return stored;
}

Result<Page<Event>> InMemoryLedger::ListEvents(std::string_view hold_id,
                                               std::string_view starting_after, int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const auto trail = events_.find(hold_id);
  const std::vector<Event> none;
  const std::vector<Event>& events = trail == events_.end() ? none : trail->second;
  size_t first = 0;
  if (!starting_after.empty()) {
    const auto at = std::find_if(events.begin(), events.end(),
                                 [&](const Event& e) { return e.id == starting_after; });
    if (at == events.end()) return UnknownCursor();
    first = static_cast<size_t>(at - events.begin()) + 1;
  }
  Page<Event> page;
  const size_t end = std::min(events.size(), first + static_cast<size_t>(limit));
  page.data.assign(events.begin() + static_cast<std::ptrdiff_t>(first),
                   events.begin() + static_cast<std::ptrdiff_t>(end));
  page.has_more = end < events.size();
  return page;
}

Result<std::vector<Hold>> InMemoryLedger::LeaseDueReleases(int64_t now, int64_t lease_s,
                                                           int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  std::vector<Hold> due;
  for (const auto& [id, hold] : holds_) {
    if (!hold.release_after || *hold.release_after > now || hold.status == "succeeded" ||
        hold.status == "canceled") {
      continue;
    }
    if (auto lease = leases_.find(id); lease != leases_.end() && lease->second > now) continue;
    due.push_back(hold);
  }
  std::sort(due.begin(), due.end(), [](const Hold& a, const Hold& b) {
    return std::tie(*a.release_after, a.id) < std::tie(*b.release_after, b.id);
  });
  due.resize(std::min(due.size(), static_cast<size_t>(limit)));
  for (auto& hold : due) {
    leases_[hold.id] = now + lease_s;
    hold.lease_until = now + lease_s;
  }
  return due;
}

Result<std::vector<Hold>> InMemoryLedger::LeaseDueAuthorizations(int64_t now, int64_t margin_s,
                                                                 int64_t lease_s, int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  std::vector<std::pair<int64_t, Hold>> due;  // (due time, hold)
  for (const auto& [id, hold] : holds_) {
    std::optional<int64_t> at;
    if (hold.status == "scheduled" && hold.authorize_at && *hold.authorize_at <= now) {
      at = hold.authorize_at;
    } else if (hold.reauthorize && hold.status == "requires_capture" &&
               hold.reauthorization_json.empty() && hold.expires_at && hold.stay_ends_at &&
               *hold.stay_ends_at > *hold.expires_at && *hold.expires_at - margin_s <= now) {
      at = *hold.expires_at - margin_s;
    }
    if (!at) continue;
    if (auto lease = leases_.find(id); lease != leases_.end() && lease->second > now) continue;
    due.emplace_back(*at, hold);
  }
  std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.id) < std::tie(b.first, b.second.id);
  });
  due.resize(std::min(due.size(), static_cast<size_t>(limit)));
  std::vector<Hold> out;
  for (auto& [at, hold] : due) {
    leases_[hold.id] = now + lease_s;
    hold.lease_until = now + lease_s;
    out.push_back(std::move(hold));
  }
  return out;
}

Result<std::vector<Hold>> InMemoryLedger::LeaseDueChecks(int64_t now, int64_t interval_s,
                                                         int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  std::vector<std::pair<int64_t, std::string>> due;  // (last compared or created, id)
  for (const auto& [id, hold] : holds_) {
    if (!ComparedWithStripe(hold.status)) continue;
    auto checked = checked_.find(id);
    const int64_t since = checked == checked_.end() ? hold.created_at : checked->second;
    if (since <= now - interval_s) due.emplace_back(since, id);
  }
  std::sort(due.begin(), due.end());
  due.resize(std::min(due.size(), static_cast<size_t>(limit)));
  std::vector<Hold> taken;
  for (const auto& [since, id] : due) {
    checked_[id] = now;
    taken.push_back(holds_.at(id));
  }
  return taken;
}

Result<StripeIntent> InMemoryLedger::BeginIntent(const StripeIntent& intent) {
  if (auto ok = ValidateIntent(intent); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const auto found = intents_.find(intent.idempotency_key);
  if (found != intents_.end()) {
    if (found->second.params_digest != intent.params_digest) {
      return Conflict("idempotency_key_reused",
                      "this Stripe idempotency key was recorded with other parameters");
    }
    return found->second;
  }
  StripeIntent stored = intent;
  stored.state = IntentState::kPending;
  stored.result_json.clear();
  stored.stripe_request_id.clear();
  stored.finished_at.reset();
  intents_.emplace(intent.idempotency_key, stored);
  return stored;
}

Result<std::optional<StripeIntent>> InMemoryLedger::FindIntent(std::string_view idempotency_key) {
  std::lock_guard lock(mu_);
  const auto found = intents_.find(idempotency_key);
  if (found == intents_.end()) return std::optional<StripeIntent>();
  return std::optional<StripeIntent>(found->second);
}

Status InMemoryLedger::FinishIntent(std::string_view idempotency_key, IntentState state,
                                    std::string_view result_json,
                                    std::string_view stripe_request_id, int64_t now) {
  if (state == IntentState::kPending) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                "an intent finishes as succeeded or failed", "state");
  }
  if (!json::IsJsonText(result_json)) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "result is JSON", "result");
  }
  std::lock_guard lock(mu_);
  const auto found = intents_.find(idempotency_key);
  if (found == intents_.end()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no intent with this idempotency key");
  }
  StripeIntent& intent = found->second;
  if (intent.state != IntentState::kPending) {
    if (intent.state == state) return Ok();
    return Conflict("intent_already_finished", "this intent finished with the other state");
  }
  intent.state = state;
  intent.result_json = std::string(result_json);
  intent.stripe_request_id = std::string(stripe_request_id);
  intent.finished_at = now;
  return Ok();
}

Result<std::vector<StripeIntent>> InMemoryLedger::ListPendingIntents(int64_t created_before,
                                                                     int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  std::vector<StripeIntent> out;
  for (const auto& [key, intent] : intents_) {
    if (intent.state == IntentState::kPending && intent.created_at < created_before) {
      out.push_back(intent);
    }
  }
  std::sort(out.begin(), out.end(), [](const StripeIntent& a, const StripeIntent& b) {
    return std::tie(a.created_at, a.idempotency_key) < std::tie(b.created_at, b.idempotency_key);
  });
  out.resize(std::min(out.size(), static_cast<size_t>(limit)));
  return out;
}

Result<std::vector<StripeIntent>> InMemoryLedger::PendingIntentsOf(std::string_view hold_id) {
  std::lock_guard lock(mu_);
  std::vector<StripeIntent> out;
  for (const auto& [key, intent] : intents_) {
    if (intent.state == IntentState::kPending && intent.hold_id == hold_id) out.push_back(intent);
  }
  std::sort(out.begin(), out.end(), [](const StripeIntent& a, const StripeIntent& b) {
    return std::tie(a.created_at, a.idempotency_key) < std::tie(b.created_at, b.idempotency_key);
  });
  return out;
}

Result<bool> InMemoryLedger::RecordWebhookEvent(std::string_view event_id, int64_t received_at) {
  if (event_id.empty()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "an event id is needed", "id");
  }
  std::lock_guard lock(mu_);
  return webhook_events_.emplace(std::string(event_id), received_at).second;
}

Result<std::string> InMemoryLedger::JobState(std::string_view name) {
  std::lock_guard lock(mu_);
  const auto found = job_state_.find(name);
  return found == job_state_.end() ? std::string() : found->second;
}

Status InMemoryLedger::SetJobState(std::string_view name, std::string_view value, int64_t /*now*/) {
  if (name.empty()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "a job state has a name", "name");
  }
  std::lock_guard lock(mu_);
  job_state_[std::string(name)] = std::string(value);
  return Ok();
}

Status InMemoryLedger::SetNotificationClients(std::span<const std::string> clients) {
  std::lock_guard lock(mu_);
  notification_clients_ = {clients.begin(), clients.end()};
  return Ok();
}

Result<std::vector<Notification>> InMemoryLedger::LeaseDueNotifications(int64_t now,
                                                                        int64_t lease_s,
                                                                        int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  std::map<std::string_view, int64_t> head;  // hold → the seq of its oldest pending one
  for (const auto& [id, n] : notifications_) {
    if (n.status != NotificationStatus::kPending) continue;
    auto [it, fresh] = head.emplace(n.hold_id, n.event.seq);
    if (!fresh) it->second = std::min(it->second, n.event.seq);
  }
  std::vector<Notification*> due;
  for (auto& [id, n] : notifications_) {
    if (n.status != NotificationStatus::kPending || !notification_clients_.contains(n.client) ||
        *n.next_attempt_at > now || (n.lease_until && *n.lease_until > now) ||
        head.at(n.hold_id) != n.event.seq) {
      continue;
    }
    due.push_back(&n);
  }
  std::sort(due.begin(), due.end(), [](const Notification* a, const Notification* b) {
    return std::tie(a->created_at, a->id) < std::tie(b->created_at, b->id);
  });
  due.resize(std::min(due.size(), static_cast<size_t>(limit)));
  std::vector<Notification> out;
  for (Notification* n : due) {
    n->lease_until = now + lease_s;
    out.push_back(*n);
  }
  return out;
}

Result<bool> InMemoryLedger::RecordNotificationAttempt(const NotificationAttempt& a) {
  using Outcome = NotificationAttempt::Outcome;
  if (auto ok = ValidateNotificationAttempt(a); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const auto found = notifications_.find(a.id);
  if (found == notifications_.end()) {
    return Fail(ErrorKind::kNotFound, "not_found", "no notification " + a.id);
  }
  Notification& n = found->second;
  if (n.status != NotificationStatus::kPending) return false;
  n.lease_until.reset();
  switch (a.outcome) {
    case Outcome::kDelivered:
      n.status = NotificationStatus::kDelivered;
      n.next_attempt_at.reset();
      n.delivered_at = a.at;
      break;
    case Outcome::kFailed:
      n.last_error = a.error;
      n.next_attempt_at = a.next_attempt_at;
      break;
    case Outcome::kGaveUp:
      n.status = NotificationStatus::kGaveUp;
      n.last_error = a.error;
      n.next_attempt_at.reset();
      break;
    case Outcome::kNotTried: n.next_attempt_at = a.next_attempt_at; return true;
  }
  ++n.attempts;
  return true;
}

Result<Page<Notification>> InMemoryLedger::ListFailedNotifications(std::string_view client,
                                                                   std::string_view starting_after,
                                                                   int limit) {
  if (auto ok = ValidateLimit(limit); !ok) return Fail(ok.error());
  std::lock_guard lock(mu_);
  const Notification* cursor = nullptr;
  if (!starting_after.empty()) {
    const auto found = notifications_.find(starting_after);
    if (found == notifications_.end() || found->second.client != client) return UnknownCursor();
    cursor = &found->second;
  }
  const auto newer = [](const Notification* a, const Notification* b) {
    return std::tie(a->created_at, a->id) > std::tie(b->created_at, b->id);
  };
  std::vector<const Notification*> failed;
  for (const auto& [id, n] : notifications_) {
    if (n.client != client || n.attempts == 0 || n.status == NotificationStatus::kDelivered) {
      continue;
    }
    if (cursor != nullptr && !newer(cursor, &n)) continue;
    failed.push_back(&n);
  }
  std::sort(failed.begin(), failed.end(), newer);
  Page<Notification> page;
  page.has_more = failed.size() > static_cast<size_t>(limit);
  failed.resize(std::min(failed.size(), static_cast<size_t>(limit)));
  for (const Notification* n : failed) {
    Notification shown = *n;
    shown.event = Event{};
    shown.event.id = n->event.id;
    shown.event.seq = n->event.seq;
    page.data.push_back(std::move(shown));
  }
  return page;
}

}  // namespace cc::ledger
