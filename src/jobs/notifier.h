// The notification sender (CONTRACT.md, "Notifications to client apps";
// docs/notifications.md), one pass of it per chittycharge-jobs run, after the releases.
//
// A pass first writes the configured clients (CHITTYCHARGE_CLIENT_WEBHOOKS) into the
// ledger's notification clients (Ledger::SetNotificationClients), so their holds' events
// are queued from then on. Then it leases due notifications in batches
// (Ledger::LeaseDueNotifications: oldest first, only the oldest pending one of each hold,
// each to one sender until its lease ends) and for each one renders the body
// (notify/notification.h: the hold as GET renders it now, and the event), signs it with
// CHITTYCHARGE_NOTIFY_SECRET and POSTs it to the client's URL through the Transport with a
// 10 s timeout. A 2xx answer is delivered; anything else is a failed try, retried with
// notify::NextAttemptAt's backoff and given up 3 days after the event. A hold's next
// notification is leased by a later batch of the same pass, so a pass delivers a hold's
// backlog in order.
//
// Not tried (lease released, attempts unchanged, due again in kDeferSeconds): a hold that
// can be read neither from Stripe nor from the cache, and the rest of a client's
// notifications in this pass once two of its tries timed out (a dead endpoint must not
// hold up the other clients for 10 s a notification).
// Logs a client name, a notification id and why a try failed; never a secret, a body or
// the URL. Not thread-safe: one caller per Deps and Transport.
#pragma once

#include <cstdint>
#include <functional>
#include <stop_token>

#include "http/handler.h"
#include "httpclient/transport.h"

namespace cc::jobs {

struct NotifyReport {
  int delivered = 0;
  int failed = 0;    // tries that failed; tried again later
  int gave_up = 0;   // failed tries that were the last (3 days after the event)
  int deferred = 0;  // not tried in this pass (see above)
  bool ledger_down = false;
};

inline constexpr int64_t kNotifyLeaseSeconds = 300;  // > a batch × the 10 s timeout
inline constexpr int kNotifyBatch = 20;
inline constexpr int64_t kDeferSeconds = 60;
inline constexpr int kTimeoutsBeforeSkip = 2;

struct NotifierOptions {
  int max_notifications = 1000;  // tries per pass
  // Unix seconds; each try reads it (leases, signature timestamps, retry times). Empty:
  // the system clock. Tests pass a fake one.
  std::function<int64_t()> clock;
};

// Writes the configured clients (CHITTYCHARGE_CLIENT_WEBHOOKS) as the ledger's
// notification clients: their holds' events are queued from then on. SendNotifications
// does it first; each worker does it at start, so a new client's events are queued from
// the restart on, not from the next pass.
Status SyncNotificationClients(const config::Config& config, ledger::Ledger& ledger);

NotifyReport SendNotifications(const http::Deps& deps, httpclient::Transport& transport,
                               const NotifierOptions& options = {},
                               const std::stop_token& stop = {});

}  // namespace cc::jobs
