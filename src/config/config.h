// Config: everything the worker reads from its environment, in three steps (nginx's
// way): parse, fill defaults, validate. A bad value fails at start with a message
// naming the variable; nothing reads the environment after Load().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "claims/currency.h"
#include "core/result.h"
#include "core/tier.h"

namespace cc::config {

struct ClientToken {
  std::string name;
  std::string token;  // secret: never logged
  Tier max_tier = Tier::kPremiumProperty;
  int64_t rate_per_minute = 10;
};

// Where a client's notifications go (CHITTYCHARGE_CLIENT_WEBHOOKS: name=URL pairs).
struct ClientWebhook {
  std::string client;  // a client name of CHITTYCHARGE_API_TOKENS
  std::string url;     // https://…, or http:// to a loopback address
};

struct Config {
  std::string stripe_secret_key;             // secret
  std::vector<std::string> webhook_secrets;  // secrets; rotation = several
  std::string stripe_api_base = "https://api.stripe.com";
  // STRIPE_FILES_BASE: Stripe's file-upload host (POST /v1/files); when unset,
  // STRIPE_API_BASE if that is set, else https://files.stripe.com.
  std::string stripe_files_base = "https://files.stripe.com";
  std::string stripe_api_version = "2026-10-28.endive";
  std::string chitty_id_url = "https://id.chitty.cc";
  std::string chitty_id_token;  // secret
  std::vector<ClientToken> clients;
  std::string memcached_servers = "127.0.0.1:11211";
  std::string database_url = "postgresql:///chittycharge";  // DATABASE_URL: libpq conninfo
  int64_t db_connections = 1;  // CHITTYCHARGE_DB_CONNECTIONS: PostgreSQL connections per loop
  // CHITTYCHARGE_DURABLE_RECORDS=1: every ledger commit waits for its WAL flush; by default
  // only Stripe intents do (the rest is rebuilt from Stripe by the reconciler if lost).
  bool durable_records = false;
  std::string currency = "usd";
  int64_t default_hold_amount = 25000;
  int64_t rate_limit_per_minute = 10;
  // CHITTYCHARGE_IN_FLIGHT: requests in flight per process, each on a fiber. Its old name,
  // CHITTYCHARGE_THREADS, is read for one more release when the new one is unset; both set
  // to different values is refused.
  int in_flight = 256;
  int loops = 2;  // CHITTYCHARGE_LOOPS: event-loop threads per process that run them
  // UPSTREAM_MAX_IDLE_CONNECTIONS (1..4096; unset: 2 × in_flight): connections to Stripe
  // and ChittyID together that a worker process keeps open between requests, shared out
  // evenly among its loops (at least 1 each). Set it at least to what the load has in
  // flight upstream at once: beyond it, each transfer opens a new connection and closes
  // one as it ends (docs/performance.md "Connection cache").
  int64_t upstream_max_idle_connections = 0;
  // UPSTREAM_IDLE_TIMEOUT_S (1..3600): a kept connection idle this long is closed (when
  // the next transfer starts, or once the loop has made none for this long).
  int64_t upstream_idle_timeout_s = 60;
  std::string ca_file;                // extra CA bundle for outbound TLS ("" = system trust)
  long stripe_timeout_ms = 10000;     // NOLINT(google-runtime-int): curl's type
  long chitty_id_timeout_ms = 2000;   // NOLINT(google-runtime-int): curl's type
  int64_t reconcile_interval_s = 15;  // PENDING ChittyIDs are retried this often
  // A Stripe intent still pending this long after it began is the reconciler's to finish
  // (its worker died or lost the ledger between Stripe's answer and the record). Longer
  // than any request lives (nginx's fastcgi_read_timeout, 60 s), so an intent whose POST is
  // still waiting on Stripe is never settled as not applied under it.
  int64_t intent_grace_s = 180;
  int64_t jobs_interval_s = 60;  // CHITTYCHARGE_JOBS_INTERVAL_S: chittycharge-jobs runs this often
  int64_t open_holds_interval_s = 300;  // RECONCILE_INTERVAL_S: open holds vs Stripe
  int64_t reconcile_rate_per_s = 10;    // RECONCILE_RATE_PER_S: its Stripe reads per second
  // REAUTH_MARGIN_H: a hold with `reauthorize` is re-authorized this many hours before its
  // expires_at (1..96: less than Visa's 4 d 18 h merchant-initiated window, so a fresh
  // re-authorization is never due at once again).
  int64_t reauth_margin_h = 24;
  // TIER_LIMITS_<CUR>=new,verified,premium per currency (claims/currency.h): the Part 1
  // figures for the two-decimal ones, none for jpy until TIER_LIMITS_JPY is set.
  claims::CurrencyLimits tier_limits = claims::CurrencyLimits::Defaults();
  // Notifications to client apps (docs/notifications.md): each client's URL, and the keys
  // that sign them (secrets; the first one first, every one signs while rotating).
  std::vector<ClientWebhook> client_webhooks;  // CHITTYCHARGE_CLIENT_WEBHOOKS
  std::vector<std::string> notify_secrets;     // CHITTYCHARGE_NOTIFY_SECRET
  // The faces (CONTRACT.md Part 3). CHITTYCHARGE_PUBLIC_URL: the base URL guests and
  // operators reach (guest links start with it; http(s)://, no path, no trailing slash).
  std::string public_url = "https://127.0.0.1:8443";
  // STRIPE_PUBLISHABLE_KEY: for Stripe.js on the guest page (pk_test_… / pk_live_…, the
  // same mode as STRIPE_SECRET_KEY); "" ⇒ the page cannot take a card.
  std::string stripe_publishable_key;
  int64_t guest_link_ttl_h = 72;     // GUEST_LINK_TTL_H (1..720): how long a guest link works
  std::vector<std::string> notices;  // start-up warnings (a deprecated name in use), for the log
};

using Getenv = std::function<const char*(const char*)>;

Result<Config> Load(const Getenv& getenv);

// "name:token[:MAX_TIER[:RATE]]" entries, comma-separated.
Result<std::vector<ClientToken>> ParseClientTokens(std::string_view spec, int64_t default_rate);

// "name=URL" entries, comma-separated; each name one of `clients`, once. A URL is https,
// or http to a loopback address (127.0.0.0/8, [::1], localhost); no credentials, spaces
// or fragment.
Result<std::vector<ClientWebhook>> ParseClientWebhooks(std::string_view spec,
                                                       const std::vector<ClientToken>& clients);
// Whether a webhook URL is acceptable (the rule above); the reason when not.
std::optional<std::string> BadWebhookUrl(std::string_view url);

bool SupportedCurrency(std::string_view lower_case_code);

}  // namespace cc::config
