#include "runtime/fibers.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <exception>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "core/log.h"

#if defined(BOOST_USE_UCONTEXT)
// Sanitizer builds use Boost's header-only ucontext fibers, but their per-thread "current
// record" is defined in libboost_context, which Debian builds for fcontext only. This is
// the definition Boost's own src/fiber.cpp gives it: each thread starts in a record for
// its own (main) context.
namespace boost::context::detail {
fiber_activation_record*& fiber_activation_record::current() noexcept {
  thread_local std::unique_ptr<fiber_activation_record> main_record;
  thread_local fiber_activation_record* current_record = nullptr;
  if (current_record == nullptr) {
    main_record = std::make_unique<fiber_activation_record>();
    current_record = main_record.get();
  }
  return current_record;
}
}  // namespace boost::context::detail
#endif

namespace cc::fibers {

namespace ctx = boost::context;

// Stacks of finished fibers, kept for the next ones.
class StackPool {
 public:
  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() {
    for (ctx::stack_context& stack : free_) make_.deallocate(stack);
  }
  ctx::stack_context Take() {
    if (free_.empty()) return make_.allocate();
    ctx::stack_context stack = free_.back();
    free_.pop_back();
    clean_ = std::min(clean_, free_.size());
    return stack;
  }
  // The pages of the stacks used since the last call go back to the system; the mappings
  // stay. Stacks are taken and given last-in first-out, so those are the ones above clean_.
  size_t Release() noexcept {
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t released = 0;
    for (size_t i = clean_; i < free_.size(); ++i) {
      char* top = static_cast<char*>(free_[i].sp);
      char* bottom = top - free_[i].size + page;  // the guard page is the lowest
      if (madvise(bottom, static_cast<size_t>(top - bottom), MADV_DONTNEED) == 0) ++released;
    }
    clean_ = free_.size();
    return released;
  }
  void Give(const ctx::stack_context& stack) noexcept {
    try {
      free_.push_back(stack);
    } catch (...) {
      ctx::stack_context copy = stack;
      make_.deallocate(copy);
    }
  }

 private:
  ctx::protected_fixedsize_stack make_{Scheduler::kStackBytes};
  std::vector<ctx::stack_context> free_;
  size_t clean_ = 0;  // free_[0, clean_) hold no pages since their last Release()
};

namespace {

// Boost.Context's stack-allocator concept over the pool.
struct PooledStack {
  StackPool* pool;
  ctx::stack_context allocate() { return pool->Take(); }
  void deallocate(ctx::stack_context& stack) noexcept { pool->Give(stack); }
};

// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables): the running fiber
thread_local Fiber* t_current = nullptr;
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

}  // namespace

struct Fiber {
  Scheduler* scheduler = nullptr;
  std::function<void()> fn;
  ctx::fiber self;  // resumes this fiber
  ctx::fiber back;  // resumes the scheduler that runs it
  bool ready = false;
  bool sleeping = false;
};

Scheduler::Scheduler() : stacks_(std::make_unique<StackPool>()) {}

size_t Scheduler::ReleaseIdleStacks() { return stacks_->Release(); }

Scheduler::~Scheduler() {
  if (live_ != 0)
    log::Error("fiber scheduler destroyed with fibers alive",
               {log::Num("live", static_cast<int64_t>(live_))});
}

void Scheduler::Spawn(std::function<void()> fn) {
  auto fiber = std::make_unique<Fiber>();
  Fiber* raw = fiber.get();
  raw->scheduler = this;
  raw->fn = std::move(fn);
  raw->self = ctx::fiber(std::allocator_arg, PooledStack{stacks_.get()}, [raw](ctx::fiber&& back) {
    raw->back = std::move(back);
    try {
      raw->fn();
    } catch (const std::exception& e) {
      log::Error("fiber failed", {log::Str("error", e.what())});
    }
    raw->fn = nullptr;
    return std::move(raw->back);
  });
  raw->ready = true;
  ready_.push_back(fiber.release());
  ++live_;
}

void Scheduler::RunReady() {
  const auto now = Clock::now();
  while (!sleepers_.empty() && sleepers_.begin()->first <= now) {
    Fiber* due = sleepers_.begin()->second;
    sleepers_.erase(sleepers_.begin());
    due->sleeping = false;
    Wake(due);
  }
  while (!ready_.empty()) {
    Fiber* fiber = ready_.front();
    ready_.pop_front();
    fiber->ready = false;
    t_current = fiber;
    fiber->self = std::move(fiber->self).resume();
    t_current = nullptr;
    if (!fiber->self) {  // it returned: its stack is back in the pool
      delete fiber;      // NOLINT(cppcoreguidelines-owning-memory): owned from Spawn to its end
      --live_;
    }
  }
}

int Scheduler::MillisToNextWake() const {
  if (sleepers_.empty()) return -1;
  const auto left = sleepers_.begin()->first - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

Fiber* Scheduler::Current() { return t_current; }

void Scheduler::Park() {
  Fiber* fiber = t_current;
  if (fiber == nullptr) return;
  fiber->back = std::move(fiber->back).resume();
}

bool Scheduler::ParkUntil(Clock::time_point deadline) {
  Fiber* fiber = t_current;
  if (fiber == nullptr || deadline <= Clock::now()) return deadline > Clock::now();
  Scheduler& scheduler = *fiber->scheduler;
  const auto entry = scheduler.sleepers_.emplace(deadline, fiber);
  fiber->sleeping = true;
  Park();
  if (!fiber->sleeping) return false;  // RunReady found it due and removed it
  scheduler.sleepers_.erase(entry);    // woken first: the deadline no longer applies
  fiber->sleeping = false;
  return true;
}

void Scheduler::Wake(Fiber* fiber) {
  if (fiber->ready) return;
  fiber->ready = true;
  fiber->scheduler->ready_.push_back(fiber);
}

void Scheduler::SleepFor(std::chrono::milliseconds delay) {
  Fiber* fiber = t_current;
  if (fiber == nullptr) {
    std::this_thread::sleep_for(delay);
    return;
  }
  Scheduler& scheduler = *fiber->scheduler;
  scheduler.sleepers_.emplace(Clock::now() + delay, fiber);
  fiber->sleeping = true;
  while (fiber->sleeping) Park();
}

}  // namespace cc::fibers
