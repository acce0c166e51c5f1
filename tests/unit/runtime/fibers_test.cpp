#include "runtime/fibers.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cc::fibers {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

BOOST_AUTO_TEST_SUITE(runtime_fibers)

// Whether the page holding `address` is in memory.
bool Resident(const void* address) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(address) & ~(page - 1);
  unsigned char in = 0;
  BOOST_REQUIRE(mincore(reinterpret_cast<void*>(start), page, &in) == 0);
  return (in & 1U) != 0;
}

// A fiber that writes 64 KiB down its stack and notes the deepest address it wrote.
void Dig(std::vector<const void*>& deepest) {
  volatile char buffer[size_t{64} << 10U];
  for (size_t i = 0; i < sizeof buffer; i += 512) buffer[i] = 1;
  deepest.push_back(const_cast<const char*>(&buffer[0]));
}

BOOST_AUTO_TEST_CASE(an_idle_schedulers_stacks_give_their_pages_back_and_still_serve) {
  Scheduler scheduler;
  std::vector<const void*> deepest;
  for (int i = 0; i < 4; ++i) scheduler.Spawn([&] { Dig(deepest); });
  scheduler.RunReady();
  BOOST_REQUIRE(deepest.size() == 4U);
  for (const void* at : deepest) BOOST_TEST(Resident(at));
  BOOST_TEST(scheduler.ReleaseIdleStacks() == 4U);
  for (const void* at : deepest) BOOST_TEST(!Resident(at));
  BOOST_TEST(scheduler.ReleaseIdleStacks() == 0U);  // nothing used since
  // The stacks serve again; only the one used is released next time.
  scheduler.Spawn([&] { Dig(deepest); });
  scheduler.RunReady();
  BOOST_REQUIRE(deepest.size() == 5U);
  BOOST_TEST(Resident(deepest.back()));
  BOOST_TEST(scheduler.ReleaseIdleStacks() == 1U);
  BOOST_TEST(!Resident(deepest.back()));
}

BOOST_AUTO_TEST_CASE(a_spawned_fiber_runs_at_the_next_run_ready_and_ends) {
  Scheduler scheduler;
  int runs = 0;
  scheduler.Spawn([&] { ++runs; });
  BOOST_TEST(runs == 0);
  BOOST_TEST(scheduler.live() == 1U);
  scheduler.RunReady();
  BOOST_TEST(runs == 1);
  BOOST_TEST(scheduler.live() == 0U);
  BOOST_TEST(Scheduler::Current() == nullptr);
}

BOOST_AUTO_TEST_CASE(parked_fibers_resume_in_the_order_they_are_woken) {
  Scheduler scheduler;
  std::vector<Fiber*> parked(3, nullptr);
  std::vector<std::string> trace;
  for (int i = 0; i < 3; ++i) {
    scheduler.Spawn([&, i] {
      parked[static_cast<size_t>(i)] = Scheduler::Current();
      trace.push_back("park " + std::to_string(i));
      Scheduler::Park();
      trace.push_back("resume " + std::to_string(i));
    });
  }
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 3U);
  BOOST_TEST(!scheduler.has_ready());
  Scheduler::Wake(parked[2]);
  Scheduler::Wake(parked[0]);
  Scheduler::Wake(parked[0]);  // a second wake before it runs is one wake
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 1U);
  Scheduler::Wake(parked[1]);
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 0U);
  const std::vector<std::string> expected{"park 0",   "park 1",   "park 2",
                                          "resume 2", "resume 0", "resume 1"};
  BOOST_TEST(trace == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_fiber_keeps_its_own_stack_across_a_park) {
  Scheduler scheduler;
  std::vector<Fiber*> parked;
  std::vector<int> seen;
  for (int i = 0; i < 50; ++i) {
    scheduler.Spawn([&, i] {
      const int local = i * 7;  // lives on this fiber's stack
      parked.push_back(Scheduler::Current());
      Scheduler::Park();
      seen.push_back(local);
    });
  }
  scheduler.RunReady();
  for (Fiber* fiber : parked) Scheduler::Wake(fiber);
  scheduler.RunReady();
  BOOST_REQUIRE(seen.size() == 50U);
  for (size_t i = 0; i < seen.size(); ++i) BOOST_TEST(seen[i] == static_cast<int>(i) * 7);
}

BOOST_AUTO_TEST_CASE(sleep_for_wakes_after_its_delay_and_not_before) {
  Scheduler scheduler;
  BOOST_TEST(scheduler.MillisToNextWake() == -1);
  Clock::time_point woke{};
  const auto start = Clock::now();
  scheduler.Spawn([&] {
    Scheduler::SleepFor(milliseconds(30));
    woke = Clock::now();
  });
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 1U);
  const int left = scheduler.MillisToNextWake();
  BOOST_TEST((left > 0 && left <= 30), "ms to wake: " << left);
  scheduler.RunReady();  // not due yet: the fiber stays asleep
  BOOST_TEST(scheduler.live() == 1U);
  while (scheduler.live() > 0) {
    std::this_thread::sleep_for(milliseconds(std::max(scheduler.MillisToNextWake(), 1)));
    scheduler.RunReady();
  }
  BOOST_TEST((woke - start >= milliseconds(30)));
}

BOOST_AUTO_TEST_CASE(a_stray_wake_does_not_end_a_sleep_early) {
  Scheduler scheduler;
  Fiber* sleeper = nullptr;
  bool done = false;
  scheduler.Spawn([&] {
    sleeper = Scheduler::Current();
    Scheduler::SleepFor(milliseconds(20));
    done = true;
  });
  scheduler.RunReady();
  Scheduler::Wake(sleeper);
  scheduler.RunReady();
  BOOST_TEST(!done);
  std::this_thread::sleep_for(milliseconds(25));
  scheduler.RunReady();
  BOOST_TEST(done);
}

BOOST_AUTO_TEST_CASE(outside_a_fiber_pause_sleeps_the_thread_and_park_returns) {
  BOOST_TEST(Scheduler::Current() == nullptr);
  Scheduler::Park();  // nothing to park: returns at once
  const auto start = Clock::now();
  Pause(milliseconds(15));
  BOOST_TEST((Clock::now() - start >= milliseconds(15)));
}

BOOST_AUTO_TEST_CASE(an_exception_ends_only_its_fiber) {
  Scheduler scheduler;
  bool other_ran = false;
  scheduler.Spawn([] { throw std::runtime_error("boom"); });
  scheduler.Spawn([&] { other_ran = true; });
  scheduler.RunReady();
  BOOST_TEST(other_ran);
  BOOST_TEST(scheduler.live() == 0U);
}

BOOST_AUTO_TEST_CASE(stacks_are_reused_by_later_fibers) {
  Scheduler scheduler;
  const char* first = nullptr;
  const char* second = nullptr;
  scheduler.Spawn([&] {
    const char marker = 0;
    first = &marker;
  });
  scheduler.RunReady();
  scheduler.Spawn([&] {
    const char marker = 0;
    second = &marker;
  });
  scheduler.RunReady();
  BOOST_TEST(static_cast<const void*>(first) == static_cast<const void*>(second));
}

BOOST_AUTO_TEST_CASE(park_until_returns_false_at_its_deadline_and_true_when_woken_first) {
  Scheduler scheduler;
  std::vector<bool> woken_first;
  Fiber* second = nullptr;
  scheduler.Spawn(
      [&] { woken_first.push_back(Scheduler::ParkUntil(Clock::now() + milliseconds(20))); });
  scheduler.Spawn([&] {
    second = Scheduler::Current();
    woken_first.push_back(Scheduler::ParkUntil(Clock::now() + milliseconds(60000)));
  });
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 2U);
  Scheduler::Wake(second);
  scheduler.RunReady();
  BOOST_TEST(scheduler.live() == 1U);
  BOOST_TEST(scheduler.MillisToNextWake() <= 20);  // only the first one's deadline is left
  const auto start = Clock::now();
  while (scheduler.live() > 0 && Clock::now() - start < milliseconds(5000)) {
    std::this_thread::sleep_for(milliseconds(std::max(scheduler.MillisToNextWake(), 1)));
    scheduler.RunReady();
  }
  const std::vector<bool> expected{true, false};
  BOOST_TEST(woken_first == expected, boost::test_tools::per_element());
  BOOST_TEST(scheduler.MillisToNextWake() == -1);
  // Outside a fiber: at once, whether the deadline is ahead.
  BOOST_TEST(Scheduler::ParkUntil(Clock::now() + milliseconds(1000)));
  BOOST_TEST(!Scheduler::ParkUntil(Clock::now() - milliseconds(1)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::fibers
