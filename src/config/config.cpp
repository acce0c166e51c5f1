#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

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
        ReadInt(getenv, "CHITTYCHARGE_DB_CONNECTIONS", 1, 64, &c->db_connections)}) {
    if (!status) return status;
  }
  c->loops = static_cast<int>(loops);
  c->stripe_timeout_ms = static_cast<long>(stripe_timeout);     // NOLINT(google-runtime-int)
  c->chitty_id_timeout_ms = static_cast<long>(chitty_timeout);  // NOLINT(google-runtime-int)
  return Ok();
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
  if (!c.chitty_id_url.starts_with("https://") && !c.chitty_id_url.starts_with("http://")) {
    return Bad("CHITTY_ID_URL", "must be an http(s):// URL");
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

}  // namespace

bool SupportedCurrency(std::string_view code) { return claims::ParseCurrency(code).has_value(); }

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
  ReadString(getenv, "CHITTY_ID_URL", &c.chitty_id_url);
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
  while (c.chitty_id_url.ends_with('/')) c.chitty_id_url.pop_back();
  if (const char* v = getenv("STRIPE_WEBHOOK_SECRET"); v != nullptr) {
    for (auto s : Split(v, ',')) {
      if (!Trim(s).empty()) c.webhook_secrets.emplace_back(Trim(s));
    }
  }
  if (auto numbers = ReadNumbers(getenv, &c); !numbers) return Fail(numbers.error());
  if (auto in_flight = ReadInFlight(getenv, &c); !in_flight) return Fail(in_flight.error());
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
  return c;
}

}  // namespace cc::config
