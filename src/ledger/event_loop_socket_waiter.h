// EventLoopSocketWaiter: the worker's SocketWaiter — a fiber waiting for PostgreSQL parks
// on its event loop instead of blocking the loop's thread.
//
// Wait() called on a fiber of the loop's thread parks that fiber with
// runtime::EventLoop::AwaitReady (the descriptor is watched only for the wait) until the
// socket is ready or timeout_ms passes; the loop keeps serving its other fibers meanwhile.
// The timeout is a deadline on the fiber's scheduler (fibers::Scheduler::ParkUntil), so
// PgLedger's connect and statement timeouts hold on the loop as they do with poll(2): a
// hung PostgreSQL parks a fiber for at most that long, never forever. Called outside a
// fiber (start-up, tools, a test's main thread) it blocks in poll(2) like
// PollSocketWaiter.
// Failures as SocketWaiter says: kDeadlineExceeded on timeout, kUnavailable when the
// socket cannot be waited on (epoll refused it).
// Thread-safety: one per event loop, used only from that loop's thread (its fibers); a
// descriptor may be waited on by one fiber at a time (PgLedger makes one call at a time;
// SerialLedger queues its callers).
#pragma once

#include "ledger/socket_waiter.h"
#include "runtime/event_loop.h"

namespace cc::ledger {

class EventLoopSocketWaiter final : public SocketWaiter {
 public:
  // `loop` must outlive this object and be the loop of the thread whose fibers call Wait().
  explicit EventLoopSocketWaiter(runtime::EventLoop& loop) : loop_(loop) {}

  Status Wait(int fd, bool for_write, int timeout_ms) override;

 private:
  runtime::EventLoop& loop_;
  PollSocketWaiter outside_fibers_;
};

}  // namespace cc::ledger
