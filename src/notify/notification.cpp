#include "notify/notification.h"

#include <algorithm>

#include "core/crypto.h"
#include "core/json.h"
#include "core/time_util.h"
#include "holds/journal.h"

namespace cc::notify {
namespace {

constexpr size_t kErrorSnippet = 200;

void TimeOrNull(json::Writer& w, std::optional<int64_t> t) {
  if (t) {
    json::String(w, FormatIso8601(*t));
  } else {
    w.Null();
  }
}

}  // namespace

int64_t RetryDelay(int failed_tries) {
  int64_t delay = kFirstRetrySeconds;
  for (int i = 1; i < failed_tries && delay < kMaxRetryIntervalSeconds; ++i) delay *= 2;
  return std::min(delay, kMaxRetryIntervalSeconds);
}

std::optional<int64_t> NextAttemptAt(int64_t created_at, int failed_tries, int64_t now) {
  const int64_t last_try = created_at + kGiveUpAfterSeconds;
  if (now >= last_try) return std::nullopt;
  return std::min(now + RetryDelay(failed_tries), last_try);
}

std::string SignatureHeader(std::span<const std::string> secrets, int64_t timestamp,
                            std::string_view body) {
  std::string signed_payload = std::to_string(timestamp);
  signed_payload += '.';
  signed_payload += body;
  std::string header = "t=" + std::to_string(timestamp);
  for (const std::string& secret : secrets) {
    header += ",v1=";
    header += crypto::HmacSha256Hex(secret, signed_payload);
  }
  return header;
}

std::string RenderBody(const ledger::Notification& n, std::string_view hold_json) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "id");
  json::String(w, n.id);
  json::Key(w, "type");
  json::String(w, n.type);
  json::Key(w, "created_at");
  json::String(w, FormatIso8601(n.created_at));
  json::Key(w, "data");
  w.StartObject();
  json::Key(w, "hold");
  if (hold_json.empty()) {
    w.Null();
  } else {
    w.RawValue(hold_json.data(), hold_json.size(), rapidjson::kObjectType);
  }
  json::Key(w, "event");
  holds::WriteEvent(w, n.event);
  w.EndObject();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string HttpFailure(long status, std::string_view body) {  // NOLINT(google-runtime-int)
  std::string out = "HTTP " + std::to_string(status);
  std::string snippet;
  for (const char c : body.substr(0, kErrorSnippet)) {
    const bool printable = c >= 0x20 && c < 0x7f;
    snippet += printable ? c : ' ';
  }
  while (!snippet.empty() && snippet.back() == ' ') snippet.pop_back();
  if (!snippet.empty()) out += ": " + snippet;
  return out;
}

std::string_view FailedStatus(const ledger::Notification& n) {
  return n.status == ledger::NotificationStatus::kGaveUp ? "gave_up" : "retrying";
}

std::string RenderFailedPage(const ledger::Page<ledger::Notification>& page) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "data");
  w.StartArray();
  for (const ledger::Notification& n : page.data) {
    w.StartObject();
    json::Key(w, "id");
    json::String(w, n.id);
    json::Key(w, "type");
    json::String(w, n.type);
    json::Key(w, "hold_id");
    json::String(w, n.hold_id);
    json::Key(w, "status");
    json::String(w, FailedStatus(n));
    json::Key(w, "attempts");
    w.Int(n.attempts);
    json::Key(w, "last_error");
    json::StringOrNull(w, n.last_error);
    json::Key(w, "next_attempt_at");
    TimeOrNull(w,
               n.status == ledger::NotificationStatus::kPending ? n.next_attempt_at : std::nullopt);
    w.EndObject();
  }
  w.EndArray();
  json::Key(w, "has_more");
  w.Bool(page.has_more);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace cc::notify
