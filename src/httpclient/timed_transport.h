// TimedTransport: a Transport decorator that records each call's latency and failure
// in the pool's metrics under one dependency label (stripe, chittyid).
#pragma once

#include <chrono>

#include "core/metrics.h"
#include "httpclient/transport.h"

namespace cc::httpclient {

class TimedTransport final : public Transport {
 public:
  TimedTransport(Transport& inner, metrics::Metrics& metrics, metrics::Dependency dependency)
      : inner_(inner), metrics_(metrics), dependency_(dependency) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    auto response = inner_.Send(request);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    metrics_.DependencyCall(dependency_, took.count(),
                            response.has_value() && response->status < 500);
    return response;
  }

 private:
  Transport& inner_;
  metrics::Metrics& metrics_;
  metrics::Dependency dependency_;
};

}  // namespace cc::httpclient
