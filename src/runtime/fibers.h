// Fibers: lightweight threads that one OS thread runs in turn, so a request can wait for
// Stripe without holding an OS thread (the worker's event loop, fcgi/server.cpp).
//
// A Scheduler belongs to one OS thread. Spawn() queues a function on a new fiber;
// RunReady() runs every ready fiber until it waits or ends. Inside a fiber, Park() waits
// until someone calls Wake() for it (the event loop, when the fiber's HTTP exchange has
// finished), ParkUntil() does the same with a deadline, and SleepFor() waits for a time. Everything
// else a fiber calls runs as usual and blocks the whole thread while it runs (a memcached round
// trip, a mutex), so fibers must never wait on a lock or condition that another fiber of the same
// thread would release: use Pause() for such waits.
//
// Stacks are 256 KiB with a guard page below, taken from a per-scheduler pool and reused,
// so a request costs no mmap; ReleaseIdleStacks() returns their pages when the loop idles.
// Sanitizer builds use ucontext with ASan's fiber annotations (BOOST_USE_UCONTEXT + BOOST_USE_ASAN,
// set by CMake).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>

namespace cc::fibers {

struct Fiber;
class StackPool;

class Scheduler {
 public:
  static constexpr size_t kStackBytes = size_t{256} << 10U;

  Scheduler();
  ~Scheduler();  // every fiber must have ended
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts fn on a new fiber at the next RunReady(). An exception escaping fn is logged
  // and ends the fiber.
  void Spawn(std::function<void()> fn);
  // Wakes sleepers that are due, then runs ready fibers until none is ready.
  void RunReady();
  [[nodiscard]] size_t live() const { return live_; }  // spawned and not ended
  [[nodiscard]] bool has_ready() const { return !ready_.empty(); }
  // Milliseconds until the first sleeper is due (0: due now), -1 when none sleeps.
  [[nodiscard]] int MillisToNextWake() const;
  // Gives the pages of the pooled stacks used since the last call back to the system;
  // the mappings stay, so the next fiber still costs no mmap (its first touch of a page
  // faults in a zeroed one). For a loop gone idle after a burst: its stacks would keep
  // every page they touched. Answers how many stacks it released.
  size_t ReleaseIdleStacks();

  // The fiber running on this thread, or nullptr outside any fiber.
  static Fiber* Current();
  // The current fiber waits until Wake(it). Returns at once outside a fiber. Callers
  // re-check what they wait for: a wake is only a hint.
  static void Park();
  // The current fiber waits until Wake(it) or `deadline`, whichever comes first (the
  // deadline is kept as a sleeper, so the loop's MillisToNextWake() covers it). Returns
  // false when the deadline passed first, true when woken before it; either way a hint,
  // as for Park(). Outside a fiber returns at once: whether `deadline` is still ahead.
  static bool ParkUntil(std::chrono::steady_clock::time_point deadline);
  // Makes a parked fiber ready; from its scheduler's thread only.
  static void Wake(Fiber* fiber);
  // The current fiber waits `delay`; outside a fiber the thread sleeps.
  static void SleepFor(std::chrono::milliseconds delay);

 private:
  friend struct Fiber;
  using Clock = std::chrono::steady_clock;

  std::unique_ptr<StackPool> stacks_;
  std::deque<Fiber*> ready_;
  std::multimap<Clock::time_point, Fiber*> sleepers_;
  size_t live_ = 0;
};

// Waits `delay` without holding the OS thread when called on a fiber.
inline void Pause(std::chrono::milliseconds delay) { Scheduler::SleepFor(delay); }

}  // namespace cc::fibers
