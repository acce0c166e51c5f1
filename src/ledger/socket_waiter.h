// SocketWaiter: how the libpq adapter waits for its socket — the seam between the ledger
// and whoever owns the thread.
//
// PgConnection drives libpq's asynchronous API and, whenever libpq needs the socket,
// calls Wait(). In the worker, an implementation on the process's event loop parks the
// calling fiber until the loop sees the socket ready (so a slow query blocks one request,
// not the loop); tools and tests use PollSocketWaiter, which blocks the calling thread in
// poll(2).
// Wait() returns Ok once `fd` is readable (for_write false), or writable or readable
// (for_write true: libpq must read while it writes, or a server that answers early could
// deadlock a large send); kDeadlineExceeded when timeout_ms (≥ 0) passes first, -1 = no
// limit; kUnavailable when the wait itself fails (the socket closed under it). Spurious
// wake-ups are allowed: the caller re-checks with libpq.
// PollSocketWaiter is stateless and thread-safe.
#pragma once

#include "core/result.h"

namespace cc::ledger {

class SocketWaiter {
 public:
  virtual ~SocketWaiter() = default;
  virtual Status Wait(int fd, bool for_write, int timeout_ms) = 0;
};

class PollSocketWaiter final : public SocketWaiter {
 public:
  Status Wait(int fd, bool for_write, int timeout_ms) override;
};

}  // namespace cc::ledger
