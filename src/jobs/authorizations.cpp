#include "jobs/authorizations.h"

#include "core/log.h"
#include "holds/authorize.h"
#include "holds/journal.h"

namespace cc::jobs {

AuthorizeReport AuthorizeDue(const http::Deps& deps, int64_t now, int max_holds,
                             const std::stop_token& stop) {
  AuthorizeReport report;
  const holds::Actor scheduler{"scheduler", ""};
  const int64_t margin_s = deps.config.reauth_margin_h * 3600;
  int tried = 0;
  while (tried < max_holds && !stop.stop_requested()) {
    auto due =
        deps.ledger.LeaseDueAuthorizations(now, margin_s, kAuthorizeLeaseSeconds, kAuthorizeBatch);
    if (!due) {
      report.ledger_down = true;
      break;
    }
    if (due->empty()) break;
    for (const ledger::Hold& hold : *due) {
      if (stop.stop_requested()) break;
      ++tried;
      const bool first = holds::CurrentPaymentIntent(hold).empty();
      const holds::AuthorizeResult result = holds::Authorize(deps, hold, scheduler, now);
      switch (result.outcome) {
        case holds::AuthorizeOutcome::kAuthorized:
          ++(first ? report.authorized : report.reauthorized);
          break;
        case holds::AuthorizeOutcome::kRefused:
        case holds::AuthorizeOutcome::kNoCard:
          ++(first ? report.authorization_failed : report.reauthorization_failed);
          break;
        case holds::AuthorizeOutcome::kNotAuthorizable: break;  // settled meanwhile
        case holds::AuthorizeOutcome::kRetryLater:
          ++report.deferred;
          log::Warn("authorization deferred; the next run after the lease retries",
                    {log::Str("hold", hold.id), log::Str("error", result.error.message)});
          break;
      }
    }
  }
  return report;
}

}  // namespace cc::jobs
