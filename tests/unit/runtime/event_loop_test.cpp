#include "runtime/event_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/fibers.h"
#include "test_util.h"

namespace cc::runtime {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Closes the descriptor it owns (unless released).
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe MakePipe() {
  std::array<int, 2> fds{-1, -1};
  BOOST_REQUIRE(pipe2(fds.data(), O_NONBLOCK | O_CLOEXEC) == 0);
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void WriteByte(int fd) {
  const char byte = 'x';
  BOOST_REQUIRE(write(fd, &byte, 1) == 1);
}

// Records every call; runs `then` (if any) inside the call.
class Recorder final : public EventLoop::FdHandler {
 public:
  Recorder() = default;
  explicit Recorder(std::function<void(int, Events)> then) : then_(std::move(then)) {}
  void OnReady(int fd, Events ready) override {
    calls_.emplace_back(fd, ready);
    if (then_) then_(fd, ready);
  }
  [[nodiscard]] const std::vector<std::pair<int, Events>>& calls() const { return calls_; }

 private:
  std::function<void(int, Events)> then_;
  std::vector<std::pair<int, Events>> calls_;
};

class TimerRecorder final : public EventLoop::TimerHandler {
 public:
  explicit TimerRecorder(std::function<void()> then = {}) : then_(std::move(then)) {}
  void OnTimer() override {
    ++runs_;
    if (then_) then_();
  }
  [[nodiscard]] int runs() const { return runs_; }

 private:
  std::function<void()> then_;
  int runs_ = 0;
};

milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// Whether thread `tid` of this process sleeps inside epoll_wait (or epoll_pwait/pwait2);
// nullopt when /proc does not say.
std::optional<bool> InEpollWait(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  if (!(in >> first)) return std::nullopt;
  return first == std::to_string(SYS_epoll_wait) || first == std::to_string(SYS_epoll_pwait) ||
         first == "441";  // epoll_pwait2
}

// A non-blocking TCP socket listening on 127.0.0.1 (an ephemeral port).
Fd ListenOnLoopback(sockaddr_in* address) {
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  BOOST_REQUIRE(listener.get() >= 0);
  *address = sockaddr_in{};
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  auto* raw = reinterpret_cast<sockaddr*>(address);
  socklen_t length = sizeof *address;
  BOOST_REQUIRE(bind(listener.get(), raw, length) == 0);
  BOOST_REQUIRE(listen(listener.get(), 16) == 0);
  BOOST_REQUIRE(getsockname(listener.get(), raw, &length) == 0);
  return listener;
}

BOOST_AUTO_TEST_SUITE(runtime_event_loop)

BOOST_AUTO_TEST_CASE(a_pipe_becoming_readable_runs_its_handler) {
  EventLoop loop;
  Pipe pipe = MakePipe();
  Recorder recorder;
  REQUIRE_OK(loop.Watch(pipe.read.get(), kReadable, recorder));
  BOOST_TEST(loop.watching(pipe.read.get()));
  BOOST_TEST(loop.Wait(0) == 0);
  BOOST_TEST(recorder.calls().empty());
  WriteByte(pipe.write.get());
  BOOST_TEST(loop.Wait(1000) == 1);
  BOOST_REQUIRE(recorder.calls().size() == 1U);
  BOOST_TEST(recorder.calls()[0].first == pipe.read.get());
  BOOST_TEST(recorder.calls()[0].second == kReadable);
  BOOST_TEST(loop.Wait(0) == 1);  // level-triggered: still readable, called again
  REQUIRE_OK(loop.Unwatch(pipe.read.get()));
}

BOOST_AUTO_TEST_CASE(an_eventfd_becoming_readable_runs_its_handler) {
  EventLoop loop;
  Fd event(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  BOOST_REQUIRE(event.get() >= 0);
  Recorder recorder([&](int fd, Events) {
    eventfd_t count = 0;
    BOOST_TEST(eventfd_read(fd, &count) == 0);
    BOOST_TEST(count == 2U);
  });
  REQUIRE_OK(loop.Watch(event.get(), kReadable, recorder));
  BOOST_REQUIRE(eventfd_write(event.get(), 2) == 0);
  BOOST_TEST(loop.Wait(1000) == 1);
  BOOST_TEST(loop.Wait(0) == 0);  // drained by the handler
  BOOST_TEST(recorder.calls().size() == 1U);
  REQUIRE_OK(loop.Unwatch(event.get()));
}

BOOST_AUTO_TEST_CASE(modify_changes_the_interest_and_unwatch_stops_the_calls) {
  EventLoop loop;
  Pipe pipe = MakePipe();
  Recorder recorder;
  const int fd = pipe.write.get();  // always writable, never readable
  REQUIRE_OK(loop.Watch(fd, kReadable, recorder));
  BOOST_TEST(loop.Wait(0) == 0);
  REQUIRE_OK(loop.Modify(fd, kReadable | kWritable));
  BOOST_TEST(loop.Wait(0) == 1);
  BOOST_REQUIRE(recorder.calls().size() == 1U);
  BOOST_TEST(recorder.calls()[0].second == kWritable);
  REQUIRE_OK(loop.Modify(fd, kReadable));
  BOOST_TEST(loop.Wait(0) == 0);
  REQUIRE_OK(loop.Modify(fd, kWritable));
  REQUIRE_OK(loop.Unwatch(fd));
  BOOST_TEST(!loop.watching(fd));
  BOOST_TEST(loop.Wait(0) == 0);
  BOOST_TEST(recorder.calls().size() == 1U);
}

BOOST_AUTO_TEST_CASE(watching_twice_or_changing_an_unwatched_descriptor_is_refused) {
  EventLoop loop;
  Pipe pipe = MakePipe();
  Recorder recorder;
  REQUIRE_ERROR(loop.Modify(pipe.read.get(), kReadable));
  REQUIRE_ERROR(loop.Unwatch(pipe.read.get()));
  REQUIRE_ERROR(loop.Watch(-1, kReadable, recorder));
  REQUIRE_OK(loop.Watch(pipe.read.get(), kReadable, recorder));
  const Status again = loop.Watch(pipe.read.get(), kReadable, recorder);
  REQUIRE_ERROR(again);
  BOOST_TEST((again.error().kind == ErrorKind::kInternal));
  BOOST_TEST(again.error().message.find("already watched") != std::string::npos);
  REQUIRE_OK(loop.Unwatch(pipe.read.get()));
  REQUIRE_ERROR(loop.Unwatch(pipe.read.get()));
}

BOOST_AUTO_TEST_CASE(a_descriptor_that_epoll_refuses_is_reported_with_errno) {
  EventLoop loop;
  Recorder recorder;
  Fd file(open("/proc/self/status", O_RDONLY | O_CLOEXEC));  // regular files: EPERM
  BOOST_REQUIRE(file.get() >= 0);
  const Status watched = loop.Watch(file.get(), kReadable, recorder);
  REQUIRE_ERROR(watched);
  BOOST_TEST(watched.error().message.find("epoll_ctl(ADD)") != std::string::npos);
  BOOST_TEST(!loop.watching(file.get()));
}

BOOST_AUTO_TEST_CASE(descriptors_above_the_initial_table_are_watched) {
  EventLoop loop;
  Pipe pipe = MakePipe();
  Fd high(fcntl(pipe.read.get(), F_DUPFD_CLOEXEC, 300));
  BOOST_REQUIRE(high.get() >= 300);
  Recorder recorder;
  REQUIRE_OK(loop.Watch(high.get(), kReadable, recorder));
  WriteByte(pipe.write.get());
  BOOST_TEST(loop.Wait(1000) == 1);
  BOOST_REQUIRE(recorder.calls().size() == 1U);
  BOOST_TEST(recorder.calls()[0].first == high.get());
  REQUIRE_OK(loop.Unwatch(high.get()));
}

BOOST_AUTO_TEST_CASE(wakeup_from_another_thread_ends_a_wait_early) {
  EventLoop loop;
  const auto start = Clock::now();
  std::thread waker([&loop] {
    std::this_thread::sleep_for(milliseconds(50));
    loop.Wakeup();
  });
  const int called = loop.Wait(10000);
  waker.join();
  BOOST_TEST(called == 0);  // the wake-up is the loop's own, no handler runs
  BOOST_TEST(Since(start) >= milliseconds(40));
  BOOST_TEST(Since(start) < milliseconds(5000));
  // A wake-up before the Wait ends the next one at once; it is consumed by it.
  loop.Wakeup();
  loop.Wakeup();
  const auto second = Clock::now();
  BOOST_TEST(loop.Wait(10000) == 0);
  BOOST_TEST(Since(second) < milliseconds(5000));
  const auto third = Clock::now();
  BOOST_TEST(loop.Wait(30) == 0);
  BOOST_TEST(Since(third) >= milliseconds(25));
}

BOOST_AUTO_TEST_CASE(the_timer_deadline_shortens_wait_and_runs_once) {
  EventLoop loop;
  TimerRecorder timer;
  const auto start = Clock::now();
  loop.ArmTimer(timer, start + milliseconds(40));
  BOOST_TEST(!loop.RunTimerIfDue());  // not yet due
  BOOST_TEST(loop.Wait(10000) == 1);
  BOOST_TEST(timer.runs() == 1);
  BOOST_TEST(Since(start) >= milliseconds(40));
  BOOST_TEST(Since(start) < milliseconds(5000));
  BOOST_TEST(loop.Wait(0) == 0);  // it ran: disarmed
  BOOST_TEST(timer.runs() == 1);
}

BOOST_AUTO_TEST_CASE(a_timer_due_now_runs_without_waiting_and_disarm_cancels_it) {
  EventLoop loop;
  TimerRecorder timer;
  loop.ArmTimer(timer, Clock::now());
  BOOST_TEST(loop.RunTimerIfDue());
  BOOST_TEST(timer.runs() == 1);
  BOOST_TEST(!loop.RunTimerIfDue());
  loop.ArmTimer(timer, Clock::now() + milliseconds(10));
  loop.DisarmTimer();
  const auto start = Clock::now();
  BOOST_TEST(loop.Wait(40) == 0);
  BOOST_TEST(Since(start) >= milliseconds(35));  // the full timeout: no timer shortened it
  BOOST_TEST(timer.runs() == 1);
}

BOOST_AUTO_TEST_CASE(a_timer_handler_may_arm_the_timer_again) {
  EventLoop loop;
  TimerRecorder* self = nullptr;
  TimerRecorder timer([&] {
    if (self->runs() < 3) loop.ArmTimer(*self, Clock::now());
  });
  self = &timer;
  loop.ArmTimer(timer, Clock::now());
  for (int i = 0; i < 5; ++i) (void)loop.Wait(0);
  BOOST_TEST(timer.runs() == 3);
}

BOOST_AUTO_TEST_CASE(a_handler_that_unwatches_its_own_fd_during_dispatch_is_safe) {
  EventLoop loop;
  Pipe pipe = MakePipe();
  Recorder recorder([&](int fd, Events) {
    REQUIRE_OK(loop.Unwatch(fd));
    pipe.read.Reset();  // and closes it, as libcurl does with a finished connection
  });
  REQUIRE_OK(loop.Watch(pipe.read.get(), kReadable, recorder));
  WriteByte(pipe.write.get());
  BOOST_TEST(loop.Wait(1000) == 1);
  BOOST_TEST(loop.Wait(0) == 0);
  BOOST_TEST(recorder.calls().size() == 1U);
}

// Two descriptors ready in one batch: the first one's handler unwatches the second,
// closes it and watches a new descriptor under the same number. The second's event,
// already read from epoll, reaches neither its old handler nor the new one.
BOOST_AUTO_TEST_CASE(an_event_for_a_descriptor_unwatched_earlier_in_the_batch_is_dropped) {
  EventLoop loop;
  Pipe first = MakePipe();
  Pipe second = MakePipe();
  Fd replacement;
  Recorder second_handler;
  Recorder replacement_handler;
  Recorder first_handler([&](int, Events) {
    const int number = second.read.get();
    REQUIRE_OK(loop.Unwatch(number));
    second.read.Reset();
    Fd fresh(eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));  // readable at once
    BOOST_REQUIRE(fresh.get() >= 0);
    if (fresh.get() == number) {  // the lowest free number: usually the one just closed
      replacement = std::move(fresh);
    } else {
      BOOST_REQUIRE(dup3(fresh.get(), number, O_CLOEXEC) == number);
      replacement = Fd(number);
    }
    REQUIRE_OK(loop.Watch(number, kReadable, replacement_handler));
  });
  REQUIRE_OK(loop.Watch(first.read.get(), kReadable, first_handler));
  REQUIRE_OK(loop.Watch(second.read.get(), kReadable, second_handler));
  WriteByte(first.write.get());  // epoll reports in the order they became ready
  WriteByte(second.write.get());
  BOOST_TEST(loop.Wait(1000) == 1);
  BOOST_TEST(first_handler.calls().size() == 1U);
  BOOST_TEST(second_handler.calls().empty());
  BOOST_TEST(replacement_handler.calls().empty());
  REQUIRE_OK(loop.Unwatch(first.read.get()));
  BOOST_TEST(loop.Wait(1000) == 1);  // the new watch's own readiness
  BOOST_TEST(replacement_handler.calls().size() == 1U);
  REQUIRE_OK(loop.Unwatch(replacement.get()));
}

BOOST_AUTO_TEST_CASE(an_exclusive_watch_cannot_be_modified) {
  EventLoop loop;
  sockaddr_in address{};
  Fd listener = ListenOnLoopback(&address);
  Recorder recorder;
  REQUIRE_OK(loop.Watch(listener.get(), kReadable | kExclusive, recorder));
  REQUIRE_ERROR(loop.Modify(listener.get(), kReadable));
  REQUIRE_OK(loop.Unwatch(listener.get()));
  REQUIRE_OK(loop.Watch(listener.get(), kReadable, recorder));
  REQUIRE_ERROR(loop.Modify(listener.get(), kReadable | kExclusive));
  REQUIRE_OK(loop.Unwatch(listener.get()));
}

// Two loops on two threads watch one listening socket with kExclusive, as the worker's
// loops watch the FastCGI socket: both watches are accepted, and one connection wakes
// one of the two waiting loops.
BOOST_AUTO_TEST_CASE(one_connection_wakes_one_of_two_loops_watching_exclusively) {
  sockaddr_in address{};
  Fd listener = ListenOnLoopback(&address);
  std::array<EventLoop, 2> loops;
  std::array<std::atomic<pid_t>, 2> tids{};
  std::array<std::atomic<int>, 2> woken{};
  std::atomic<int> accepted{0};
  auto run = [&](size_t i) {
    Recorder on_connection([&](int fd, Events) {
      const int connection = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (connection >= 0) {
        ++accepted;
        close(connection);
      }
    });
    REQUIRE_OK(loops[i].Watch(listener.get(), kReadable | kExclusive, on_connection));
    tids[i] = gettid();
    while (accepted.load() == 0 && woken[i].load() == 0) {
      (void)loops[i].Wait(5000);
      if (!on_connection.calls().empty()) woken[i] = static_cast<int>(on_connection.calls().size());
    }
    REQUIRE_OK(loops[i].Unwatch(listener.get()));
  };
  std::thread a(run, 0);
  std::thread b(run, 1);
  // Connect only once both threads sleep in epoll_wait (when /proc can tell).
  bool both_waiting = false;
  bool known = true;
  const auto start = Clock::now();
  while (!both_waiting && known && Since(start) < milliseconds(5000)) {
    std::this_thread::sleep_for(milliseconds(5));
    if (tids[0] == 0 || tids[1] == 0) continue;
    const auto first = InEpollWait(tids[0]);
    const auto second = InEpollWait(tids[1]);
    known = first.has_value() && second.has_value();
    both_waiting = known && *first && *second;
  }
  if (!known) std::this_thread::sleep_for(milliseconds(100));
  Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  BOOST_REQUIRE(client.get() >= 0);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  BOOST_REQUIRE(connect(client.get(), raw, sizeof address) == 0);
  while (accepted.load() == 0 && Since(start) < milliseconds(10000)) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  std::this_thread::sleep_for(milliseconds(50));  // room for a second (wrong) wake-up
  for (EventLoop& loop : loops) loop.Wakeup();
  a.join();
  b.join();
  BOOST_TEST(accepted.load() == 1);
  const int loops_woken = (woken[0] > 0 ? 1 : 0) + (woken[1] > 0 ? 1 : 0);
  if (both_waiting) {
    BOOST_TEST(loops_woken == 1);
  } else {
    BOOST_TEST_MESSAGE("could not see both threads in epoll_wait; checked only that one woke");
    BOOST_TEST(loops_woken >= 1);
  }
}

BOOST_AUTO_TEST_CASE(a_fiber_parked_on_the_loop_resumes_when_its_fd_is_ready) {
  EventLoop loop;
  fibers::Scheduler scheduler;
  Pipe pipe = MakePipe();
  std::optional<Result<Events>> outcome;
  scheduler.Spawn([&] { outcome = loop.AwaitReady(pipe.read.get(), kReadable); });
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 1U);  // parked
  BOOST_TEST(loop.watching(pipe.read.get()));
  BOOST_TEST(loop.Wait(0) == 0);
  scheduler.RunReady();
  BOOST_TEST(!outcome.has_value());
  WriteByte(pipe.write.get());
  BOOST_TEST(loop.Wait(1000) == 1);
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 0U);
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_OK(*outcome);
  BOOST_TEST(**outcome == kReadable);
  BOOST_TEST(!loop.watching(pipe.read.get()));  // unwatched on the way out
}

BOOST_AUTO_TEST_CASE(a_fiber_parked_on_the_loop_sees_a_hang_up) {
  EventLoop loop;
  fibers::Scheduler scheduler;
  Pipe pipe = MakePipe();
  std::optional<Result<Events>> outcome;
  scheduler.Spawn([&] { outcome = loop.AwaitReady(pipe.read.get(), kReadable); });
  scheduler.RunReady();
  pipe.write.Reset();  // the peer goes away
  BOOST_TEST(loop.Wait(1000) == 1);
  scheduler.RunReady();
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_OK(*outcome);
  BOOST_TEST((**outcome & kError) != 0U);
}

BOOST_AUTO_TEST_CASE(await_ready_outside_a_fiber_or_on_a_watched_fd_is_refused) {
  EventLoop loop;
  Pipe pipe = MakePipe();
  REQUIRE_ERROR(loop.AwaitReady(pipe.read.get(), kReadable));
  Recorder recorder;
  REQUIRE_OK(loop.Watch(pipe.read.get(), kReadable, recorder));
  fibers::Scheduler scheduler;
  std::optional<Result<Events>> outcome;
  scheduler.Spawn([&] { outcome = loop.AwaitReady(pipe.read.get(), kReadable); });
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 0U);  // did not park
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_ERROR(*outcome);
  BOOST_TEST(loop.watching(pipe.read.get()));  // the other watch is untouched
  REQUIRE_OK(loop.Unwatch(pipe.read.get()));
}

// The deadline: a quiet descriptor ends the wait with no events once it passes, and the
// loop's other fibers ran meanwhile (the thread was never blocked).
BOOST_AUTO_TEST_CASE(a_fiber_parked_with_a_deadline_resumes_empty_handed_when_it_passes) {
  EventLoop loop;
  fibers::Scheduler scheduler;
  Pipe pipe = MakePipe();
  std::optional<Result<Events>> outcome;
  int others = 0;
  const auto start = Clock::now();
  scheduler.Spawn([&] {
    outcome = loop.AwaitReady(pipe.read.get(), kReadable, Clock::now() + milliseconds(40));
  });
  scheduler.Spawn([&] {
    for (int i = 0; i < 3; ++i) {
      ++others;
      fibers::Pause(milliseconds(5));
    }
  });
  while (scheduler.live() > 0 && Since(start) < milliseconds(5000)) {
    const int next = scheduler.MillisToNextWake();
    (void)loop.Wait(next < 0 ? 1000 : next);  // as fcgi/server.cpp bounds it
    scheduler.RunReady();
  }
  BOOST_TEST(scheduler.live() == 0U);
  BOOST_TEST(others == 3);
  BOOST_TEST(Since(start) >= milliseconds(40));
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_OK(*outcome);
  BOOST_TEST(**outcome == 0U);
  BOOST_TEST(!loop.watching(pipe.read.get()));
  BOOST_TEST(scheduler.MillisToNextWake() == -1);  // no sleeper left behind
}

BOOST_AUTO_TEST_CASE(a_fiber_parked_with_a_deadline_resumes_when_ready_and_drops_its_deadline) {
  EventLoop loop;
  fibers::Scheduler scheduler;
  Pipe pipe = MakePipe();
  std::optional<Result<Events>> outcome;
  scheduler.Spawn([&] {
    outcome = loop.AwaitReady(pipe.read.get(), kReadable, Clock::now() + milliseconds(60000));
  });
  scheduler.RunReady();
  BOOST_TEST(scheduler.MillisToNextWake() > 0);  // the deadline is a sleeper
  WriteByte(pipe.write.get());
  BOOST_TEST(loop.Wait(1000) == 1);
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 0U);
  BOOST_REQUIRE(outcome.has_value());
  REQUIRE_OK(*outcome);
  BOOST_TEST(**outcome == kReadable);
  BOOST_TEST(scheduler.MillisToNextWake() == -1);  // removed when woken first
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::runtime
