// EventLoop: one thread's epoll set. Owners watch file descriptors with a handler (the
// curl multi handle its transfers' sockets, the FastCGI server its listening socket, a
// future libpq connection its socket), one owner arms the loop's single timer (libcurl's
// CURLMOPT_TIMERFUNCTION), and Wait() sleeps until one of them is due, then calls its
// handler on the loop's thread.
//
// Threads: an EventLoop belongs to the thread that calls Wait(); everything but Wakeup()
// is called from that thread only (handlers run there, inside Wait() or RunTimerIfDue()).
// Wakeup() may be called from any thread while the loop exists. Handlers may watch,
// modify and unwatch any descriptor, their own included, and arm or disarm the timer;
// they must not call Wait(). A descriptor unwatched during a Wait() gets no further
// callback from that Wait(), even if its number is watched again meanwhile. The loop
// does not own watched descriptors or handlers: unwatch before closing or destroying
// them, and keep the loop alive until every owner has unwatched.
//
// Cost: a watch's slot lives in a table indexed by descriptor, so watching, waiting and
// dispatching allocate nothing once the table has grown to the highest descriptor seen.
//
// Failure: construction throws std::runtime_error if the epoll set or the eventfd cannot
// be made (start-up only). Watch/Modify/Unwatch return a kInternal Error naming the call
// and errno (a descriptor already watched, or not watched, is refused before any
// syscall). A handler's exception leaves Wait() with the loop consistent; the events not
// yet dispatched are reported again by the next Wait() (epoll is level-triggered).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/result.h"

namespace cc::runtime {

// A bit set: what a watch waits for, and what a handler is told is ready.
using Events = uint32_t;
inline constexpr Events kReadable = 1U << 0U;
inline constexpr Events kWritable = 1U << 1U;
// Reported only, whatever the interest: an error or hang-up on the descriptor.
inline constexpr Events kError = 1U << 2U;
// Interest only, Watch() only (epoll's EPOLLEXCLUSIVE): when several loops watch the same
// descriptor, one readiness (a new connection on a shared listening socket) wakes one of
// the loops that are waiting, not all of them. Such a watch cannot be modified.
inline constexpr Events kExclusive = 1U << 3U;

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;

  // Implemented by a descriptor's owner; called from Wait() with what is ready.
  class FdHandler {
   public:
    virtual ~FdHandler() = default;
    virtual void OnReady(int fd, Events ready) = 0;
  };

  // Implemented by the owner of the loop's timer; called once per arming, when it is due.
  class TimerHandler {
   public:
    virtual ~TimerHandler() = default;
    virtual void OnTimer() = 0;
  };

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  EventLoop(EventLoop&&) = delete;
  EventLoop& operator=(EventLoop&&) = delete;

  // Starts calling handler.OnReady(fd, …) when fd is ready for `interest` (kReadable,
  // kWritable, optionally kExclusive). Refused if fd is already watched by this loop.
  Status Watch(int fd, Events interest, FdHandler& handler);
  // Changes what a watched fd waits for; its handler stays. Refused for an exclusive watch.
  Status Modify(int fd, Events interest);
  // Stops watching fd; its handler is not called again, even for events already read.
  // Call it before closing fd (a closed fd leaves the epoll set by itself, but only once
  // no duplicate of it is open). Refused if fd is not watched; if epoll_ctl fails (fd
  // already closed) the watch is dropped all the same and the error returned.
  Status Unwatch(int fd);
  [[nodiscard]] bool watching(int fd) const;

  // The loop's one timer: handler.OnTimer() runs once, from Wait() or RunTimerIfDue(),
  // at or after `due`. Arming again replaces the deadline and handler.
  void ArmTimer(TimerHandler& handler, Clock::time_point due);
  void DisarmTimer();
  // Runs the timer's handler if it is armed and due; returns whether it ran.
  bool RunTimerIfDue();

  // Waits up to timeout_ms (-1: no limit; less when the timer is due sooner) for a
  // watched descriptor, the timer or Wakeup(); calls the handler of every ready
  // descriptor, then the timer's if due. Returns the number of handlers called.
  int Wait(int timeout_ms);
  // From any thread: ends the current or next Wait() early.
  void Wakeup() const;

  // On a fiber (runtime/fibers.h) of this loop's thread: watches fd for `interest`, parks
  // the fiber until fd is ready or `deadline` passes, unwatches it and returns what was
  // ready: 0 when the deadline passed first (nullopt: no deadline, the fiber waits as
  // long as fd stays quiet). Nobody else may unwatch fd meanwhile; an error or hang-up
  // ends the wait (kError). The deadline is a sleeper of the fiber's scheduler, so the
  // thread driving the loop must bound its Wait() by Scheduler::MillisToNextWake() (as
  // fcgi/server.cpp does). kInternal when called outside a fiber or when fd cannot be
  // watched (already watched, or refused by epoll).
  Result<Events> AwaitReady(int fd, Events interest,
                            std::optional<Clock::time_point> deadline = std::nullopt);

 private:
  // One watched descriptor. `generation` changes on every Watch() and travels in the
  // epoll event, so an event read for an earlier watch of the same number is dropped.
  struct Slot {
    FdHandler* handler = nullptr;
    Events interest = 0;
    uint32_t generation = 0;
  };

  void DrainWakeups() const;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<Slot> slots_;        // indexed by descriptor
  TimerHandler* timer_ = nullptr;  // armed when not null
  Clock::time_point timer_due_{};
};

}  // namespace cc::runtime
