// Tests for ledger/event_loop_socket_waiter.h: on a fiber the wait parks on the loop (its
// other fibers run) and honours the timeout; outside a fiber it is poll(2).
#include "ledger/event_loop_socket_waiter.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>

#include "runtime/event_loop.h"
#include "runtime/fibers.h"
#include "test_util.h"

namespace cc::ledger {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Pipe {
  Pipe() { BOOST_REQUIRE(pipe2(fds.data(), O_NONBLOCK | O_CLOEXEC) == 0); }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  Pipe(Pipe&&) = delete;
  Pipe& operator=(Pipe&&) = delete;
  [[nodiscard]] int read_end() const { return fds[0]; }
  void Write() const {
    const char byte = 'x';
    BOOST_REQUIRE(write(fds[1], &byte, 1) == 1);
  }
  std::array<int, 2> fds{-1, -1};
};

// Drives the loop as fcgi/server.cpp does until every fiber ended (or 5 s).
void Drive(runtime::EventLoop& loop, fibers::Scheduler& scheduler) {
  const auto start = Clock::now();
  scheduler.RunReady();
  while (scheduler.live() > 0 && Clock::now() - start < milliseconds(5000)) {
    const int next = scheduler.MillisToNextWake();
    (void)loop.Wait(next < 0 ? 100 : next);
    scheduler.RunReady();
  }
  BOOST_REQUIRE(scheduler.live() == 0U);
}

BOOST_AUTO_TEST_SUITE(ledger_event_loop_socket_waiter)

BOOST_AUTO_TEST_CASE(outside_a_fiber_it_polls_and_times_out) {
  runtime::EventLoop loop;
  EventLoopSocketWaiter waiter(loop);
  Pipe pipe;
  const auto start = Clock::now();
  auto quiet = waiter.Wait(pipe.read_end(), false, 30);
  REQUIRE_ERROR(quiet);
  BOOST_TEST((quiet.error().kind == ErrorKind::kDeadlineExceeded));
  BOOST_TEST((Clock::now() - start >= milliseconds(25)));  // poll(2) may round down a little
  pipe.Write();
  REQUIRE_OK(waiter.Wait(pipe.read_end(), false, 1000));
  BOOST_TEST(!loop.watching(pipe.read_end()));  // the loop was never involved
}

BOOST_AUTO_TEST_CASE(on_a_fiber_it_parks_until_ready_while_other_fibers_run) {
  runtime::EventLoop loop;
  fibers::Scheduler scheduler;
  EventLoopSocketWaiter waiter(loop);
  Pipe pipe;
  std::optional<Status> outcome;
  bool written = false;
  scheduler.Spawn([&] { outcome = waiter.Wait(pipe.read_end(), false, -1); });
  scheduler.Spawn([&] {
    fibers::Pause(milliseconds(10));
    BOOST_TEST(!outcome.has_value());  // still parked, and this fiber got the thread
    BOOST_TEST(loop.watching(pipe.read_end()));
    pipe.Write();
    written = true;
  });
  Drive(loop, scheduler);
  BOOST_TEST(written);
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_OK(*outcome);
  BOOST_TEST(!loop.watching(pipe.read_end()));
}

BOOST_AUTO_TEST_CASE(on_a_fiber_a_quiet_socket_times_out_without_blocking_the_loop) {
  runtime::EventLoop loop;
  fibers::Scheduler scheduler;
  EventLoopSocketWaiter waiter(loop);
  Pipe pipe;
  std::optional<Status> outcome;
  int ticks = 0;
  const auto start = Clock::now();
  scheduler.Spawn([&] { outcome = waiter.Wait(pipe.read_end(), true, 50); });
  scheduler.Spawn([&] {
    while (!outcome.has_value()) {
      ++ticks;
      fibers::Pause(milliseconds(5));
    }
  });
  // A pipe's read end is never writable: for_write waits for readable or writable.
  Drive(loop, scheduler);
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_ERROR(*outcome);
  BOOST_TEST((outcome->error().kind == ErrorKind::kDeadlineExceeded));
  BOOST_TEST(outcome->error().code == "upstream_timeout");
  BOOST_TEST((Clock::now() - start >= milliseconds(50)));
  BOOST_TEST(ticks >= 3);
  BOOST_TEST(!loop.watching(pipe.read_end()));
}

BOOST_AUTO_TEST_CASE(a_socket_the_loop_cannot_watch_is_unavailable) {
  runtime::EventLoop loop;
  fibers::Scheduler scheduler;
  EventLoopSocketWaiter waiter(loop);
  std::optional<Status> outcome;
  scheduler.Spawn([&] { outcome = waiter.Wait(-1, false, 100); });
  Drive(loop, scheduler);
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_ERROR(*outcome);
  BOOST_TEST((outcome->error().kind == ErrorKind::kUnavailable));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::ledger
