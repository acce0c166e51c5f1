#include "httpclient/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace cc::httpclient {
namespace {

constexpr size_t kMaxBodyBytes = size_t{8} << 20U;

using SlistPtr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

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
    default:
      return MakeError(ErrorKind::kUpstream, "upstream_error", std::move(message));
  }
}

}  // namespace

struct CurlTransport::Handle {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy{curl_easy_init(), &curl_easy_cleanup};
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
};

CurlTransport::CurlTransport(std::string ca_file)
    : handle_(std::make_unique<Handle>()), ca_file_(std::move(ca_file)) {
  if (!handle_->easy) throw std::runtime_error("curl_easy_init failed");
}

CurlTransport::~CurlTransport() = default;

Result<HttpResponse> CurlTransport::Send(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "POST") {
    return Fail(ErrorKind::kInternal, "internal_error",
                "CurlTransport supports GET and POST only, not " + request.method + ".");
  }
  if (HasUnsafeHeader(request)) {
    return Fail(ErrorKind::kInternal, "internal_error",
                "Refusing to send a header containing CR, LF or NUL.");
  }
  CURL* curl = handle_->easy.get();
  curl_easy_reset(curl);  // drops the last call's options; keeps live connections and caches
  handle_->error_buffer[0] = '\0';
  const SlistPtr headers = BuildHeaders(request);
  Exchange exchange;
  Options options(curl);
  options.Set(CURLOPT_URL, request.url.c_str())
      .Set(CURLOPT_NOSIGNAL, 1L)
      .Set(CURLOPT_TIMEOUT_MS, request.timeout_ms)
      .Set(CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms)
      .Set(CURLOPT_TCP_NODELAY, 1L)
      .Set(CURLOPT_TCP_KEEPALIVE, 1L)
      .Set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1))
      .Set(CURLOPT_FOLLOWLOCATION, 0L)
      .Set(CURLOPT_PROTOCOLS_STR, "http,https")
      .Set(CURLOPT_SSL_VERIFYPEER, 1L)
      .Set(CURLOPT_SSL_VERIFYHOST, 2L)
      .Set(CURLOPT_HTTPHEADER, headers.get())
      .Set(CURLOPT_ERRORBUFFER, handle_->error_buffer.data())
      .Set(CURLOPT_WRITEFUNCTION, static_cast<curl_write_callback>(&OnBody))
      .Set(CURLOPT_WRITEDATA, static_cast<void*>(&exchange))
      .Set(CURLOPT_HEADERFUNCTION, static_cast<curl_write_callback>(&OnHeader))
      .Set(CURLOPT_HEADERDATA, static_cast<void*>(&exchange));
  if (!ca_file_.empty()) options.Set(CURLOPT_CAINFO, ca_file_.c_str());
  if (request.method == "POST") {
    options.Set(CURLOPT_POST, 1L)
        .Set(CURLOPT_POSTFIELDS, request.body.data())
        .Set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    options.Set(CURLOPT_HTTPGET, 1L);
  }
  CURLcode code = options.result();
  if (code == CURLE_OK) code = curl_easy_perform(curl);
  long status = 0;  // NOLINT(google-runtime-int): curl's type
  if (code == CURLE_OK) code = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_reset(curl);  // the handle must not keep pointers into this call's locals
  if (code != CURLE_OK) {
    return Fail(MapCurlCode(code, handle_->error_buffer.data(), exchange.too_large));
  }
  exchange.response.status = status;
  return std::move(exchange.response);
}

}  // namespace cc::httpclient
