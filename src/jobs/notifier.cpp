#include "jobs/notifier.h"

#include <map>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/time_util.h"
#include "holds/hold.h"
#include "holds/hold_repository.h"
#include "holds/journal.h"
#include "notify/notification.h"

namespace cc::jobs {
namespace {

using Outcome = ledger::NotificationAttempt::Outcome;

// The hold object as GET renders it now: "" (null) when Stripe no longer knows it; the
// cached copy when Stripe cannot be read; an error when neither is there.
Result<std::string> HoldJson(const http::Deps& deps, const ledger::Notification& n, int64_t now) {
  holds::HoldRepository repo(deps.stripe, deps.store);
  auto record = repo.Load(n.hold_id, n.client, now);
  if (!record && record.error().kind == ErrorKind::kNotFound) return std::string();
  if (!record) {
    auto cached = repo.Cached(n.hold_id);
    if (!cached) return Fail(record.error());
    record = std::move(*cached);
  }
  auto known = deps.ledger.FindHold(n.hold_id);
  const holds::HoldSchedule schedule =
      known && *known ? holds::ScheduleOf(**known) : holds::HoldSchedule{};
  return holds::RenderHold(*record, {}, schedule);
}

class Pass {
 public:
  Pass(const http::Deps& deps, httpclient::Transport& transport, const NotifierOptions& options)
      : deps_(deps), transport_(transport), options_(options) {
    for (const auto& hook : deps.config.client_webhooks) urls_.emplace(hook.client, hook.url);
  }

  // One notification: tried (or let go), its outcome recorded.
  void Handle(const ledger::Notification& n) {
    const int64_t now = Now();
    const auto url = urls_.find(n.client);
    if (url == urls_.end() || timeouts_[n.client] >= kTimeoutsBeforeSkip) {
      Defer(n, now);
      return;
    }
    auto hold = HoldJson(deps_, n, now);
    if (!hold) {
      log::Warn("notification not sent: the hold could not be read",
                {log::Str("notification", n.id), log::Str("error", hold.error().message)});
      Defer(n, now);
      return;
    }
    const std::string body = notify::RenderBody(n, *hold);
    httpclient::HttpRequest request;
    request.method = "POST";
    request.url = url->second;
    request.timeout_ms = notify::kSendTimeoutMs;
    request.headers = {{"Content-Type", "application/json"},
                       {"User-Agent", "ChittyCharge-Notifier/" CHITTYCHARGE_VERSION},
                       {std::string(notify::kSignatureHeader),
                        notify::SignatureHeader(deps_.config.notify_secrets, now, body)}};
    request.body = body;
    auto answer = transport_.Send(request);
    const int64_t ended = Now();
    if (answer && answer->status >= 200 && answer->status < 300) {
      timeouts_[n.client] = 0;
      Record(n, {n.id, Outcome::kDelivered, "", std::nullopt, ended});
      ++report_.delivered;
      return;
    }
    std::string error;
    if (answer) {
      error = notify::HttpFailure(answer->status, answer->body);
    } else if (answer.error().kind == ErrorKind::kDeadlineExceeded) {
      error = "timeout: no answer within 10 s";
      ++timeouts_[n.client];
    } else {
      error = "not delivered: " + answer.error().message;
    }
    RecordFailure(n, error, answer ? answer->status : 0, ended);
  }

  void Defer(const ledger::Notification& n, int64_t now) {
    Record(n, {n.id, Outcome::kNotTried, "", now + kDeferSeconds, now});
    ++report_.deferred;
  }

  [[nodiscard]] int64_t Now() const { return options_.clock ? options_.clock() : NowSeconds(); }
  NotifyReport& report() { return report_; }

 private:
  // NOLINTNEXTLINE(google-runtime-int): curl's status type
  void RecordFailure(const ledger::Notification& n, const std::string& error, long status,
                     int64_t ended) {
    const auto next = notify::NextAttemptAt(n.created_at, n.attempts + 1, ended);
    Record(n, {n.id, next ? Outcome::kFailed : Outcome::kGaveUp, error, next, ended});
    ++(next ? report_.failed : report_.gave_up);
    log::Warn(
        next ? "notification not delivered; retried later" : "notification given up",
        {log::Str("client", n.client), log::Str("notification", n.id), log::Str("type", n.type),
         log::Num("attempt", n.attempts + 1), log::Num("status", status),
         log::Str("error", status != 0 ? "HTTP " + std::to_string(status) : error)});
  }

  void Record(const ledger::Notification& n, const ledger::NotificationAttempt& attempt) {
    auto recorded = deps_.ledger.RecordNotificationAttempt(attempt);
    if (!recorded) {  // the lease runs out and the next pass tries again
      log::Warn("notification try not recorded",
                {log::Str("notification", n.id), log::Str("error", recorded.error().message)});
    }
  }

  const http::Deps& deps_;
  httpclient::Transport& transport_;
  const NotifierOptions& options_;
  std::map<std::string, std::string, std::less<>> urls_;
  std::map<std::string, int, std::less<>> timeouts_;  // per client, in this pass
  NotifyReport report_;
};

}  // namespace

Status SyncNotificationClients(const config::Config& config, ledger::Ledger& ledger) {
  std::vector<std::string> clients;
  clients.reserve(config.client_webhooks.size());
  for (const auto& hook : config.client_webhooks) clients.push_back(hook.client);
  return ledger.SetNotificationClients(clients);
}

NotifyReport SendNotifications(const http::Deps& deps, httpclient::Transport& transport,
                               const NotifierOptions& options, const std::stop_token& stop) {
  Pass pass(deps, transport, options);
  if (auto synced = SyncNotificationClients(deps.config, deps.ledger); !synced) {
    pass.report().ledger_down = true;
    return pass.report();
  }
  if (deps.config.client_webhooks.empty()) return pass.report();
  int handled = 0;
  while (handled < options.max_notifications && !stop.stop_requested()) {
    auto due = deps.ledger.LeaseDueNotifications(pass.Now(), kNotifyLeaseSeconds, kNotifyBatch);
    if (!due) {
      pass.report().ledger_down = true;
      break;
    }
    if (due->empty()) break;
    for (const ledger::Notification& n : *due) {
      if (stop.stop_requested()) break;  // the rest keep their lease until it runs out
      ++handled;
      pass.Handle(n);
    }
  }
  return pass.report();
}

}  // namespace cc::jobs
