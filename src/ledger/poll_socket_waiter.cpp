#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

#include "ledger/socket_waiter.h"

namespace cc::ledger {

Status PollSocketWaiter::Wait(int fd, bool for_write, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  pollfd p{};
  p.fd = fd;
  p.events = static_cast<short>(  // NOLINT(google-runtime-int): pollfd's type
      for_write ? (POLLIN | POLLOUT) : POLLIN);
  for (;;) {
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    const int n = poll(&p, 1, wait_ms);
    if (n > 0) return Ok();  // readable, writable, or HUP/ERR: libpq finds out which
    if (n == 0) {
      return Fail(ErrorKind::kDeadlineExceeded, "upstream_timeout",
                  "ledger did not answer in " + std::to_string(timeout_ms) + " ms");
    }
    if (errno != EINTR) {
      return Fail(ErrorKind::kUnavailable, "service_unavailable",
                  "ledger socket wait failed: " +
                      std::error_code(errno, std::generic_category()).message());
    }
  }
}

}  // namespace cc::ledger
