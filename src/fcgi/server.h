// The FastCGI event loops: the only user of <fcgiapp.h>.
//
// Serves the listening socket libfcgi finds on fd 0 (spawn-fcgi / a systemd .socket unit
// hand it over). Each of `loops` OS threads owns a runtime::EventLoop (epoll, eventfd),
// a fiber scheduler (runtime/fibers.h) and an httpclient::CurlMulti registered with that
// loop, over which the loop's handler talks to Stripe and ChittyID. The thread watches
// the listening socket (made non-blocking; kExclusive, so a connection wakes one loop)
// while it has a free slot, accepts with FCGX_Accept_r while fewer than `slots` ÷ `loops`
// requests are in flight, and runs each request on its own fiber. A fiber that calls
// Stripe or ChittyID parks until its transfer ends (the EventLoop calls CurlMulti back
// for the transfer's sockets and libcurl's timer), so a loop's requests wait on
// upstreams at once on one thread. Reading the FastCGI request, memcached round trips
// and writing the answer block the loop; they are local and short. At its share of
// `slots` in flight a loop stops watching the listening socket and new connections wait
// in the listen backlog (or go to another loop or process).
// Graceful stop: SIGTERM, SIGINT or SIGQUIT, taken by the main thread only, stops
// accepting and wakes every loop (EventLoop::Wakeup); requests in flight finish; Run()
// returns 0 once the loops are done, non-zero if the worker could not start (an
// EventLoop or curl handle that cannot be made) or a loop failed.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "http/http.h"
#include "httpclient/transport.h"
#include "runtime/event_loop.h"

namespace cc::fcgi {

using Handler = std::function<http::Response(const http::Request&)>;
// Builds the loop's handler over the loop's HTTP transport (shared by its fibers) and its
// event loop (for adapters that park fibers on it, as the ledger's socket waiter does).
// Called on the main thread before the loops start; the loop outlives the handler.
using HandlerFactory = std::function<Handler(httpclient::Transport&, runtime::EventLoop&)>;

struct ServerOptions {
  int slots = 256;  // requests in flight at once (fibers), shared out among the loops
  int loops = 2;    // event-loop threads, each with its own EventLoop, curl multi handle and ports
  size_t max_body_bytes = 1U << 20U;  // larger bodies: 413 (nginx limits them first)
  // Set: the limit for a request's (method, path) instead of max_body_bytes (the routes'
  // own limits, gateway::MaxBodyFor).
  std::function<size_t(std::string_view method, std::string_view path)> max_body_for;
  std::string ca_file;  // PEM bundle for the HTTPS transport; "" = system store
  // Upstream (Stripe and ChittyID) connections the process keeps open between requests,
  // shared out evenly among the loops (at least 1 each; httpclient::CurlMulti), and how
  // long one may stay idle.
  int upstream_max_idle_connections = 512;
  int upstream_idle_timeout_s = 60;
  // Optional background task (the ChittyID reconciler), stopped with the server.
  std::function<void(std::stop_token)> background;
};

// Blocks until SIGTERM/SIGINT/SIGQUIT; returns the process exit code.
int Run(const ServerOptions& options, const HandlerFactory& make_handler);

}  // namespace cc::fcgi
