// The FastCGI event loop: the only user of <fcgiapp.h>.
//
// Serves the listening socket libfcgi finds on fd 0 (spawn-fcgi / a systemd .socket unit
// hand it over). One OS thread runs the loop: it polls the listening socket (made
// non-blocking) together with libcurl's transfers (httpclient::CurlMulti), accepts with
// FCGX_Accept_r while fewer than `slots` requests are in flight, and runs each request
// on its own fiber (core/fibers.h). A fiber that calls Stripe or ChittyID parks until its
// transfer ends, so `slots` requests wait on upstreams at once on one thread. Reading the
// FastCGI request, memcached round trips and writing the answer block the loop; they
// are local and short. At `slots` requests in flight the loop stops accepting and new
// connections wait in the listen backlog.
// Graceful stop: SIGTERM, SIGINT or SIGQUIT stops accepting; requests in flight finish;
// Run() returns 0 once the loop is done.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "http/http.h"
#include "httpclient/transport.h"

namespace cc::fcgi {

using Handler = std::function<http::Response(const http::Request&)>;
// Builds the loop's handler over the loop's HTTP transport (shared by its fibers).
using HandlerFactory = std::function<Handler(httpclient::Transport&)>;

struct ServerOptions {
  int slots = 256;  // requests in flight at once (fibers), shared out among the loops
  int loops = 2;    // event-loop threads, each with its own curl multi handle and ports
  size_t max_body_bytes = 1U << 20U;
  std::string ca_file;  // PEM bundle for the HTTPS transport; "" = system store  // larger bodies: 413 (nginx limits them first)
  // Optional background task (the ChittyID reconciler), stopped with the server.
  std::function<void(std::stop_token)> background;
};

// Blocks until SIGTERM/SIGINT/SIGQUIT; returns the process exit code.
int Run(const ServerOptions& options, const HandlerFactory& make_handler);

}  // namespace cc::fcgi
