#include "fcgi/server.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "core/log.h"
#include "httpclient/curl_transport.h"
#include "runtime/event_loop.h"
#include "runtime/fibers.h"

namespace cc::fcgi {
namespace {

// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables): signal-driven stop flag
std::atomic<bool> g_stopping{false};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables): set before the loop asks to stop
std::atomic<bool> g_loop_failed{false};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

// The longest the loop waits in epoll_wait() without looking at g_stopping (a stop also
// wakes it through the eventfd).
constexpr int kIdleWaitMs = 500;

// FastCGI params → our Request: HTTP_X_REQUEST_ID → x-request-id.
// A body shorter than its CONTENT_LENGTH (the connection to nginx broke mid-body) sets
// *truncated: the request is refused whole, never handled with part of its body.
http::Request ReadRequest(FCGX_Request& req, const ServerOptions& options, bool* too_large,
                          bool* truncated) {
  http::Request out;
  for (char** p = req.envp; p != nullptr && *p != nullptr; ++p) {
    const std::string_view kv(*p);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = kv.substr(0, eq);
    const std::string_view value = kv.substr(eq + 1);
    if (name == "REQUEST_METHOD") {
      out.method = value;
    } else if (name == "REQUEST_URI") {
      const size_t q = value.find('?');
      out.path = value.substr(0, q);
      if (q != std::string_view::npos) out.query = value.substr(q + 1);
    } else if (name == "REMOTE_ADDR") {
      out.remote_addr = value;
    } else if (name.starts_with("HTTP_")) {
      std::string header(name.substr(5));
      for (char& c : header)
        c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace_back(std::move(header), value);
    }
  }
  const char* cl = FCGX_GetParam("CONTENT_LENGTH", req.envp);
  size_t length = 0;
  if (cl != nullptr) std::from_chars(cl, cl + std::strlen(cl), length);
  const size_t max_body =
      options.max_body_for ? options.max_body_for(out.method, out.path) : options.max_body_bytes;
  *too_large = length > max_body;
  if (*too_large) return out;
  out.body.resize(length);
  size_t got = 0;
  while (got < length) {
    const int n = FCGX_GetStr(out.body.data() + got, static_cast<int>(length - got), req.in);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.body.resize(got);
  *truncated = got < length;
  return out;
}

void WriteResponse(FCGX_Request& req, const http::Response& response) {
  std::string head;
  head.reserve(256 + response.body.size());
  head.append("Status: ").append(std::to_string(response.status)).append(" ");
  head.append(http::ReasonPhrase(response.status)).append("\r\n");
  head.append("Content-Type: ").append(response.content_type).append("\r\n");
  head.append("Content-Length: ").append(std::to_string(response.body.size())).append("\r\n");
  for (const auto& [name, value] : response.headers) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head.append("\r\n").append(response.body);
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), req.out);
}

http::Response Truncated() {
  return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                                       "The request body ended before its Content-Length"));
}

http::Response TooLarge() {
  return http::ErrorResponse(
      MakeError(ErrorKind::kPayloadTooLarge, "payload_too_large", "Request body is too large"));
}

// One request, on its own fiber: read it, answer it, finish it.
void Serve(FCGX_Request& req, const ServerOptions& options, const Handler& handler) {
  bool too_large = false;
  bool truncated = false;
  const http::Request request = ReadRequest(req, options, &too_large, &truncated);
  try {
    WriteResponse(req, too_large ? TooLarge() : truncated ? Truncated() : handler(request));
  } catch (const std::exception& e) {
    log::Error("request failed", {log::Str("error", e.what())});
    WriteResponse(req, http::ErrorResponse(
                           MakeError(ErrorKind::kInternal, "internal_error", "Internal error")));
  }
  FCGX_Finish_r(&req);
}

// libfcgi request structs between requests, reused like a thread's single one was.
class RequestPool {
 public:
  RequestPool() = default;
  RequestPool(const RequestPool&) = delete;
  RequestPool& operator=(const RequestPool&) = delete;
  ~RequestPool() {
    for (auto& req : idle_) FCGX_Free(req.get(), 0);
  }
  std::unique_ptr<FCGX_Request> Take() {
    if (idle_.empty()) {
      auto req = std::make_unique<FCGX_Request>();
      FCGX_InitRequest(req.get(), 0, 0);
      return req;
    }
    auto req = std::move(idle_.back());
    idle_.pop_back();
    return req;
  }
  void Give(std::unique_ptr<FCGX_Request> req) { idle_.push_back(std::move(req)); }

 private:
  std::vector<std::unique_ptr<FCGX_Request>> idle_;
};

// Accepts every waiting connection while a slot is free; each gets a fiber.
void AcceptAll(size_t slots, const ServerOptions& options, const Handler& handler,
               RequestPool& pool, fibers::Scheduler& scheduler) {
  while (scheduler.live() < slots) {
    std::unique_ptr<FCGX_Request> req = pool.Take();
    if (const int rc = FCGX_Accept_r(req.get()); rc < 0) {
      pool.Give(std::move(req));
      // -EAGAIN: another process took the connection (the socket is non-blocking).
      if (rc != -EAGAIN && rc != -EWOULDBLOCK) log::Warn("accept failed", {log::Num("errno", -rc)});
      return;
    }
    FCGX_Request* raw = req.release();
    scheduler.Spawn([raw, &options, &handler, &pool] {
      std::unique_ptr<FCGX_Request> owned(raw);
      Serve(*owned, options, handler);
      pool.Give(std::move(owned));
    });
  }
}

// The shared listening socket (fd 0) in the loop's epoll set while the loop accepts.
// kExclusive: a new connection wakes one of the loops watching it, not all of them.
class Listener final : public runtime::EventLoop::FdHandler {
 public:
  explicit Listener(runtime::EventLoop& loop) : loop_(loop) {}
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  Listener(Listener&&) = delete;
  Listener& operator=(Listener&&) = delete;
  ~Listener() override { Accept(false); }

  // Watches the socket while `accepting`: a loop with no free slot leaves new connections
  // to the other loops and processes.
  void Accept(bool accepting) {
    if (accepting == watched_) return;
    if (!accepting) {
      (void)loop_.Unwatch(kListenFd);
      watched_ = false;
      return;
    }
    const Status watched = loop_.Watch(kListenFd, runtime::kReadable | runtime::kExclusive, *this);
    watched_ = watched.has_value();
    if (!watched_ && !warned_) {  // tried again on every turn of the loop; said once
      log::Warn("cannot watch the listening socket", {log::Str("error", watched.error().message)});
    }
    warned_ = !watched_;
  }
  // Whether a connection was waiting at the last Wait(); clears it.
  bool TakeReady() { return std::exchange(ready_, false); }
  void OnReady(int /*fd*/, runtime::Events /*ready*/) override { ready_ = true; }

 private:
  static constexpr int kListenFd = 0;
  runtime::EventLoop& loop_;
  bool watched_ = false;
  bool warned_ = false;
  bool ready_ = false;
};

// Gives back what a burst of requests left behind once a loop has been idle this long:
// its fibers' stack pages and the heap's free pages. Measured after the bench's load: of
// each worker's ~34 MiB, the stacks held ~5 MiB and the loops' malloc arenas ~5 MiB more
// than their live data; ~24 MiB after the release.
constexpr auto kReleaseAfterIdle = std::chrono::seconds(2);
// Then again this often while the loop stays idle: what ends later (idle upstream
// connections closed after UPSTREAM_IDLE_TIMEOUT_S) is given back too.
constexpr auto kReleaseWhileIdle = std::chrono::seconds(30);

// glibc's malloc_trim walks glibc's own arenas. Under AddressSanitizer, whose allocator
// stands in for malloc, they were never set up and the call crashes (a SEGV in mtrim, seen in
// the ASan run of the integration tests), so the sanitizer build (CMake defines
// BOOST_USE_ASAN there) gives back the stacks only.
#ifdef BOOST_USE_ASAN
constexpr bool kTrimHeap = false;
#else
constexpr bool kTrimHeap = true;
#endif

// A loop's memory release: due kReleaseAfterIdle after its last activity.
class IdleRelease {
 public:
  void Turn(bool active, fibers::Scheduler& scheduler) {
    const auto now = std::chrono::steady_clock::now();
    if (active) {
      due_ = now + kReleaseAfterIdle;
      return;
    }
    if (now < due_) return;
    scheduler.ReleaseIdleStacks();
    if (kTrimHeap) malloc_trim(0);  // every arena's free pages, not only the top of the heap
    due_ = now + kReleaseWhileIdle;
  }

 private:
  std::chrono::steady_clock::time_point due_ = std::chrono::steady_clock::now() + kReleaseAfterIdle;
};

// The event loop: until a stop is asked and every request in flight has finished.
void Loop(const ServerOptions& options, size_t slots, const Handler& handler,
          runtime::EventLoop& loop) {
  RequestPool pool;
  fibers::Scheduler scheduler;
  Listener listener(loop);
  IdleRelease idle;
  for (;;) {
    const bool stopping = g_stopping.load();
    if (stopping && scheduler.live() == 0) break;
    listener.Accept(!stopping && scheduler.live() < slots);
    int timeout_ms = kIdleWaitMs;
    if (const int next = scheduler.MillisToNextWake(); next >= 0)
      timeout_ms = std::min(timeout_ms, next);
    // Runs the handlers of ready transfer sockets (which wake the fibers of ended
    // transfers) and libcurl's timer when due.
    loop.Wait(timeout_ms);
    const bool connecting = listener.TakeReady();
    if (connecting) AcceptAll(slots, options, handler, pool, scheduler);
    idle.Turn(connecting || scheduler.live() > 0, scheduler);
    // Fibers run until they wait on a transfer; their transfers start on libcurl's timer,
    // which they set due at once, and the fibers of transfers that ended are woken.
    do {
      scheduler.RunReady();
      loop.RunTimerIfDue();
    } while (scheduler.has_ready());
  }
}

// The signals that mean "stop gracefully". SIGQUIT is among them because Debian 12's
// multiwatch 1.0.0 sends SIGQUIT when told `-s TERM` (it sends the option's index in
// its HUP,INT,QUIT,TERM,… list as the signal number), and QUIT is nginx's graceful
// stop too.
sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGQUIT);
  return set;
}

// One event loop's thread and what it owns (destroyed in reverse: the curl multi handle
// unwatches its sockets before the loop goes).
struct LoopThread {
  std::unique_ptr<runtime::EventLoop> event_loop;
  std::unique_ptr<httpclient::CurlMulti> multi;
  Handler handler;
  std::thread thread;
};

// Waits for a stop signal, then lets the loops finish their requests and leave.
void AwaitStop(std::vector<LoopThread>& loops) {
  const sigset_t stop_set = StopSignals();
  int sig = 0;
  sigwait(&stop_set, &sig);
  log::Info("stopping: finishing requests in flight", {log::Num("signal", sig)});
  g_stopping.store(true);
  for (LoopThread& loop : loops) loop.event_loop->Wakeup();
  for (LoopThread& loop : loops) loop.thread.join();
}

}  // namespace

int Run(const ServerOptions& options, const HandlerFactory& make_handler) {
  if (FCGX_Init() != 0) {
    log::Error("FCGX_Init failed");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  // The loop polls the shared listening socket (fd 0) and accepts only when it is
  // readable; another process may take the connection first, so accept must not block.
  if (const int flags = fcntl(0, F_GETFL); flags < 0 || fcntl(0, F_SETFL, flags | O_NONBLOCK) < 0) {
    log::Error("cannot make the listening socket non-blocking", {log::Num("errno", errno)});
    return 1;
  }
  const sigset_t stop_set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);  // inherited: only AwaitStop takes them

  // The loops' resources are built here, before serving: a failure stops the start.
  const int loop_count = std::clamp(options.loops, 1, options.slots);
  const auto slots_per_loop = static_cast<size_t>((options.slots + loop_count - 1) / loop_count);
  // Rounded down, so the process keeps no more than its setting.
  const long connections_per_loop =  // NOLINT(google-runtime-int): curl's type
      std::max(options.upstream_max_idle_connections / loop_count, 1);
  std::vector<LoopThread> loops(static_cast<size_t>(loop_count));
  try {
    for (LoopThread& loop : loops) {
      loop.event_loop = std::make_unique<runtime::EventLoop>();
      loop.multi = std::make_unique<httpclient::CurlMulti>(
          *loop.event_loop, options.ca_file, connections_per_loop,
          std::chrono::seconds(options.upstream_idle_timeout_s));
      loop.handler = make_handler(loop.multi->transport(), *loop.event_loop);
    }
  } catch (const std::exception& e) {
    log::Error("cannot start the worker", {log::Str("error", e.what())});
    return 2;
  }
  for (LoopThread& loop : loops) {
    loop.thread = std::thread([&options, slots_per_loop, &loop] {
      try {
        Loop(options, slots_per_loop, loop.handler, *loop.event_loop);
      } catch (const std::exception& e) {
        log::Error("worker loop failed", {log::Str("error", e.what())});
        g_loop_failed.store(true);
        kill(getpid(), SIGTERM);  // the process stops; multiwatch starts another
      }
    });
  }
  std::jthread background;
  if (options.background) background = std::jthread(options.background);
  log::Info("serving", {log::Num("slots", options.slots), log::Num("loops", loop_count)});
  AwaitStop(loops);
  if (background.joinable()) {
    background.request_stop();
    background.join();
  }
  log::Info("stopped");
  return g_loop_failed.load() ? 1 : 0;
}

}  // namespace cc::fcgi
