#include "runtime/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <stdexcept>
#include <string>
#include <system_error>

#include "runtime/fibers.h"

namespace cc::runtime {
namespace {

// epoll_event.data of the eventfd; a watch's is its descriptor (low 32 bits) and its
// slot's generation (high 32 bits), and no descriptor is 0xFFFFFFFF.
constexpr uint64_t kWakeTag = ~uint64_t{0};
constexpr int kMaxEvents = 64;  // per epoll_wait(); more stay ready for the next Wait()
constexpr size_t kInitialSlots = 64;

uint64_t Tag(int fd, uint32_t generation) {
  return (uint64_t{generation} << 32U) | static_cast<uint32_t>(fd);
}

uint32_t ToEpoll(Events interest) {
  uint32_t events = 0;
  if ((interest & kReadable) != 0) events |= EPOLLIN;
  if ((interest & kWritable) != 0) events |= EPOLLOUT;
  if ((interest & kExclusive) != 0) events |= EPOLLEXCLUSIVE;
  return events;
}

Events FromEpoll(uint32_t events) {
  Events ready = 0;
  if ((events & EPOLLIN) != 0) ready |= kReadable;
  if ((events & EPOLLOUT) != 0) ready |= kWritable;
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) ready |= kError;
  return ready;
}

Error SyscallError(const char* call, int fd, int error) {
  return MakeError(ErrorKind::kInternal, "internal_error",
                   std::string(call) + " failed for fd " + std::to_string(fd) + ": " +
                       std::system_category().message(error));
}

Error Refused(const char* what, int fd) {
  return MakeError(ErrorKind::kInternal, "internal_error",
                   std::string(what) + " (fd " + std::to_string(fd) + ")");
}

}  // namespace

EventLoop::EventLoop()
    : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      slots_(kInitialSlots) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeTag;
  if (epoll_fd_ < 0 || wake_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    const int error = errno;
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    throw std::runtime_error("cannot create the event loop's epoll set or eventfd: " +
                             std::system_category().message(error));
  }
}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

bool EventLoop::watching(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < slots_.size() &&
         slots_[static_cast<size_t>(fd)].handler != nullptr;
}

Status EventLoop::Watch(int fd, Events interest, FdHandler& handler) {
  if (fd < 0) return Fail(Refused("cannot watch a negative descriptor", fd));
  const auto index = static_cast<size_t>(fd);
  if (index >= slots_.size()) slots_.resize(std::max(index + 1, 2 * slots_.size()));
  Slot& slot = slots_[index];
  if (slot.handler != nullptr) return Fail(Refused("descriptor already watched", fd));
  epoll_event event{};
  event.events = ToEpoll(interest);
  event.data.u64 = Tag(fd, slot.generation + 1);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return Fail(SyscallError("epoll_ctl(ADD)", fd, errno));
  }
  ++slot.generation;
  slot.handler = &handler;
  slot.interest = interest;
  return Ok();
}

Status EventLoop::Modify(int fd, Events interest) {
  if (!watching(fd)) return Fail(Refused("cannot modify a descriptor not watched", fd));
  Slot& slot = slots_[static_cast<size_t>(fd)];
  if (((slot.interest | interest) & kExclusive) != 0) {
    return Fail(Refused("an exclusive watch cannot be modified", fd));
  }
  if (interest == slot.interest) return Ok();
  epoll_event event{};
  event.events = ToEpoll(interest);
  event.data.u64 = Tag(fd, slot.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    return Fail(SyscallError("epoll_ctl(MOD)", fd, errno));
  }
  slot.interest = interest;
  return Ok();
}

Status EventLoop::Unwatch(int fd) {
  if (!watching(fd)) return Fail(Refused("cannot unwatch a descriptor not watched", fd));
  Slot& slot = slots_[static_cast<size_t>(fd)];
  slot.handler = nullptr;  // freed whatever epoll says: events already read are dropped
  slot.interest = 0;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr) != 0) {
    return Fail(SyscallError("epoll_ctl(DEL)", fd, errno));
  }
  return Ok();
}

void EventLoop::ArmTimer(TimerHandler& handler, Clock::time_point due) {
  timer_ = &handler;
  timer_due_ = due;
}

void EventLoop::DisarmTimer() { timer_ = nullptr; }

bool EventLoop::RunTimerIfDue() {
  if (timer_ == nullptr || Clock::now() < timer_due_) return false;
  TimerHandler* handler = timer_;
  timer_ = nullptr;  // the handler may arm it again
  handler->OnTimer();
  return true;
}

int EventLoop::Wait(int timeout_ms) {
  if (timer_ != nullptr) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(timer_due_ - Clock::now());
    const int due_in = static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
    timeout_ms = timeout_ms < 0 ? due_in : std::min(timeout_ms, due_in);
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): epoll_wait fills what it returns
  std::array<epoll_event, kMaxEvents> events;
  const int n = epoll_wait(epoll_fd_, events.data(), kMaxEvents, timeout_ms);
  int called = 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = events[static_cast<size_t>(i)].data.u64;  // epoll_event is packed: copy
    const uint32_t ready = events[static_cast<size_t>(i)].events;
    if (tag == kWakeTag) {
      DrainWakeups();
      continue;
    }
    const auto fd = static_cast<int>(static_cast<uint32_t>(tag));
    const auto generation = static_cast<uint32_t>(tag >> 32U);
    // A handler called earlier in this batch may have unwatched fd, or watched the same
    // number again (a new generation): such events are dropped.
    const Slot& slot = slots_[static_cast<size_t>(fd)];
    if (slot.handler == nullptr || slot.generation != generation) continue;
    FdHandler* handler = slot.handler;  // the call may grow slots_ and move `slot`
    ++called;
    handler->OnReady(fd, FromEpoll(ready));
  }
  if (RunTimerIfDue()) ++called;
  return called;
}

void EventLoop::Wakeup() const { (void)eventfd_write(wake_fd_, 1); }

void EventLoop::DrainWakeups() const {
  eventfd_t count = 0;
  (void)eventfd_read(wake_fd_, &count);
}

Result<Events> EventLoop::AwaitReady(int fd, Events interest,
                                     std::optional<Clock::time_point> deadline) {
  fibers::Fiber* fiber = fibers::Scheduler::Current();
  if (fiber == nullptr) {
    return Fail(ErrorKind::kInternal, "internal_error", "AwaitReady called outside a fiber");
  }
  // Lives on the fiber's stack, which stays put while the fiber is parked.
  class Waiter final : public FdHandler {
   public:
    explicit Waiter(fibers::Fiber* waiter) : waiter_(waiter) {}
    void OnReady(int /*fd*/, Events ready) override {
      ready_ |= ready;
      fibers::Scheduler::Wake(waiter_);
    }
    [[nodiscard]] Events ready() const { return ready_; }

   private:
    fibers::Fiber* waiter_;
    Events ready_ = 0;
  };
  Waiter waiter(fiber);
  if (Status watched = Watch(fd, interest, waiter); !watched)
    return Fail(std::move(watched.error()));
  while (waiter.ready() == 0) {
    if (!deadline) {
      fibers::Scheduler::Park();
    } else if (!fibers::Scheduler::ParkUntil(*deadline)) {
      break;  // timed out, unless fd became ready in the same turn (ready() says)
    }
  }
  (void)Unwatch(fd);
  return waiter.ready();
}

}  // namespace cc::runtime
