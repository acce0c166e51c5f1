// ParseServerList: MEMCACHED_SERVERS ("host:port,host:port") to a validated list.
//
// Pure, thread-safe. Items are separated by commas; spaces around an item are ignored.
// Each item is `host:port` with an explicit port 1..65535; host is a DNS name or IPv4
// address ([A-Za-z0-9.-], ≤ 253 bytes) or a bracketed IPv6 address (`[::1]:11211`).
// Empty lists, empty items, duplicates and more than kMaxServers items are
// kInvalidArgument (code "invalid_config") with a message naming the item, so a bad
// setting fails at start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cc::store {

struct ServerAddress {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
  bool operator==(const ServerAddress&) const = default;
};

inline constexpr size_t kMaxServers = 64;

Result<std::vector<ServerAddress>> ParseServerList(std::string_view servers);

}  // namespace cc::store
