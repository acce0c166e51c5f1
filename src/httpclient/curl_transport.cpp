#include "httpclient/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/event_loop.h"
#include "runtime/fibers.h"

namespace cc::httpclient {
namespace {

constexpr size_t kMaxBodyBytes = size_t{8} << 20U;

using SlistPtr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;
using MimePtr = std::unique_ptr<curl_mime, decltype(&curl_mime_free)>;

// What the callbacks fill in during one transfer.
struct Exchange {
  HttpResponse response;
  bool too_large = false;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) noexcept {
  try {
    auto* exchange = static_cast<Exchange*>(user);
    const size_t bytes = size * count;
    if (exchange->response.body.size() + bytes > kMaxBodyBytes) {
      exchange->too_large = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    exchange->response.body.append(data, bytes);
    return bytes;
  } catch (...) {
    return 0;
  }
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) noexcept {
  try {
    auto* exchange = static_cast<Exchange*>(user);
    const size_t bytes = size * count;
    const std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
      exchange->response.headers.clear();  // a new response begins (e.g. after 100 Continue)
      return bytes;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;  // the blank line ending the headers
    exchange->response.headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                                            std::string(Trim(line.substr(colon + 1))));
    return bytes;
  } catch (...) {
    return 0;
  }
}

// Sets options in order and remembers the first failure.
class Options {
 public:
  explicit Options(CURL* curl) : curl_(curl) {}
  template <typename T>
  Options& Set(CURLoption option, T value) {
    if (result_ == CURLE_OK) result_ = curl_easy_setopt(curl_, option, value);
    return *this;
  }
  [[nodiscard]] CURLcode result() const { return result_; }

 private:
  CURL* curl_;
  CURLcode result_ = CURLE_OK;
};

SlistPtr BuildHeaders(const HttpRequest& request) {
  SlistPtr list(nullptr, &curl_slist_free_all);
  auto append = [&list](const std::string& line) {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (grown == nullptr) throw std::bad_alloc();
    (void)list.release();  // the grown list owns the old nodes
    list.reset(grown);
  };
  for (const auto& [name, value] : request.headers) {
    // A multipart body's Content-Type (with its boundary) is libcurl's to write.
    if (!request.form.empty() && Lower(name) == "content-type") continue;
    std::string line = name;
    line += ": ";
    line += value;
    append(line);
  }
  append("Expect:");  // no 100-continue round trip on POST
  return list;
}

// A header line that could smuggle another header or end the header block early.
bool HasUnsafeHeader(const HttpRequest& request) {
  auto unsafe = [](std::string_view s) { return s.find_first_of("\r\n", 0, 3) != s.npos; };
  return std::any_of(request.headers.begin(), request.headers.end(),
                     [&](const auto& h) { return unsafe(h.first) || unsafe(h.second); });
}

Error MapCurlCode(CURLcode code, std::string_view detail, bool too_large) {
  std::string message = "HTTP exchange failed: ";
  if (too_large) {
    message += "response body larger than 8 MiB";
  } else {
    message += detail.empty() ? std::string_view(curl_easy_strerror(code)) : detail;
  }
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", std::move(message));
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return MakeError(ErrorKind::kUnavailable, "service_unavailable", std::move(message));
    default: return MakeError(ErrorKind::kUpstream, "upstream_error", std::move(message));
  }
}

std::optional<Error> Refuse(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "POST") {
    return MakeError(ErrorKind::kInternal, "internal_error",
                     "CurlTransport supports GET and POST only, not " + request.method + ".");
  }
  if (HasUnsafeHeader(request)) {
    return MakeError(ErrorKind::kInternal, "internal_error",
                     "Refusing to send a header containing CR, LF or NUL.");
  }
  return std::nullopt;
}

// The request's form parts as a libcurl MIME structure (it copies the bytes); nullptr on
// failure.
MimePtr BuildMime(CURL* curl, const std::vector<FormPart>& parts) {
  MimePtr mime(curl_mime_init(curl), &curl_mime_free);
  if (!mime) return mime;
  for (const FormPart& part : parts) {
    curl_mimepart* added = curl_mime_addpart(mime.get());
    bool ok = added != nullptr && curl_mime_name(added, part.name.c_str()) == CURLE_OK &&
              curl_mime_data(added, part.data.data(), part.data.size()) == CURLE_OK;
    if (ok && !part.filename.empty())
      ok = curl_mime_filename(added, part.filename.c_str()) == CURLE_OK;
    if (ok && !part.content_type.empty()) {
      ok = curl_mime_type(added, part.content_type.c_str()) == CURLE_OK;
    }
    if (!ok) {
      mime.reset();
      return mime;
    }
  }
  return mime;
}

using EasyPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

// A new easy handle carrying the options every exchange shares; they are set once and
// stay (Call::Finish clears only the per-exchange pointers). nullptr if libcurl refuses.
EasyPtr NewEasy(const std::string& ca_file) {
  EasyPtr easy(curl_easy_init(), &curl_easy_cleanup);
  if (!easy) return easy;
  Options options(easy.get());
  options.Set(CURLOPT_NOSIGNAL, 1L)
      .Set(CURLOPT_TCP_NODELAY, 1L)
      .Set(CURLOPT_TCP_KEEPALIVE, 1L)
      .Set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1))
      .Set(CURLOPT_FOLLOWLOCATION, 0L)
      .Set(CURLOPT_PROTOCOLS_STR, "http,https")
      .Set(CURLOPT_SSL_VERIFYPEER, 1L)
      .Set(CURLOPT_SSL_VERIFYHOST, 2L)
      .Set(CURLOPT_WRITEFUNCTION, static_cast<curl_write_callback>(&OnBody))
      .Set(CURLOPT_HEADERFUNCTION, static_cast<curl_write_callback>(&OnHeader));
  if (!ca_file.empty()) options.Set(CURLOPT_CAINFO, ca_file.c_str());
  if (options.result() != CURLE_OK) easy.reset();
  return easy;
}

// One exchange on one easy handle from NewEasy(): its options, what the callbacks fill
// in, and the outcome. Lives until the transfer has finished.
class Call {
 public:
  CURLcode Prepare(CURL* curl, const HttpRequest& request) {
    headers_ = BuildHeaders(request);
    Options options(curl);
    options.Set(CURLOPT_URL, request.url.c_str())
        .Set(CURLOPT_TIMEOUT_MS, request.timeout_ms)
        .Set(CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms)
        .Set(CURLOPT_HTTPHEADER, headers_.get())
        .Set(CURLOPT_ERRORBUFFER, error_.data())
        .Set(CURLOPT_WRITEDATA, static_cast<void*>(&exchange_))
        .Set(CURLOPT_HEADERDATA, static_cast<void*>(&exchange_))
        .Set(CURLOPT_PRIVATE, static_cast<void*>(this));
    if (request.method == "POST" && !request.form.empty()) {
      mime_ = BuildMime(curl, request.form);
      if (!mime_) return CURLE_OUT_OF_MEMORY;
      options.Set(CURLOPT_MIMEPOST, mime_.get());
    } else if (request.method == "POST") {
      options.Set(CURLOPT_POST, 1L)
          .Set(CURLOPT_POSTFIELDS, request.body.data())
          .Set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    } else {
      options.Set(CURLOPT_HTTPGET, 1L);
    }
    return options.result();
  }

  // The outcome of a transfer that ended with `code`. The handle keeps its shared
  // options and live connection but no pointer into this call.
  Result<HttpResponse> Finish(CURL* curl, CURLcode code) {
    long status = 0;  // NOLINT(google-runtime-int): curl's type
    if (code == CURLE_OK) code = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    Options(curl)
        .Set(CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr))
        .Set(CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr))
        .Set(CURLOPT_WRITEDATA, static_cast<void*>(nullptr))
        .Set(CURLOPT_HEADERDATA, static_cast<void*>(nullptr))
        .Set(CURLOPT_PRIVATE, static_cast<void*>(nullptr))
        .Set(CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr))
        .Set(CURLOPT_MIMEPOST, static_cast<curl_mime*>(nullptr));
    if (code != CURLE_OK) return Fail(MapCurlCode(code, error_.data(), exchange_.too_large));
    exchange_.response.status = status;
    return std::move(exchange_.response);
  }

  // Set by CurlMulti when the transfer of a call made on a fiber has ended.
  bool done = false;
  CURLcode result = CURLE_OK;
  fibers::Fiber* waiter = nullptr;

 private:
  SlistPtr headers_{nullptr, &curl_slist_free_all};
  MimePtr mime_{nullptr, &curl_mime_free};  // a multipart body, until Finish unhooks it
  Exchange exchange_;
  std::array<char, CURL_ERROR_SIZE> error_{};
};

// A synchronous exchange on `curl`.
Result<HttpResponse> PerformNow(CURL* curl, const HttpRequest& request) {
  if (auto refused = Refuse(request)) return Fail(std::move(*refused));
  Call call;
  CURLcode code = call.Prepare(curl, request);
  if (code == CURLE_OK) code = curl_easy_perform(curl);
  return call.Finish(curl, code);
}

}  // namespace

CurlGlobal::CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}

CurlGlobal::~CurlGlobal() {
  if (ok_) curl_global_cleanup();
}

struct CurlTransport::Handle {
  EasyPtr easy;
};

CurlTransport::CurlTransport(std::string ca_file)
    : handle_(std::make_unique<Handle>(Handle{NewEasy(ca_file)})) {
  if (!handle_->easy) throw std::runtime_error("cannot create a curl easy handle");
}

CurlTransport::~CurlTransport() = default;

Result<HttpResponse> CurlTransport::Send(const HttpRequest& request) {
  return PerformNow(handle_->easy.get(), request);
}

// --- CurlMulti -------------------------------------------------------------------------

// The multi handle in socket mode: libcurl tells us which sockets to watch (OnSocket) and
// when to call it back (OnTimerChange); both are passed on to the loop, which calls back
// OnReady (a socket is ready) and OnTimer (the timer is due). After each of those, every
// ended transfer wakes its fiber.
struct CurlMulti::State final : runtime::EventLoop::FdHandler, runtime::EventLoop::TimerHandler {
  State(runtime::EventLoop& event_loop, long cache_size,  // NOLINT(google-runtime-int)
        std::chrono::seconds idle_after)
      : loop(event_loop), max_connections(cache_size), idle_timeout(idle_after) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  State(State&&) = delete;
  State& operator=(State&&) = delete;
  ~State() override {
    idle.clear();
    multi.reset();  // curl_multi_cleanup's last socket callbacks still reach the loop
    loop.DisarmTimer();
  }

  // Registers the callbacks and the cache size with `handle`; false if libcurl refuses.
  bool Configure(CURLM* handle) {
    return handle != nullptr &&
           curl_multi_setopt(handle, CURLMOPT_SOCKETFUNCTION, &State::OnSocket) == CURLM_OK &&
           curl_multi_setopt(handle, CURLMOPT_SOCKETDATA, static_cast<void*>(this)) == CURLM_OK &&
           curl_multi_setopt(handle, CURLMOPT_TIMERFUNCTION, &State::OnTimerChange) == CURLM_OK &&
           curl_multi_setopt(handle, CURLMOPT_TIMERDATA, static_cast<void*>(this)) == CURLM_OK &&
           curl_multi_setopt(handle, CURLMOPT_MAXCONNECTS, max_connections) == CURLM_OK;
  }

  runtime::EventLoop& loop;
  const long max_connections;  // NOLINT(google-runtime-int): curl's type
  const std::chrono::seconds idle_timeout;
  std::vector<EasyPtr> idle;  // easy handles between exchanges
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi{curl_multi_init(),
                                                              &curl_multi_cleanup};
  int running = 0;  // transfers added to `multi` and not yet removed
  // The loop's one timer serves two deadlines: libcurl's, and the sweep of a connection
  // cache left unused for idle_timeout (armed while no transfer runs).
  std::optional<runtime::EventLoop::Clock::time_point> curl_due;
  std::optional<runtime::EventLoop::Clock::time_point> sweep_due;

  void ArmEarliest() {
    if (!curl_due && !sweep_due) {
      loop.DisarmTimer();
      return;
    }
    loop.ArmTimer(*this, curl_due && sweep_due ? std::min(*curl_due, *sweep_due)
                         : curl_due            ? *curl_due
                                               : *sweep_due);
  }

  void Started() {
    ++running;
    if (sweep_due) {
      sweep_due.reset();
      ArmEarliest();
    }
  }

  void Ended() {
    if (--running == 0) {
      sweep_due = runtime::EventLoop::Clock::now() + idle_timeout;
      ArmEarliest();
    }
  }

  // No transfer has run for idle_timeout, so every cached connection has been idle that
  // long: closes them all. libcurl has no call to empty a multi handle's cache, so the
  // handle is replaced by a new one (the pooled easy handles keep their TLS sessions).
  // Should libcurl fail to make or configure one, the old handle stays until the next sweep
  // (a handle without the loop's callbacks would strand every transfer added to it).
  void Sweep() {
    sweep_due.reset();
    std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> fresh{curl_multi_init(),
                                                                &curl_multi_cleanup};
    if (!Configure(fresh.get())) {  // no transfer yet, so its callbacks cannot fire
      sweep_due = runtime::EventLoop::Clock::now() + idle_timeout;
      return;
    }
    multi.reset();  // closes the cached connections; their sockets are unwatched
    curl_due.reset();
    multi = std::move(fresh);
  }

  static int OnSocket(CURL* /*easy*/, curl_socket_t socket, int what, void* self, void* known) {
    auto* state = static_cast<State*>(self);
    runtime::EventLoop& loop = state->loop;
    // Failures are ignored, as libcurl would abort every transfer of the multi handle on
    // a -1; a socket left unwatched ends its transfer by the transfer's timeout.
    if (what == CURL_POLL_REMOVE) {
      if (loop.watching(socket)) (void)loop.Unwatch(socket);
      return 0;
    }
    const runtime::Events interest = ((what & CURL_POLL_IN) != 0 ? runtime::kReadable : 0U) |
                                     ((what & CURL_POLL_OUT) != 0 ? runtime::kWritable : 0U);
    if (known != nullptr) {
      (void)loop.Modify(socket, interest);
      return 0;
    }
    // New to libcurl; a watch still under this number belonged to a closed socket.
    if (loop.watching(socket)) (void)loop.Unwatch(socket);
    (void)loop.Watch(socket, interest, *state);
    curl_multi_assign(state->multi.get(), socket, state);  // marks it as known
    return 0;
  }

  // NOLINTBEGIN(google-runtime-int): curl's type
  static int OnTimerChange(CURLM* /*multi*/, long timeout_ms, void* self) {
    // NOLINTEND(google-runtime-int)
    auto* state = static_cast<State*>(self);
    if (timeout_ms < 0) {
      state->curl_due.reset();
    } else {
      state->curl_due = runtime::EventLoop::Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    state->ArmEarliest();
    return 0;
  }

  void OnReady(int fd, runtime::Events ready) override {
    const int mask = ((ready & runtime::kReadable) != 0 ? CURL_CSELECT_IN : 0) |
                     ((ready & runtime::kWritable) != 0 ? CURL_CSELECT_OUT : 0) |
                     ((ready & runtime::kError) != 0 ? CURL_CSELECT_ERR : 0);
    int running_now = 0;
    curl_multi_socket_action(multi.get(), fd, mask, &running_now);
    WakeEnded();
  }

  void OnTimer() override {
    const auto now = runtime::EventLoop::Clock::now();
    if (curl_due && *curl_due <= now) {
      curl_due.reset();  // libcurl sets the next one from inside the call if it wants one
      int running_now = 0;
      curl_multi_socket_action(multi.get(), CURL_SOCKET_TIMEOUT, 0, &running_now);
      WakeEnded();
    }
    if (sweep_due && *sweep_due <= now && running == 0) Sweep();
    ArmEarliest();  // the loop disarmed its timer before calling this
  }

  // Every ended transfer leaves the multi handle and wakes its fiber.
  void WakeEnded() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* curl = message->easy_handle;
      const CURLcode result = message->data.result;
      curl_multi_remove_handle(multi.get(), curl);
      Ended();
      void* data = nullptr;
      curl_easy_getinfo(curl, CURLINFO_PRIVATE, &data);
      auto* call = static_cast<Call*>(data);
      call->result = result;
      call->done = true;
      fibers::Scheduler::Wake(call->waiter);
    }
  }
};

// The Transport of the loop's fibers: each Send() adds its transfer to the multi handle
// and parks the fiber until the loop's callbacks see the transfer end.
class CurlMulti::FiberTransport final : public Transport {
 public:
  explicit FiberTransport(CurlMulti& owner) : owner_(owner) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    State& state = *owner_.state_;
    EasyPtr easy(nullptr, &curl_easy_cleanup);
    if (state.idle.empty()) {
      easy = NewEasy(owner_.ca_file_);
      // A cached connection idle longer than the sweep's timeout is not reused but closed
      // (libcurl prunes them as transfers start, at most once a second).
      if (easy && curl_easy_setopt(easy.get(), CURLOPT_MAXAGE_CONN,
                                   static_cast<long>(state.idle_timeout.count())) != CURLE_OK) {
        easy.reset();
      }
      if (!easy)
        return Fail(ErrorKind::kInternal, "internal_error", "cannot create a curl easy handle");
    } else {
      easy = std::move(state.idle.back());
      state.idle.pop_back();
    }
    Result<HttpResponse> outcome = Exchange(easy.get(), request);
    state.idle.push_back(std::move(easy));
    return outcome;
  }

 private:
  Result<HttpResponse> Exchange(CURL* curl, const HttpRequest& request) {
    if (fibers::Scheduler::Current() == nullptr) return PerformNow(curl, request);
    if (auto refused = Refuse(request)) return Fail(std::move(*refused));
    Call call;
    CURLcode code = call.Prepare(curl, request);
    if (code == CURLE_OK) {
      const CURLMcode added = curl_multi_add_handle(owner_.state_->multi.get(), curl);
      if (added != CURLM_OK) {
        (void)call.Finish(
            curl, CURLE_FAILED_INIT);  // the pooled handle must not keep pointers into `call`
        return Fail(ErrorKind::kInternal, "internal_error",
                    std::string("curl_multi_add_handle failed: ") + curl_multi_strerror(added));
      }
      owner_.state_->Started();
      call.waiter = fibers::Scheduler::Current();
      while (!call.done) fibers::Scheduler::Park();
      code = call.result;
    }
    return call.Finish(curl, code);
  }

  CurlMulti& owner_;
};

CurlMulti::CurlMulti(runtime::EventLoop& loop, std::string ca_file, long max_connections,
                     std::chrono::seconds idle_timeout)
    : state_(std::make_unique<State>(loop, std::max(max_connections, 1L),
                                     std::max(idle_timeout, std::chrono::seconds(1)))),
      transport_(std::make_unique<FiberTransport>(*this)),
      ca_file_(std::move(ca_file)) {
  if (!state_->Configure(state_->multi.get())) {
    throw std::runtime_error("cannot set up the curl multi handle");
  }
}

CurlMulti::~CurlMulti() = default;

Transport& CurlMulti::transport() { return *transport_; }

}  // namespace cc::httpclient
