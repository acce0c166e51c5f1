#include "fcgi/server.h"

#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "core/log.h"

namespace cc::fcgi {
namespace {

std::atomic<bool> g_stopping{false};  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): signal-driven stop flag

// How long a blocked accept() waits before the thread looks at g_stopping again.
constexpr timeval kAcceptPoll{0, 500 * 1000};

// FastCGI params → our Request: HTTP_X_REQUEST_ID → x-request-id.
http::Request ReadRequest(FCGX_Request& req, size_t max_body, bool* too_large) {
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
      for (char& c : header) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace_back(std::move(header), value);
    }
  }
  const char* cl = FCGX_GetParam("CONTENT_LENGTH", req.envp);
  size_t length = 0;
  if (cl != nullptr) std::from_chars(cl, cl + std::strlen(cl), length);
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

http::Response TooLarge() {
  return http::ErrorResponse(
      MakeError(ErrorKind::kPayloadTooLarge, "payload_too_large", "Request body is too large"));
}

void ServeLoop(const ServerOptions& options, const Handler& handler) {
  FCGX_Request req;
  FCGX_InitRequest(&req, 0, 0);
  while (!g_stopping.load()) {
    if (const int rc = FCGX_Accept_r(&req); rc < 0) {
      // -EAGAIN: the accept timeout passed with no connection; look at the flag again.
      if (rc != -EAGAIN && rc != -EWOULDBLOCK && !g_stopping.load()) {
        log::Warn("accept failed", {log::Num("errno", -rc)});
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      continue;
    }
    constexpr timeval kNoTimeout{0, 0};  // a TCP connection inherits the listener's
    setsockopt(req.ipcFd, SOL_SOCKET, SO_RCVTIMEO, &kNoTimeout, sizeof kNoTimeout);
    bool too_large = false;
    http::Request request = ReadRequest(req, options.max_body_bytes, &too_large);
    try {
      WriteResponse(req, too_large ? TooLarge() : handler(request));
    } catch (const std::exception& e) {
      log::Error("request failed", {log::Str("error", e.what())});
      WriteResponse(req, http::ErrorResponse(MakeError(ErrorKind::kInternal, "internal_error",
                                                       "Internal error")));
    }
    FCGX_Finish_r(&req);
  }
  FCGX_Free(&req, 0);
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

// Waits for a stop signal, then lets every thread finish its request and leave.
void AwaitStop(std::vector<std::thread>& threads) {
  const sigset_t stop_set = StopSignals();
  int sig = 0;
  sigwait(&stop_set, &sig);
  log::Info("stopping: finishing requests in flight", {log::Num("signal", sig)});
  g_stopping.store(true);
  for (auto& t : threads) t.join();
}

}  // namespace

int Run(const ServerOptions& options, const HandlerFactory& make_handler) {
  if (FCGX_Init() != 0) {
    log::Error("FCGX_Init failed");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  // accept() on the shared listening socket (fd 0) gives up after kAcceptPoll, so no
  // signal has to interrupt libfcgi to stop a thread (interrupting its post-accept wait
  // for the first bytes made it spin on a closed descriptor).
  setsockopt(0, SOL_SOCKET, SO_RCVTIMEO, &kAcceptPoll, sizeof kAcceptPoll);
  const sigset_t stop_set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);  // inherited: only AwaitStop takes them

  // Every thread's resources are built here, before serving: a failure stops the start.
  std::vector<Handler> handlers;
  try {
    for (int i = 0; i < options.threads; ++i) handlers.push_back(make_handler());
  } catch (const std::exception& e) {
    log::Error("cannot start worker threads", {log::Str("error", e.what())});
    return 2;
  }
  std::vector<std::thread> threads;
  threads.reserve(handlers.size());
  for (const Handler& handler : handlers) {
    threads.emplace_back([&options, &handler] {
      try {
        ServeLoop(options, handler);
      } catch (const std::exception& e) {
        log::Error("worker thread failed", {log::Str("error", e.what())});
      }
    });
  }
  std::jthread background;
  if (options.background) background = std::jthread(options.background);
  log::Info("serving", {log::Num("threads", options.threads)});
  AwaitStop(threads);
  if (background.joinable()) {
    background.request_stop();
    background.join();
  }
  log::Info("stopped");
  return 0;
}

}  // namespace cc::fcgi
