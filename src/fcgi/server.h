// The FastCGI accept loop: the only user of <fcgiapp.h>.
//
// Serves the listening socket libfcgi finds on fd 0 (spawn-fcgi / a systemd .socket
// unit hand it over) with `threads` threads, each accepting on its own with
// FCGX_Accept_r (accept() is thread-safe; no accept mutex). Each thread gets its own
// handler from `make_handler`, so per-thread resources (curl handle, memcached
// connection) need no locking.
// Graceful stop: SIGTERM, SIGINT or SIGQUIT stops accepting; requests in flight finish; Run()
// returns 0 once every thread is done. No signal interrupts libfcgi: the listening
// socket has a 500 ms receive timeout, so a thread blocked in accept() sees the stop
// flag within that time.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>

#include "http/http.h"

namespace cc::fcgi {

using Handler = std::function<http::Response(const http::Request&)>;
using HandlerFactory = std::function<Handler()>;

struct ServerOptions {
  int threads = 128;
  size_t max_body_bytes = 1U << 20U;  // larger bodies: 413 (nginx limits them first)
  // Optional background task (the ChittyID reconciler), stopped with the server.
  std::function<void(std::stop_token)> background;
};

// Blocks until SIGTERM/SIGINT/SIGQUIT; returns the process exit code.
int Run(const ServerOptions& options, const HandlerFactory& make_handler);

}  // namespace cc::fcgi
