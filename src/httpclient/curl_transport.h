// CurlTransport: the Transport over libcurl, and the only user of <curl/curl.h>.
//
// Owns one easy handle for its whole life and reuses it for every Send(), so the
// connection (and TLS session) to Stripe/ChittyID stays alive between calls;
// curl_easy_reset() before each call clears the previous call's options but keeps live
// connections and the DNS/TLS-session caches. Each call sets: NOSIGNAL, the request's
// total and connect timeouts, TCP_NODELAY, TCP keep-alive, HTTP/1.1, no redirects,
// http/https only, peer and host verification always on, CAINFO when a CA file was given
// (the sandbox trusts its test doubles' self-signed certificate; default = system store).
// Response bodies over 8 MiB are refused. CURLcode is translated here: timeout →
// kDeadlineExceeded; could not resolve/connect, send/receive failure, empty reply →
// kUnavailable; anything else (TLS, protocol) → kUpstream. Messages carry curl's reason,
// never headers or bodies. curl_global_init() is main's job, before any thread starts.
// Not thread-safe: one CurlTransport per worker thread. Construction throws
// std::runtime_error if libcurl cannot make a handle (start-up only).
#pragma once

#include <memory>
#include <string>

#include "httpclient/transport.h"

namespace cc::httpclient {

class CurlTransport final : public Transport {
 public:
  // ca_file: PEM bundle to trust instead of the system store; "" = system store.
  explicit CurlTransport(std::string ca_file = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request) override;

 private:
  struct Handle;  // hides CURL* so this header does not pull in <curl/curl.h>
  std::unique_ptr<Handle> handle_;
  std::string ca_file_;
};

}  // namespace cc::httpclient
