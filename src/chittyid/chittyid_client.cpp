#include "chittyid/chittyid_client.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/crypto.h"

namespace cc::chittyid {
namespace {

constexpr size_t kMaxIdBytes = 128;

using httpclient::HttpResponse;

bool Is2xx(long status) { return status >= 200 && status < 300; }  // NOLINT(google-runtime-int)

// NOLINTBEGIN(google-runtime-int)
tl::unexpected<Error> StatusError(std::string_view what, long status) {
  // NOLINTEND(google-runtime-int)
  const std::string message =
      "ChittyID " + std::string(what) + " answered HTTP " + std::to_string(status);
  if (status == 503 || status == 429) {
    return Fail(ErrorKind::kUnavailable, "service_unavailable", message);
  }
  if (status == 504 || status == 408) {
    return Fail(ErrorKind::kDeadlineExceeded, "upstream_timeout", message);
  }
  return Fail(ErrorKind::kUpstream, "upstream_error", message);
}

tl::unexpected<Error> BadAnswer(std::string_view why) {
  return Fail(ErrorKind::kUpstream, "upstream_error",
              "ChittyID mint answer unusable: " + std::string(why));
}

std::string MintBody(const std::map<std::string, std::string>& metadata) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("entity_type");
  w.String("AUTH");
  w.Key("metadata");
  w.StartObject();
  for (const auto& [key, value] : metadata) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

bool IsIdChar(char c) { return c > ' ' && c < '\x7f'; }

Result<std::string> ParseMintAnswer(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return BadAnswer("not a JSON object");
  auto it = doc.FindMember("chitty_id");
  if (it == doc.MemberEnd() || !it->value.IsString()) return BadAnswer("no string chitty_id");
  std::string id(it->value.GetString(), it->value.GetStringLength());
  if (id.rfind("CHITTY-", 0) != 0 || id.size() > kMaxIdBytes ||
      !std::all_of(id.begin(), id.end(), IsIdChar)) {
    return BadAnswer("chitty_id is not a CHITTY- id");
  }
  return id;
}

}  // namespace

ChittyIdClient::ChittyIdClient(httpclient::Transport& transport, ChittyIdConfig config)
    : transport_(transport), config_(std::move(config)) {
  while (!config_.base_url.empty() && config_.base_url.back() == '/') {
    config_.base_url.pop_back();
  }
}

httpclient::HttpRequest ChittyIdClient::MakeRequest(std::string method,
                                                    std::string_view path) const {
  httpclient::HttpRequest request;
  request.method = std::move(method);
  request.url = config_.base_url + std::string(path);
  request.headers = {{"Authorization", "Bearer " + config_.token}, {"Accept", "application/json"}};
  request.timeout_ms = config_.timeout_ms;
  request.connect_timeout_ms = std::min(config_.timeout_ms, request.connect_timeout_ms);
  return request;
}

Result<std::string> ChittyIdClient::MintAuth(const std::map<std::string, std::string>& metadata) {
  httpclient::HttpRequest request = MakeRequest("POST", "/v1/mint");
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = MintBody(metadata);
  Result<HttpResponse> response = transport_.Send(request);
  if (!response) return Fail(response.error());
  if (!Is2xx(response->status)) return StatusError("mint", response->status);
  return ParseMintAnswer(response->body);
}

Status ChittyIdClient::Health() {
  Result<HttpResponse> response = transport_.Send(MakeRequest("GET", "/health"));
  if (!response) return Fail(response.error());
  if (!Is2xx(response->status)) return StatusError("health", response->status);
  return Ok();
}

}  // namespace cc::chittyid
