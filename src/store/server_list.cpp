#include "store/server_list.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

namespace cc::store {
namespace {

tl::unexpected<Error> Invalid(std::string_view item, std::string_view why) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_config",
              "MEMCACHED_SERVERS item '" + std::string(item) + "': " + std::string(why));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
}

bool IsV6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

bool ValidHost(std::string_view host, bool bracketed) {
  if (host.empty() || host.size() > 253) return false;
  if (bracketed) return std::all_of(host.begin(), host.end(), IsV6Char);
  return std::all_of(host.begin(), host.end(), IsHostChar);
}

std::optional<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

Result<ServerAddress> ParseItem(std::string_view item) {
  const size_t colon = item.rfind(':');
  if (colon == std::string_view::npos) return Invalid(item, "expected host:port");
  std::string_view host = item.substr(0, colon);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  if (!ValidHost(host, bracketed)) return Invalid(item, "bad host");
  std::optional<uint16_t> port = ParsePort(item.substr(colon + 1));
  if (!port) return Invalid(item, "port must be 1..65535");
  return ServerAddress{std::string(host), *port};
}

}  // namespace

Result<std::vector<ServerAddress>> ParseServerList(std::string_view servers) {
  std::vector<ServerAddress> out;
  while (true) {
    const size_t comma = servers.find(',');
    const std::string_view item = Trim(servers.substr(0, comma));
    if (item.empty()) return Invalid(item, "empty server entry");
    Result<ServerAddress> address = ParseItem(item);
    if (!address) return Fail(address.error());
    if (std::find(out.begin(), out.end(), *address) != out.end()) {
      return Invalid(item, "listed twice");
    }
    if (out.size() == kMaxServers) return Invalid(item, "too many servers");
    out.push_back(std::move(*address));
    if (comma == std::string_view::npos) break;
    servers.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace cc::store
