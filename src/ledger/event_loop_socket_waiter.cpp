#include "ledger/event_loop_socket_waiter.h"

#include <chrono>
#include <optional>
#include <string>

#include "runtime/fibers.h"

namespace cc::ledger {

Status EventLoopSocketWaiter::Wait(int fd, bool for_write, int timeout_ms) {
  if (fibers::Scheduler::Current() == nullptr) {
    return outside_fibers_.Wait(fd, for_write, timeout_ms);
  }
  std::optional<runtime::EventLoop::Clock::time_point> deadline;
  if (timeout_ms >= 0) {
    deadline = runtime::EventLoop::Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  // libpq must be able to read while it writes (SocketWaiter): wait for either.
  const runtime::Events interest =
      for_write ? (runtime::kReadable | runtime::kWritable) : runtime::kReadable;
  auto ready = loop_.AwaitReady(fd, interest, deadline);
  if (!ready) {
    return Fail(ErrorKind::kUnavailable, "service_unavailable",
                "ledger socket wait failed: " + ready.error().message);
  }
  if (*ready == 0) {
    return Fail(ErrorKind::kDeadlineExceeded, "upstream_timeout",
                "ledger did not answer in " + std::to_string(timeout_ms) + " ms");
  }
  return Ok();  // readable, writable, or an error/hang-up: libpq finds out which
}

}  // namespace cc::ledger
