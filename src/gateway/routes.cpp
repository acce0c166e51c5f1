#include "gateway/routes.h"

#include <array>

#include "claims/disclosure.h"
#include "claims/evidence_file.h"
#include "holds/handlers.h"
#include "notify/handlers.h"

namespace cc::gateway {
namespace {

http::Response ServeHealth(Exchange& x) { return Health(x.health, x.deps, x.now); }

http::Response ServeMetrics(Exchange& x) {
  auto r = http::Json(200, x.metrics.Render());
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

http::Response ServeWebhook(Exchange& x) {
  return webhooks::ReceiveWebhook(x.deps, x.request, x.now, x.request_id, &x.note);
}

http::Response ListHolds(Exchange& x) { return holds::ListHolds(x.deps, *x.caller, x.request); }
http::Response CreateHold(Exchange& x) { return holds::CreateHold(x.deps, *x.caller, x.request); }
http::Response GetHold(Exchange& x) { return holds::GetHold(x.deps, *x.caller, x.id); }
http::Response ListHoldEvents(Exchange& x) {
  return holds::ListHoldEvents(x.deps, *x.caller, x.request, x.id);
}
http::Response CaptureHold(Exchange& x) {
  return holds::CaptureHold(x.deps, *x.caller, x.request, x.id);
}
http::Response CancelHold(Exchange& x) {
  return holds::CancelHold(x.deps, *x.caller, x.request, x.id);
}
http::Response RefundHold(Exchange& x) {
  return holds::RefundHold(x.deps, *x.caller, x.request, x.id);
}
http::Response ReauthorizeHold(Exchange& x) {
  return holds::ReauthorizeHold(x.deps, *x.caller, x.request, x.id);
}
http::Response UploadEvidence(Exchange& x) {
  return holds::UploadEvidence(x.deps, *x.caller, x.request, x.id);
}
http::Response ListEvidence(Exchange& x) { return holds::ListEvidence(x.deps, *x.caller, x.id); }
http::Response SubmitDispute(Exchange& x) {
  return holds::SubmitDispute(x.deps, *x.caller, x.request, x.id);
}
// The wording a client shows the guest, exactly what a dispute will cite (CONTRACT.md,
// "Disclosure"): the current version and its template ({amount}, {property}).
http::Response GetDisclosure(Exchange& /*x*/) {
  const auto& current = claims::CurrentDisclosure();
  return http::Json(200, claims::RenderDisclosureJson(current.version, current.text));
}

http::Response CreateGuestLink(Exchange& x) {
  return holds::CreateGuestLink(x.deps, *x.caller, x.id);
}
http::Response ServeGuestPage(Exchange& x) { return holds::ServeGuestPage(x.deps, x.id, x.now); }
http::Response GetGuestHold(Exchange& x) { return holds::GetGuestHold(x.deps, x.id, x.now); }
http::Response AcceptGuestDisclosure(Exchange& x) {
  return holds::AcceptGuestDisclosure(x.deps, x.request, x.id, x.now, x.request_id);
}

http::Response ListNotifications(Exchange& x) {
  return notify::ListNotifications(x.deps, *x.caller, x.request);
}

void CountWebhook(metrics::Metrics& m, int /*status*/, const webhooks::WebhookNote& note) {
  m.Webhook(note.type, note.result);
}
void CountCreate(metrics::Metrics& m, int status, const webhooks::WebhookNote& /*note*/) {
  if (status == 201) m.Hold(metrics::HoldEvent::kCreated);
  if (status == 402) m.Hold(metrics::HoldEvent::kDeclined);
}
void CountCapture(metrics::Metrics& m, int status, const webhooks::WebhookNote& /*note*/) {
  if (status == 200) m.Hold(metrics::HoldEvent::kCaptured);
}
void CountCancel(metrics::Metrics& m, int status, const webhooks::WebhookNote& /*note*/) {
  if (status == 200) m.Hold(metrics::HoldEvent::kCanceled);
}
void CountRefund(metrics::Metrics& m, int status, const webhooks::WebhookNote& /*note*/) {
  if (status == 200) m.Hold(metrics::HoldEvent::kRefunded);
}

constexpr std::array kRoutes{
    Route{{"GET", "/health"}, Access::kPublic, &ServeHealth},
    Route{{"GET", "/metrics"}, Access::kLoopback, &ServeMetrics},
    Route{{"POST", "/webhook"}, Access::kPublic, &ServeWebhook, &CountWebhook},
    Route{{"GET", "/api/holds"}, Access::kClient, &ListHolds},
    Route{{"POST", "/api/holds"}, Access::kClient, &CreateHold, &CountCreate},
    Route{{"GET", "/api/holds/:id"}, Access::kClient, &GetHold},
    Route{{"GET", "/api/holds/:id/events"}, Access::kClient, &ListHoldEvents},
    Route{{"POST", "/api/holds/:id/capture"}, Access::kClient, &CaptureHold, &CountCapture},
    Route{{"POST", "/api/holds/:id/cancel"}, Access::kClient, &CancelHold, &CountCancel},
    Route{{"POST", "/api/holds/:id/refund"}, Access::kClient, &RefundHold, &CountRefund},
    Route{{"POST", "/api/holds/:id/reauthorize"}, Access::kClient, &ReauthorizeHold},
    // The file is the raw body, up to Stripe's 5 MiB (nginx allows that on this route only).
    Route{{"POST", "/api/holds/:id/evidence"},
          Access::kClient,
          &UploadEvidence,
          nullptr,
          claims::kMaxEvidenceBytes},
    Route{{"GET", "/api/holds/:id/evidence"}, Access::kClient, &ListEvidence},
    Route{{"POST", "/api/holds/:id/dispute/submit"}, Access::kClient, &SubmitDispute},
    Route{{"POST", "/api/holds/:id/guest_link"}, Access::kClient, &CreateGuestLink},
    Route{{"GET", "/api/disclosure"}, Access::kClient, &GetDisclosure},
    Route{{"GET", "/api/notifications"}, Access::kClient, &ListNotifications},
    // The guest page (docs/guest-page.md): the path's token is the credential.
    Route{{"GET", "/pay/:id"}, Access::kGuestLink, &ServeGuestPage},
    Route{{"GET", "/pay/:id/hold"}, Access::kGuestLink, &GetGuestHold},
    Route{{"POST", "/pay/:id/accept"}, Access::kGuestLink, &AcceptGuestDisclosure},
};
static_assert(kRoutes.size() <= metrics::Metrics::kMaxRoutes);

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

size_t MaxBodyFor(std::string_view method, std::string_view path) {
  static const std::vector<http::RouteSpec> specs = [] {
    std::vector<http::RouteSpec> out;
    for (const auto& route : kRoutes) out.push_back(route.spec);
    return out;
  }();
  const auto match = http::MatchRoute(specs, method, path);
  return match.index ? kRoutes[*match.index].max_body : kDefaultMaxBody;
}

std::vector<std::string> RouteNames() {
  std::vector<std::string> names;
  names.reserve(kRoutes.size());
  for (const auto& route : kRoutes) names.push_back(http::RouteName(route.spec));
  return names;
}

}  // namespace cc::gateway
