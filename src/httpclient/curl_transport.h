// CurlTransport and CurlMulti: the Transport over libcurl, and the only user of
// <curl/curl.h>.
//
// Every exchange sets: NOSIGNAL, the request's total and connect timeouts, TCP_NODELAY,
// TCP keep-alive, HTTP/1.1, no redirects, http/https only, peer and host verification
// always on, CAINFO when a CA file was given (the sandbox trusts its test doubles'
// self-signed certificate; default = system store). Response bodies over 8 MiB are
// refused. CURLcode is translated here: timeout → kDeadlineExceeded; could not
// resolve/connect, send/receive failure, empty reply → kUnavailable; anything else (TLS,
// protocol) → kUpstream. Messages carry curl's reason, never headers or bodies.
// CurlGlobal initialises libcurl for the process: main makes one before any thread
// starts. Construction throws std::runtime_error if libcurl cannot make a handle
// (start-up only).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "httpclient/transport.h"

namespace cc::runtime {
class EventLoop;
}  // namespace cc::runtime

namespace cc::httpclient {

// curl_global_init() on construction, curl_global_cleanup() on destruction. One per
// process, made before any thread starts and outliving every transport.
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  bool ok_;
};

// One easy handle, reused for every Send(), so the connection (and TLS session) stays
// alive between calls. Blocking; not thread-safe: one per thread (the reconciler's).
// Easy handles (here and in CurlMulti's pool) carry the shared options from their
// creation; each exchange sets only its own.
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
};

// A curl multi handle in socket mode, registered with one thread's event loop
// (runtime::EventLoop, owned and driven by fcgi/server.cpp). CurlMulti keeps only the
// multi handle, its pool of easy handles and libcurl's two callbacks, which it passes on
// to the loop: each transfer socket libcurl asks to watch is watched (read/write interest
// changed as libcurl asks, unwatched on CURL_POLL_REMOVE), and libcurl's timer is the
// loop's timer. When the loop reports a socket ready or the timer due, CurlMulti lets
// libcurl act on it and wakes the fiber of every transfer that has ended. Failures to
// watch a socket are ignored (a -1 would make libcurl abort every transfer of the
// handle); such a transfer ends by its own timeout.
// Its transport() may be used by any number of that thread's fibers at once: each Send()
// starts a transfer and parks its fiber (runtime/fibers.h) until the loop's callbacks see
// the transfer end; new transfers start when the loop next runs its due timer
// (EventLoop::RunTimerIfDue or Wait). The transfers share the multi handle's connection
// cache, so kept-alive connections to Stripe and ChittyID are reused by whichever fiber
// comes next. The cache keeps up to max_connections: a transfer that ends while the
// multi handle holds more (in use or idle) closes the oldest idle one. Pass at least what
// the loop's load has in flight upstream at once, else every transfer beyond it opens and
// closes a connection (each a TCP and TLS handshake); libcurl's default, 4 × the transfers
// running at the moment, closed idle connections whenever the load dipped. A connection
// idle for idle_timeout is not reused but closed when the next transfer starts
// (CURLOPT_MAXAGE_CONN), and once no transfer has run for idle_timeout the whole cache
// is closed (the loop's timer serves libcurl's deadline and this one), so an idle loop
// holds no upstream connection after at most 2 × idle_timeout.
// Outside a fiber, Send() performs the exchange synchronously.
// Not thread-safe: the loop's thread only. The loop must outlive the CurlMulti (libcurl's
// cleanup still unwatches sockets); no transfer may be in flight at destruction.
class CurlMulti {
 public:
  // max_connections below 1 is taken as 1, idle_timeout below 1 s as 1 s.
  explicit CurlMulti(runtime::EventLoop& loop, std::string ca_file = {},
                     long max_connections = 64,  // NOLINT(google-runtime-int): curl's type
                     std::chrono::seconds idle_timeout = std::chrono::seconds(60));
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  Transport& transport();

 private:
  struct State;  // hides CURLM*
  class FiberTransport;
  std::unique_ptr<State> state_;
  std::unique_ptr<FiberTransport> transport_;
  std::string ca_file_;
};

}  // namespace cc::httpclient
