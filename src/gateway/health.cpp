#include "gateway/health.h"

#include <chrono>
#include <string>

#include "core/json.h"
#include "ledger/ledger.h"
#include "runtime/fibers.h"

namespace cc::gateway {
namespace {

constexpr int64_t kStripeProbeInterval = 30;
constexpr int64_t kChittyIdProbeInterval = 10;
constexpr std::chrono::milliseconds kFirstProbePoll{2};

}  // namespace

HealthProbe::Snapshot HealthProbe::Get(const http::Deps& deps, int64_t now) {
  bool probe_stripe = false;
  bool probe_chittyid = false;
  {
    std::lock_guard lock(mu_);
    if (now - stripe_checked_ >= kStripeProbeInterval && !stripe_probing_) {
      probe_stripe = stripe_probing_ = true;
    }
    if (now - chittyid_checked_ >= kChittyIdProbeInterval && !chittyid_probing_) {
      probe_chittyid = chittyid_probing_ = true;
    }
  }
  const bool stripe_ok = probe_stripe && deps.stripe.Ping().has_value();
  const bool chittyid_ok = probe_chittyid && deps.chittyid.Health().has_value();
  std::unique_lock lock(mu_);
  if (probe_stripe) {
    stripe_ok_ = stripe_ok;
    stripe_checked_ = now;
    stripe_probing_ = false;
    stripe_known_ = true;
  }
  if (probe_chittyid) {
    chittyid_ok_ = chittyid_ok;
    chittyid_checked_ = now;
    chittyid_probing_ = false;
    chittyid_known_ = true;
  }
  // The initial false is no result: wait for a first probe that is in flight. Polled
  // with Pause, not a condition variable: the prober may be a fiber of this thread.
  while (!((stripe_known_ || !stripe_probing_) && (chittyid_known_ || !chittyid_probing_))) {
    lock.unlock();
    fibers::Pause(kFirstProbePoll);
    lock.lock();
  }
  return {stripe_ok_, chittyid_ok_};
}

http::Response Health(HealthProbe& probe, const http::Deps& deps, int64_t now) {
  const auto upstream = probe.Get(deps, now);
  const bool memcached_ok = deps.store.Ping().has_value();
  // The loop's own connection, on every call like memcached: a local round trip (or an
  // immediate answer while PgLedger backs off), so no memo is needed, and a per-process
  // memo could not speak for every loop's connection anyway.
  const bool database_ok = deps.ledger.Ping().has_value();
  const bool critical_ok = upstream.stripe_ok && memcached_ok && database_ok;
  const bool all_ok = critical_ok && upstream.chittyid_ok;
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "status");
  json::String(w, all_ok ? "healthy" : "degraded");
  json::Key(w, "service");
  json::String(w, "chittycharge");
  json::Key(w, "version");
  json::String(w, CHITTYCHARGE_VERSION);
  json::Key(w, "stripe_connected");
  w.Bool(upstream.stripe_ok);
  json::Key(w, "chittyid_connected");
  w.Bool(upstream.chittyid_ok);
  json::Key(w, "memcached_connected");
  w.Bool(memcached_ok);
  json::Key(w, "database_connected");
  w.Bool(database_ok);
  w.EndObject();
  return http::Json(critical_ok ? 200 : 503, std::string(buf.GetString(), buf.GetSize()));
}

}  // namespace cc::gateway
