#include "config/config.h"

#include <boost/test/unit_test.hpp>
#include <map>

#include "test_util.h"

namespace cc::config {
namespace {

Result<Config> LoadFrom(std::map<std::string, std::string> env) {
  return Load([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_config)

BOOST_AUTO_TEST_CASE(defaults_with_the_original_single_token) {
  auto c = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "tok"}});
  REQUIRE_OK(c);
  BOOST_TEST(c->stripe_api_base == "https://api.stripe.com");
  BOOST_TEST(c->currency == "usd");
  BOOST_TEST(c->default_hold_amount == 25000);
  BOOST_TEST(c->rate_limit_per_minute == 10);
  BOOST_REQUIRE_EQUAL(c->clients.size(), 1U);
  BOOST_TEST(c->clients[0].token == "tok");
  BOOST_TEST((c->clients[0].max_tier == Tier::kPremiumProperty));
  BOOST_TEST(c->in_flight == 256);
  BOOST_TEST(c->loops == 2);
  BOOST_TEST(c->notices.empty());
}

BOOST_AUTO_TEST_CASE(reauth_margin_defaults_to_a_day_and_stays_under_visas_window) {
  auto c = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "t"}});
  REQUIRE_OK(c);
  BOOST_TEST(c->reauth_margin_h == 24);
  auto set = LoadFrom(
      {{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "t"}, {"REAUTH_MARGIN_H", "48"}});
  REQUIRE_OK(set);
  BOOST_TEST(set->reauth_margin_h == 48);
  for (const char* bad : {"0", "97", "1.5", "day"}) {
    auto refused = LoadFrom(
        {{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "t"}, {"REAUTH_MARGIN_H", bad}});
    REQUIRE_ERROR(refused);
    BOOST_TEST(refused.error().message.find("REAUTH_MARGIN_H") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(the_faces_public_url_publishable_key_and_guest_link_ttl) {
  auto c = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "t"}});
  REQUIRE_OK(c);
  BOOST_TEST(c->public_url == "https://127.0.0.1:8443");
  BOOST_TEST(c->stripe_publishable_key.empty());
  BOOST_TEST(c->guest_link_ttl_h == 72);
  auto set = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"},
                       {"CHITTY_ID_TOKEN", "t"},
                       {"CHITTYCHARGE_PUBLIC_URL", "https://pay.example.com/"},
                       {"STRIPE_PUBLISHABLE_KEY", "pk_test_sandbox"},
                       {"GUEST_LINK_TTL_H", "24"}});
  REQUIRE_OK(set);
  BOOST_TEST(set->public_url == "https://pay.example.com");  // the trailing slash dropped
  BOOST_TEST(set->stripe_publishable_key == "pk_test_sandbox");
  BOOST_TEST(set->guest_link_ttl_h == 24);
  const std::vector<std::pair<std::string, std::string>> refused_env = {
      {"CHITTYCHARGE_PUBLIC_URL", "ftp://x"},
      {"CHITTYCHARGE_PUBLIC_URL", "https://x.example/pay"},
      {"CHITTYCHARGE_PUBLIC_URL", "https://user@x.example"},
      {"STRIPE_PUBLISHABLE_KEY", "sk_test_x"},
      {"STRIPE_PUBLISHABLE_KEY", "pk_live_x"},  // with a test secret key
      {"GUEST_LINK_TTL_H", "0"},
      {"GUEST_LINK_TTL_H", "721"},
  };
  for (const auto& [name, value] : refused_env) {
    auto refused =
        LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "t"}, {name, value}});
    REQUIRE_ERROR(refused);
    BOOST_TEST(refused.error().message.find(name) != std::string::npos, name << "=" << value);
  }
}

BOOST_AUTO_TEST_CASE(requests_in_flight_and_event_loops) {
  auto c = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"},
                     {"CHITTY_ID_TOKEN", "t"},
                     {"CHITTYCHARGE_IN_FLIGHT", "64"},
                     {"CHITTYCHARGE_LOOPS", "3"}});
  REQUIRE_OK(c);
  BOOST_TEST(c->in_flight == 64);
  BOOST_TEST(c->loops == 3);
  BOOST_TEST(c->notices.empty());
}

BOOST_AUTO_TEST_CASE(upstream_connection_cache) {
  const std::map<std::string, std::string> base{{"STRIPE_SECRET_KEY", "sk_test_x"},
                                                {"CHITTY_ID_TOKEN", "t"}};
  auto defaults = LoadFrom(base);
  REQUIRE_OK(defaults);
  BOOST_TEST(defaults->upstream_max_idle_connections == 512);  // 2 × CHITTYCHARGE_IN_FLIGHT
  BOOST_TEST(defaults->upstream_idle_timeout_s == 60);
  auto env = base;
  env["CHITTYCHARGE_IN_FLIGHT"] = "100";
  auto scaled = LoadFrom(env);
  REQUIRE_OK(scaled);
  BOOST_TEST(scaled->upstream_max_idle_connections == 200);
  env["UPSTREAM_MAX_IDLE_CONNECTIONS"] = "12";
  env["UPSTREAM_IDLE_TIMEOUT_S"] = "5";
  auto c = LoadFrom(env);
  REQUIRE_OK(c);
  BOOST_TEST(c->upstream_max_idle_connections == 12);
  BOOST_TEST(c->upstream_idle_timeout_s == 5);
}

BOOST_AUTO_TEST_CASE(chittycharge_threads_is_read_as_the_old_name_of_in_flight) {
  const std::map<std::string, std::string> base{{"STRIPE_SECRET_KEY", "sk_test_x"},
                                                {"CHITTY_ID_TOKEN", "t"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    auto e = base;
    e.merge(extra);
    return LoadFrom(e);
  };
  // Alone, the old name still sets it, with a notice for the log.
  auto old_only = with({{"CHITTYCHARGE_THREADS", "48"}});
  REQUIRE_OK(old_only);
  BOOST_TEST(old_only->in_flight == 48);
  BOOST_REQUIRE_EQUAL(old_only->notices.size(), 1U);
  BOOST_TEST(old_only->notices[0].find("CHITTYCHARGE_IN_FLIGHT") != std::string::npos);
  // Both set to the same value: fine (a half-done rename), still the notice.
  auto same = with({{"CHITTYCHARGE_IN_FLIGHT", "48"}, {"CHITTYCHARGE_THREADS", "048"}});
  REQUIRE_OK(same);
  BOOST_TEST(same->in_flight == 48);
  BOOST_TEST(same->notices.size() == 1U);
  // An empty old name counts as unset.
  auto empty_old = with({{"CHITTYCHARGE_IN_FLIGHT", "32"}, {"CHITTYCHARGE_THREADS", ""}});
  REQUIRE_OK(empty_old);
  BOOST_TEST(empty_old->in_flight == 32);
  BOOST_TEST(empty_old->notices.empty());
  // Both set and different: refused at start, naming both.
  auto differ = with({{"CHITTYCHARGE_IN_FLIGHT", "64"}, {"CHITTYCHARGE_THREADS", "128"}});
  REQUIRE_ERROR(differ);
  BOOST_TEST(differ.error().code == "invalid_config");
  BOOST_TEST(differ.error().param == "CHITTYCHARGE_IN_FLIGHT");
  BOOST_TEST(differ.error().message ==
             "CHITTYCHARGE_IN_FLIGHT: is 64 but CHITTYCHARGE_THREADS, its old name, is 128: set "
             "only CHITTYCHARGE_IN_FLIGHT");
}

BOOST_AUTO_TEST_CASE(client_tokens_with_caps_and_rates) {
  auto c = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"},
                     {"RATE_LIMIT_PER_MINUTE", "7"},
                     {"CHITTYCHARGE_API_TOKENS", "a:ta, b:tb:VERIFIED_GUEST ,c:tc:NEW_GUEST:99"}});
  REQUIRE_OK(c);
  BOOST_REQUIRE_EQUAL(c->clients.size(), 3U);
  BOOST_TEST(c->clients[0].rate_per_minute == 7);
  BOOST_TEST((c->clients[1].max_tier == Tier::kVerifiedGuest));
  BOOST_TEST(c->clients[2].rate_per_minute == 99);
  BOOST_TEST((c->clients[2].max_tier == Tier::kNewGuest));
}

BOOST_AUTO_TEST_CASE(token_caps) {
  BOOST_TEST(TierAllowed(Tier::kNewGuest, Tier::kVerifiedGuest));
  BOOST_TEST(TierAllowed(Tier::kVerifiedGuest, Tier::kVerifiedGuest));
  BOOST_TEST(!TierAllowed(Tier::kPremiumProperty, Tier::kVerifiedGuest));
  BOOST_TEST(TierLimit(Tier::kNewGuest) == 250000);
  BOOST_TEST(TierLimit(Tier::kVerifiedGuest) == 500000);
  BOOST_TEST(TierLimit(Tier::kPremiumProperty) == 1000000);
}

BOOST_AUTO_TEST_CASE(the_files_host_defaults_to_stripes_or_follows_the_api_base) {
  const std::map<std::string, std::string> base{{"STRIPE_SECRET_KEY", "sk_test_x"},
                                                {"CHITTY_ID_TOKEN", "t"}};
  auto plain = LoadFrom(base);
  REQUIRE_OK(plain);
  BOOST_TEST(plain->stripe_files_base == "https://files.stripe.com");
  auto env = base;
  env["STRIPE_API_BASE"] = "https://127.0.0.1:8443/";
  auto sandbox = LoadFrom(env);
  REQUIRE_OK(sandbox);
  BOOST_TEST(sandbox->stripe_files_base == "https://127.0.0.1:8443");
  env["STRIPE_FILES_BASE"] = "https://files.example.test/";
  auto own = LoadFrom(env);
  REQUIRE_OK(own);
  BOOST_TEST(own->stripe_files_base == "https://files.example.test");
  env["STRIPE_SECRET_KEY"] = "sk_live_x";
  env["STRIPE_FILES_BASE"] = "http://files.example.test";
  auto refused = LoadFrom(env);
  REQUIRE_ERROR(refused);
  BOOST_TEST(refused.error().message.find("STRIPE_FILES_BASE") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_variable) {
  struct Case {
    std::map<std::string, std::string> env;
    const char* variable;
  };
  const std::map<std::string, std::string> base{{"STRIPE_SECRET_KEY", "sk_test_x"},
                                                {"CHITTY_ID_TOKEN", "t"}};
  auto with = [&](std::string k, std::string v) {
    auto e = base;
    e[k] = v;
    return e;
  };
  const Case cases[] = {
      {{{"CHITTY_ID_TOKEN", "t"}}, "STRIPE_SECRET_KEY"},
      {with("STRIPE_SECRET_KEY", "pk_test_x"), "STRIPE_SECRET_KEY"},
      {with("STRIPE_SECRET_KEY", "sk_live_x"), ""},  // https default: fine
      {[&] {
         auto e = with("STRIPE_SECRET_KEY", "sk_live_x");
         e["STRIPE_API_BASE"] = "http://127.0.0.1:1";
         return e;
       }(),
       "STRIPE_API_BASE"},
      {[&] {
         auto e = with("STRIPE_SECRET_KEY", "rk_live_x");
         e["STRIPE_API_BASE"] = "http://x";
         return e;
       }(),
       "STRIPE_API_BASE"},
      {[&] {  // a guest link's token over plain HTTP
         auto e = with("STRIPE_SECRET_KEY", "sk_live_x");
         e["CHITTYCHARGE_PUBLIC_URL"] = "http://pay.example.com";
         return e;
       }(),
       "CHITTYCHARGE_PUBLIC_URL"},
      {with("CHITTYCHARGE_PUBLIC_URL", "http://127.0.0.1:8080"), ""},  // test keys: the sandbox
      {with("CURRENCY", "jpy"), "CURRENCY"},
      {with("MEMCACHED_SERVERS", "not a server list"), "MEMCACHED_SERVERS"},
      {with("RATE_LIMIT_PER_MINUTE", "ten"), "RATE_LIMIT_PER_MINUTE"},
      {with("CHITTYCHARGE_IN_FLIGHT", "0"), "CHITTYCHARGE_IN_FLIGHT"},
      {with("CHITTYCHARGE_IN_FLIGHT", "1025"), "CHITTYCHARGE_IN_FLIGHT"},
      {with("CHITTYCHARGE_THREADS", "0"), "CHITTYCHARGE_THREADS"},
      {with("CHITTYCHARGE_LOOPS", "0"), "CHITTYCHARGE_LOOPS"},
      {with("CHITTYCHARGE_LOOPS", "65"), "CHITTYCHARGE_LOOPS"},
      {with("UPSTREAM_MAX_IDLE_CONNECTIONS", "0"), "UPSTREAM_MAX_IDLE_CONNECTIONS"},
      {with("UPSTREAM_MAX_IDLE_CONNECTIONS", "4097"), "UPSTREAM_MAX_IDLE_CONNECTIONS"},
      {with("UPSTREAM_MAX_IDLE_CONNECTIONS", "many"), "UPSTREAM_MAX_IDLE_CONNECTIONS"},
      {with("UPSTREAM_IDLE_TIMEOUT_S", "0"), "UPSTREAM_IDLE_TIMEOUT_S"},
      {with("UPSTREAM_IDLE_TIMEOUT_S", "3601"), "UPSTREAM_IDLE_TIMEOUT_S"},
      {with("UPSTREAM_IDLE_TIMEOUT_S", "60s"), "UPSTREAM_IDLE_TIMEOUT_S"},
      {with("DEFAULT_HOLD_AMOUNT_CENTS", "10"), "DEFAULT_HOLD_AMOUNT_CENTS"},
      {with("CHITTYCHARGE_API_TOKENS", "nocolon"), "CHITTYCHARGE_API_TOKENS"},
      {with("CHITTYCHARGE_API_TOKENS", "a:t:GOLD"), "CHITTYCHARGE_API_TOKENS"},
      {with("CHITTYCHARGE_API_TOKENS", "a:t,a:u"), "CHITTYCHARGE_API_TOKENS"},
      {with("CHITTYCHARGE_API_TOKENS", "alpha:t,Alpha:u"), "CHITTYCHARGE_API_TOKENS"},
      {{{"STRIPE_SECRET_KEY", "sk_test_x"}}, "CHITTYCHARGE_API_TOKENS"},
  };
  for (const auto& c : cases) {
    auto r = LoadFrom(c.env);
    if (std::string(c.variable).empty()) {
      REQUIRE_OK(r);
      continue;
    }
    REQUIRE_ERROR(r);
    BOOST_TEST(r.error().param == c.variable);
    const auto key = c.env.find("STRIPE_SECRET_KEY");
    if (key != c.env.end()) BOOST_TEST(r.error().message.find(key->second) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(webhook_secrets_split_for_rotation) {
  auto c = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"},
                     {"CHITTY_ID_TOKEN", "t"},
                     {"STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new"}});
  REQUIRE_OK(c);
  BOOST_TEST(c->webhook_secrets == (std::vector<std::string>{"whsec_old", "whsec_new"}));
}

BOOST_AUTO_TEST_CASE(tier_limits_per_currency) {
  using claims::Currency;
  using claims::TierLimits;
  const std::map<std::string, std::string> base{{"STRIPE_SECRET_KEY", "sk_test_x"},
                                                {"CHITTY_ID_TOKEN", "t"}};
  auto defaults = LoadFrom(base);
  REQUIRE_OK(defaults);
  BOOST_TEST((defaults->tier_limits.For(Currency::kUsd) == TierLimits{250000, 500000, 1000000}));
  BOOST_TEST((defaults->tier_limits.For(Currency::kAud) == TierLimits{250000, 500000, 1000000}));
  BOOST_TEST(!defaults->tier_limits.For(Currency::kJpy).has_value());

  auto env = base;
  env.insert({{"TIER_LIMITS_JPY", "30000,60000,120000"},
              {"TIER_LIMITS_USD", "100000,200000,400000"},
              {"TIER_LIMITS_EUR", ""}});  // empty = unset
  auto set = LoadFrom(env);
  REQUIRE_OK(set);
  BOOST_TEST((set->tier_limits.For(Currency::kJpy) == TierLimits{30000, 60000, 120000}));
  BOOST_TEST((set->tier_limits.For(Currency::kUsd) == TierLimits{100000, 200000, 400000}));
  BOOST_TEST((set->tier_limits.For(Currency::kEur) == TierLimits{250000, 500000, 1000000}));
}

BOOST_AUTO_TEST_CASE(a_bad_tier_limits_value_refuses_to_start) {
  for (const char* bad : {"30000,60000", "60000,30000,120000", "1,2,3", "a,b,c"}) {
    auto c = LoadFrom(
        {{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "t"}, {"TIER_LIMITS_JPY", bad}});
    REQUIRE_ERROR(c);
    BOOST_TEST(c.error().param == "TIER_LIMITS_JPY", bad);
    BOOST_TEST(c.error().message.starts_with("TIER_LIMITS_JPY: "), c.error().message);
  }
}

BOOST_AUTO_TEST_CASE(client_webhooks_and_the_secrets_that_sign_them) {
  auto c =
      LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"},
                {"CHITTYCHARGE_API_TOKENS", "alpha:ta,beta:tb,gamma:tc"},
                {"CHITTYCHARGE_CLIENT_WEBHOOKS",
                 " alpha=https://hooks.example.com/cc?x=1 , beta=http://127.0.0.1:9000/hook,"
                 "gamma=http://[::1]:8080/"},
                {"CHITTYCHARGE_NOTIFY_SECRET", "secret_new_0123456789, secret_old_0123456789"}});
  REQUIRE_OK(c);
  BOOST_REQUIRE_EQUAL(c->client_webhooks.size(), 3U);
  BOOST_TEST(c->client_webhooks[0].client == "alpha");
  BOOST_TEST(c->client_webhooks[0].url == "https://hooks.example.com/cc?x=1");
  BOOST_TEST(c->client_webhooks[1].url == "http://127.0.0.1:9000/hook");
  BOOST_TEST(c->client_webhooks[2].url == "http://[::1]:8080/");
  BOOST_TEST(c->notify_secrets ==
                 (std::vector<std::string>{"secret_new_0123456789", "secret_old_0123456789"}),
             boost::test_tools::per_element());
  BOOST_TEST(c->notices.empty());
  auto none = LoadFrom({{"STRIPE_SECRET_KEY", "sk_test_x"}, {"CHITTY_ID_TOKEN", "t"}});
  REQUIRE_OK(none);
  BOOST_TEST(none->client_webhooks.empty());
  BOOST_TEST(none->notify_secrets.empty());
}

BOOST_AUTO_TEST_CASE(a_bad_client_webhook_is_refused_naming_the_variable) {
  const std::map<std::string, std::string> base{{"STRIPE_SECRET_KEY", "sk_test_x"},
                                                {"CHITTYCHARGE_API_TOKENS", "alpha:ta,beta:tb"},
                                                {"CHITTYCHARGE_NOTIFY_SECRET", "s3cret"}};
  for (const char* spec : {
           "alpha=http://hooks.example.com/cc",                  // plain http off loopback
           "alpha=http://10.0.0.1/cc",                           // not loopback
           "alpha=http://127.0.0.1.evil.com/",                   // a name, not an address
           "alpha=http://128.0.0.1/",                            // 127/8 only
           "alpha=http://[::2]/",                                // not ::1
           "alpha=https://user:pw@hooks.example/",               // credentials
           "alpha=http://127.0.0.1@evil.com/",                   // the host is evil.com
           "alpha=ftp://hooks.example.com/",                     // not http(s)
           "alpha=https:///nohost",                              // no host
           "alpha=https://h.example:99999/",                     // port out of range
           "alpha=https://h.example/a b",                        // a space
           "alpha=https://h.example/#frag",                      // a fragment
           "alpha",                                              // no =
           "=https://h.example/",                                // no name
           "delta=https://h.example/",                           // not a configured client
           "alpha=https://a.example/,alpha=https://b.example/",  // twice
       }) {
    auto env = base;
    env["CHITTYCHARGE_CLIENT_WEBHOOKS"] = spec;
    auto c = LoadFrom(env);
    BOOST_TEST_INFO(spec);
    REQUIRE_ERROR(c);
    BOOST_TEST(c.error().code == "invalid_config");
    BOOST_TEST(c.error().param == "CHITTYCHARGE_CLIENT_WEBHOOKS");
    BOOST_TEST(c.error().message.starts_with("CHITTYCHARGE_CLIENT_WEBHOOKS: "));
    BOOST_TEST(c.error().message.find("evil") == std::string::npos);  // URLs are not echoed
  }
  for (const char* loopback : {"http://localhost:8080/x", "http://127.1.2.3/", "http://[::1]/"}) {
    BOOST_TEST_INFO(loopback);
    BOOST_TEST(!BadWebhookUrl(loopback).has_value());
  }
}

BOOST_AUTO_TEST_CASE(webhooks_need_a_notify_secret_and_a_short_one_is_a_notice) {
  std::map<std::string, std::string> env{
      {"STRIPE_SECRET_KEY", "sk_test_x"},
      {"CHITTYCHARGE_API_TOKENS", "alpha:ta"},
      {"CHITTYCHARGE_CLIENT_WEBHOOKS", "alpha=https://h.example/"}};
  auto missing = LoadFrom(env);
  REQUIRE_ERROR(missing);
  BOOST_TEST(missing.error().param == "CHITTYCHARGE_NOTIFY_SECRET");
  env["CHITTYCHARGE_NOTIFY_SECRET"] = " , ";
  REQUIRE_ERROR(LoadFrom(env));
  env["CHITTYCHARGE_NOTIFY_SECRET"] = "k9q";
  auto weak = LoadFrom(env);
  REQUIRE_OK(weak);
  BOOST_REQUIRE_EQUAL(weak->notices.size(), 1U);
  BOOST_TEST(weak->notices[0].find("CHITTYCHARGE_NOTIFY_SECRET") != std::string::npos);
  BOOST_TEST(weak->notices[0].find("k9q") == std::string::npos);  // never the secret itself
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::config
