#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>
#include <utility>

#include "store/server_list.h"

namespace cc::config {
namespace {

bool SameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? s.npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

tl::unexpected<Error> Bad(std::string_view variable, std::string_view why) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_config",
              std::string(variable) + ": " + std::string(why), std::string(variable));
}

Result<int64_t> ParseInt(std::string_view variable, std::string_view text, int64_t min,
                         int64_t max) {
  int64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || v < min || v > max) {
    return Bad(variable,
               "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

bool ValidKeyPrefix(std::string_view key) {
  for (std::string_view p : {"sk_test_", "sk_live_", "rk_test_", "rk_live_"}) {
    if (key.starts_with(p)) return true;
  }
  return false;
}

// Optional integer variable into `out`.
Status ReadInt(const Getenv& getenv, const char* name, int64_t min, int64_t max, int64_t* out) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return Ok();
  auto parsed = ParseInt(name, v, min, max);
  if (!parsed) return Fail(parsed.error());
  *out = *parsed;
  return Ok();
}

void ReadString(const Getenv& getenv, const char* name, std::string* out) {
  const char* v = getenv(name);
  if (v != nullptr && *v != '\0') *out = v;
}

// CHITTYCHARGE_IN_FLIGHT, else its old name CHITTYCHARGE_THREADS (kept for one release);
// both set to different values is refused, so an operator never wonders which one won.
Status ReadInFlight(const Getenv& getenv, Config* c) {
  constexpr int64_t kUnset = 0;
  int64_t in_flight = kUnset;
  int64_t old_name = kUnset;
  if (auto s = ReadInt(getenv, "CHITTYCHARGE_IN_FLIGHT", 1, 1024, &in_flight); !s) return s;
  if (auto s = ReadInt(getenv, "CHITTYCHARGE_THREADS", 1, 1024, &old_name); !s) return s;
  if (in_flight != kUnset && old_name != kUnset && in_flight != old_name) {
    return Bad("CHITTYCHARGE_IN_FLIGHT",
               "is " + std::to_string(in_flight) + " but CHITTYCHARGE_THREADS, its old name, is " +
                   std::to_string(old_name) + ": set only CHITTYCHARGE_IN_FLIGHT");
  }
  if (old_name != kUnset) {
    c->notices.emplace_back(
        "CHITTYCHARGE_THREADS is the old name of CHITTYCHARGE_IN_FLIGHT (requests in flight per "
        "process) and will not be read after this release: rename it");
  }
  if (in_flight != kUnset || old_name != kUnset) {
    c->in_flight = static_cast<int>(in_flight != kUnset ? in_flight : old_name);
  }
  return Ok();
}

Status ReadNumbers(const Getenv& getenv, Config* c) {
  int64_t loops = c->loops;
  int64_t stripe_timeout = c->stripe_timeout_ms;
  int64_t chitty_timeout = c->chitty_id_timeout_ms;
  for (auto status :
       {ReadInt(getenv, "DEFAULT_HOLD_AMOUNT_CENTS", kMinHoldAmount,
                TierLimit(Tier::kPremiumProperty), &c->default_hold_amount),
        ReadInt(getenv, "RATE_LIMIT_PER_MINUTE", 1, 1000000000, &c->rate_limit_per_minute),
        ReadInt(getenv, "CHITTYCHARGE_LOOPS", 1, 64, &loops),
        ReadInt(getenv, "STRIPE_TIMEOUT_MS", 100, 120000, &stripe_timeout),
        ReadInt(getenv, "CHITTY_ID_TIMEOUT_MS", 50, 60000, &chitty_timeout),
        ReadInt(getenv, "CHITTYCHARGE_RECONCILE_SECONDS", 1, 3600, &c->reconcile_interval_s),
        ReadInt(getenv, "CHITTYCHARGE_INTENT_GRACE_SECONDS", 1, 86400, &c->intent_grace_s),
        ReadInt(getenv, "RECONCILE_INTERVAL_S", 1, 86400, &c->open_holds_interval_s),
        ReadInt(getenv, "CHITTYCHARGE_JOBS_INTERVAL_S", 1, 86400, &c->jobs_interval_s),
        ReadInt(getenv, "RECONCILE_RATE_PER_S", 1, 1000, &c->reconcile_rate_per_s),
        ReadInt(getenv, "REAUTH_MARGIN_H", 1, 96, &c->reauth_margin_h),
        ReadInt(getenv, "GUEST_LINK_TTL_H", 1, 720, &c->guest_link_ttl_h),
        ReadInt(getenv, "CHITTYCHARGE_DB_CONNECTIONS", 1, 64, &c->db_connections),
        ReadInt(getenv, "UPSTREAM_MAX_IDLE_CONNECTIONS", 1, 4096,
                &c->upstream_max_idle_connections),
        ReadInt(getenv, "UPSTREAM_IDLE_TIMEOUT_S", 1, 3600, &c->upstream_idle_timeout_s)}) {
    if (!status) return status;
  }
  c->loops = static_cast<int>(loops);
  c->stripe_timeout_ms = static_cast<long>(stripe_timeout);     // NOLINT(google-runtime-int)
  c->chitty_id_timeout_ms = static_cast<long>(chitty_timeout);  // NOLINT(google-runtime-int)
  return Ok();
}

// CHITTYCHARGE_PUBLIC_URL: scheme and host[:port] only; the reason when not.
std::optional<std::string> BadPublicUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return "must be an http(s):// URL";
  }
  if (rest.empty()) return "needs a host";
  for (char ch : rest) {
    const bool ok = std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '-' ||
                    ch == ':' || ch == '[' || ch == ']';
    if (!ok) return "is scheme://host[:port] only (no path, query or credentials)";
  }
  return std::nullopt;
}

Status Validate(const Config& c) {
  if (c.stripe_secret_key.empty()) return Bad("STRIPE_SECRET_KEY", "is required");
  if (!ValidKeyPrefix(c.stripe_secret_key)) {
    return Bad("STRIPE_SECRET_KEY", "must start with sk_test_, sk_live_, rk_test_ or rk_live_");
  }
  const bool live =
      c.stripe_secret_key.starts_with("sk_live_") || c.stripe_secret_key.starts_with("rk_live_");
  if (live && !c.stripe_api_base.starts_with("https://")) {
    return Bad("STRIPE_API_BASE", "a live key is only sent over https://");
  }
  if (!c.stripe_api_base.starts_with("https://") && !c.stripe_api_base.starts_with("http://")) {
    return Bad("STRIPE_API_BASE", "must be an http(s):// URL");
  }
  if (live && !c.stripe_files_base.starts_with("https://")) {
    return Bad("STRIPE_FILES_BASE", "a live key is only sent over https://");
  }
  if (!c.stripe_files_base.starts_with("https://") && !c.stripe_files_base.starts_with("http://")) {
    return Bad("STRIPE_FILES_BASE", "must be an http(s):// URL");
  }
  if (!c.chitty_id_url.starts_with("https://") && !c.chitty_id_url.starts_with("http://")) {
    return Bad("CHITTY_ID_URL", "must be an http(s):// URL");
  }
  if (auto bad = BadPublicUrl(c.public_url)) return Bad("CHITTYCHARGE_PUBLIC_URL", *bad);
  // A guest link's token is the guest's credential: live links never go over plain HTTP.
  if (live && !c.public_url.starts_with("https://")) {
    return Bad("CHITTYCHARGE_PUBLIC_URL", "a live key's guest links are only https://");
  }
  if (!c.stripe_publishable_key.empty()) {
    const bool pk_live = c.stripe_publishable_key.starts_with("pk_live_");
    if (!pk_live && !c.stripe_publishable_key.starts_with("pk_test_")) {
      return Bad("STRIPE_PUBLISHABLE_KEY", "must start with pk_test_ or pk_live_");
    }
    if (pk_live != live) {
      return Bad("STRIPE_PUBLISHABLE_KEY",
                 "must be of the same mode (test/live) as STRIPE_SECRET_KEY");
    }
  }
  if (auto servers = store::ParseServerList(c.memcached_servers); !servers) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_config", servers.error().message,
                "MEMCACHED_SERVERS");
  }
  if (!SupportedCurrency(c.currency)) {
    return Bad("CURRENCY", "must be one of usd, eur, gbp, cad, aud, jpy");
  }
  if (!c.tier_limits.For(*claims::ParseCurrency(c.currency))) {
    return Bad("CURRENCY", c.currency + " needs its tier limits (" +
                               claims::TierLimitsVariable(*claims::ParseCurrency(c.currency)) +
                               ")");
  }
  if (c.clients.empty()) {
    return Bad("CHITTYCHARGE_API_TOKENS", "no client token configured (set it or CHITTY_ID_TOKEN)");
  }
  return Ok();
}

// An IPv4 dotted quad (four decimal octets 0–255) whose first octet is 127.
bool IsLoopbackIpv4(std::string_view host) {
  const auto octets = Split(host, '.');
  if (octets.size() != 4) return false;
  for (std::string_view o : octets) {
    int v = -1;
    const auto [ptr, ec] = std::from_chars(o.data(), o.data() + o.size(), v);
    if (o.empty() || o.size() > 3 || ec != std::errc() || ptr != o.data() + o.size() || v > 255) {
      return false;
    }
  }
  return octets[0] == "127";
}

// host[:port] of a URL's authority; nullopt when malformed.
std::optional<std::pair<std::string_view, std::string_view>> HostAndPort(std::string_view auth) {
  std::string_view host = auth;
  std::string_view port;
  if (auth.starts_with('[')) {
    const size_t close = auth.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = auth.substr(0, close + 1);
    std::string_view rest = auth.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
    if (!rest.empty() && port.empty()) return std::nullopt;
  } else if (const size_t colon = auth.rfind(':'); colon != std::string_view::npos) {
    host = auth.substr(0, colon);
    port = auth.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  if (host.empty() || host == "[]") return std::nullopt;
  if (!port.empty()) {
    int v = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || ptr != port.data() + port.size() || v < 1 || v > 65535) {
      return std::nullopt;
    }
  }
  return std::make_pair(host, port);
}

Status ReadNotifications(const Getenv& getenv, Config* c) {
  if (const char* v = getenv("CHITTYCHARGE_NOTIFY_SECRET"); v != nullptr) {
    for (auto s : Split(v, ',')) {
      if (!Trim(s).empty()) c->notify_secrets.emplace_back(Trim(s));
    }
  }
  const char* hooks = getenv("CHITTYCHARGE_CLIENT_WEBHOOKS");
  if (hooks == nullptr || *hooks == '\0') return Ok();
  auto parsed = ParseClientWebhooks(hooks, c->clients);
  if (!parsed) return Fail(parsed.error());
  c->client_webhooks = std::move(*parsed);
  if (!c->client_webhooks.empty() && c->notify_secrets.empty()) {
    return Bad("CHITTYCHARGE_NOTIFY_SECRET",
               "is required when CHITTYCHARGE_CLIENT_WEBHOOKS is set (it signs the notifications)");
  }
  constexpr size_t kShortSecret = 16;
  for (const std::string& secret : c->notify_secrets) {
    if (secret.size() < kShortSecret) {
      c->notices.emplace_back(
          "CHITTYCHARGE_NOTIFY_SECRET: a secret shorter than 16 characters is easy to guess; "
          "use a long random one (openssl rand -hex 32)");
      break;
    }
  }
  return Ok();
}

}  // namespace

bool SupportedCurrency(std::string_view code) { return claims::ParseCurrency(code).has_value(); }

std::optional<std::string> BadWebhookUrl(std::string_view url) {
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) return "must be an https:// URL";
  for (const char ch : url) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f) return "may not contain spaces or control characters";
  }
  if (url.find('#') != std::string_view::npos) return "may not have a #fragment";
  const std::string_view rest = url.substr(https ? 8 : 7);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) {
    return "may not carry credentials (user@host)";
  }
  auto host_port = HostAndPort(authority);
  if (!host_port) return "has no valid host[:port]";
  if (https) return std::nullopt;
  const std::string_view host = host_port->first;
  if (host == "localhost" || host == "[::1]" || IsLoopbackIpv4(host)) return std::nullopt;
  return "http:// is allowed to a loopback address only (127.0.0.0/8, [::1], localhost); use "
         "https://";
}

Result<std::vector<ClientWebhook>> ParseClientWebhooks(std::string_view spec,
                                                       const std::vector<ClientToken>& clients) {
  constexpr std::string_view kVar = "CHITTYCHARGE_CLIENT_WEBHOOKS";
  std::vector<ClientWebhook> hooks;
  for (std::string_view entry : Split(spec, ',')) {
    entry = Trim(entry);
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == entry.size()) {
      return Bad(kVar, "each entry is name=URL (comma-separated)");
    }
    ClientWebhook hook{std::string(Trim(entry.substr(0, eq))),
                       std::string(Trim(entry.substr(eq + 1)))};
    const bool known = std::any_of(clients.begin(), clients.end(),
                                   [&](const ClientToken& t) { return t.name == hook.client; });
    if (!known) {
      return Bad(kVar, "no client named " + hook.client + " in CHITTYCHARGE_API_TOKENS");
    }
    for (const auto& other : hooks) {
      if (other.client == hook.client) return Bad(kVar, "client " + hook.client + " named twice");
    }
    if (auto bad = BadWebhookUrl(hook.url)) {
      return Bad(kVar, "the URL of client " + hook.client + " " + *bad);
    }
    hooks.push_back(std::move(hook));
  }
  return hooks;
}

Result<std::vector<ClientToken>> ParseClientTokens(std::string_view spec, int64_t default_rate) {
  constexpr std::string_view kVar = "CHITTYCHARGE_API_TOKENS";
  std::vector<ClientToken> clients;
  for (std::string_view entry : Split(spec, ',')) {
    entry = Trim(entry);
    if (entry.empty()) continue;
    const auto parts = Split(entry, ':');
    if (parts.size() < 2 || parts.size() > 4 || parts[0].empty() || parts[1].empty()) {
      return Bad(kVar, "each entry is name:token[:MAX_TIER[:RATE_PER_MINUTE]]");
    }
    ClientToken c{std::string(parts[0]), std::string(parts[1]), Tier::kPremiumProperty,
                  default_rate};
    if (parts.size() >= 3 && !parts[2].empty()) {
      auto tier = ParseTier(parts[2]);
      if (!tier) return Bad(kVar, "unknown MAX_TIER for client " + c.name);
      c.max_tier = *tier;
    }
    if (parts.size() == 4) {
      auto rate = ParseInt(kVar, parts[3], 1, 1000000000);
      if (!rate) return Fail(rate.error());
      c.rate_per_minute = *rate;
    }
    // Names are compared as Stripe's search compares metadata: ignoring case.
    for (const auto& other : clients) {
      if (SameIgnoringCase(other.name, c.name)) {
        return Bad(kVar, "duplicate client name " + c.name + " (names differ by more than case)");
      }
    }
    clients.push_back(std::move(c));
  }
  return clients;
}

Result<Config> Load(const Getenv& getenv) {
  Config c;
  ReadString(getenv, "STRIPE_SECRET_KEY", &c.stripe_secret_key);
  ReadString(getenv, "STRIPE_API_BASE", &c.stripe_api_base);
  if (const char* v = getenv("STRIPE_FILES_BASE"); v != nullptr && *v != '\0') {
    c.stripe_files_base = v;
  } else if (const char* api = getenv("STRIPE_API_BASE"); api != nullptr && *api != '\0') {
    c.stripe_files_base = c.stripe_api_base;
  }
  ReadString(getenv, "CHITTY_ID_URL", &c.chitty_id_url);
  ReadString(getenv, "CHITTYCHARGE_PUBLIC_URL", &c.public_url);
  ReadString(getenv, "STRIPE_PUBLISHABLE_KEY", &c.stripe_publishable_key);
  ReadString(getenv, "CHITTY_ID_TOKEN", &c.chitty_id_token);
  ReadString(getenv, "MEMCACHED_SERVERS", &c.memcached_servers);
  ReadString(getenv, "DATABASE_URL", &c.database_url);
  if (const char* v = getenv("CHITTYCHARGE_DURABLE_RECORDS"); v != nullptr) {
    c.durable_records = std::string_view(v) == "1" || std::string_view(v) == "true";
  }
  ReadString(getenv, "CHITTYCHARGE_CA_FILE", &c.ca_file);
  ReadString(getenv, "CURRENCY", &c.currency);
  for (char& ch : c.currency) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  while (c.stripe_api_base.ends_with('/')) c.stripe_api_base.pop_back();
  while (c.stripe_files_base.ends_with('/')) c.stripe_files_base.pop_back();
  while (c.chitty_id_url.ends_with('/')) c.chitty_id_url.pop_back();
  while (c.public_url.ends_with('/')) c.public_url.pop_back();
  if (const char* v = getenv("STRIPE_WEBHOOK_SECRET"); v != nullptr) {
    for (auto s : Split(v, ',')) {
      if (!Trim(s).empty()) c.webhook_secrets.emplace_back(Trim(s));
    }
  }
  if (auto numbers = ReadNumbers(getenv, &c); !numbers) return Fail(numbers.error());
  if (auto in_flight = ReadInFlight(getenv, &c); !in_flight) return Fail(in_flight.error());
  if (c.upstream_max_idle_connections == 0) c.upstream_max_idle_connections = 2 * c.in_flight;
  auto limits = claims::LoadTierLimits([&getenv](std::string_view name) {
    const char* v = getenv(std::string(name).c_str());
    return v == nullptr ? std::nullopt : std::optional<std::string>(v);
  });
  if (!limits) return Fail(limits.error());
  c.tier_limits = *limits;
  const char* tokens = getenv("CHITTYCHARGE_API_TOKENS");
  if (tokens != nullptr && *tokens != '\0') {
    auto clients = ParseClientTokens(tokens, c.rate_limit_per_minute);
    if (!clients) return Fail(clients.error());
    c.clients = std::move(*clients);
  } else if (!c.chitty_id_token.empty()) {
    c.clients.push_back(
        {"default", c.chitty_id_token, Tier::kPremiumProperty, c.rate_limit_per_minute});
  }
  if (auto valid = Validate(c); !valid) return Fail(valid.error());
  if (auto notify = ReadNotifications(getenv, &c); !notify) return Fail(notify.error());
  return c;
}

}  // namespace cc::config
