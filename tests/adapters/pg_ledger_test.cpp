// Tests for ledger/pg_ledger.h against a real PostgreSQL (tests/adapters/postgres_process.h):
// the behaviour it shares with InMemoryLedger, concurrency, the service role's grants,
// and connection loss.
#include "ledger/pg_ledger.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "ledger/ledger_behaviour.h"
#include "ledger/migrations.h"
#include "ledger/pg_migrate.h"
#include "ledger/socket_waiter.h"
#include "memcached_process.h"
#include "postgres_process.h"

namespace cc::ledger {
namespace {

using cc::testing::PostgresCluster;
using cc::testing::SharedCluster;

constexpr const char* kServiceRole = "chittycharge_svc";

std::vector<Migration> RepositoryMigrations() {
  auto files = LoadMigrations(CC_SOURCE_DIR "/db/migrations");
  BOOST_REQUIRE_MESSAGE(files.has_value(), files.error().message);
  return *files;
}

// A migrated database to copy, and the service role with its grants: made once.
const std::string& MigratedTemplate() {
  static const std::string name = [] {
    PostgresCluster& cluster = SharedCluster();
    const std::string db = cluster.CreateDatabase();
    PollSocketWaiter waiter;
    auto report = ApplyMigrations(cluster.Conninfo(db), RepositoryMigrations(), waiter);
    BOOST_REQUIRE_MESSAGE(report.has_value(), report.error().message);
    cluster.Sql("postgres", std::string("CREATE ROLE ") + kServiceRole + " LOGIN");
    auto granted = GrantServiceRole(cluster.Conninfo(db), kServiceRole, waiter);
    BOOST_REQUIRE_MESSAGE(granted.has_value(), granted.error().message);
    return db;
  }();
  return name;
}

PgLedgerOptions Options(const std::string& conninfo) {
  PgLedgerOptions o;
  o.conninfo = conninfo;
  o.connect_timeout_ms = 5000;
  o.statement_timeout_ms = 10000;
  o.min_backoff_ms = 50;
  o.max_backoff_ms = 400;
  return o;
}

// A fresh, migrated database; the ledger connects as the restricted service role, so
// every behaviour also proves the grants suffice.
struct FreshPgLedger {
  PollSocketWaiter waiter;
  std::string db = SharedCluster().CreateDatabase(MigratedTemplate());
  PgLedger ledger{Options(SharedCluster().Conninfo(db, kServiceRole)), waiter};
};

BOOST_AUTO_TEST_SUITE(ledger_pg_ledger)

CC_LEDGER_BEHAVIOUR_CASES(FreshPgLedger)

BOOST_FIXTURE_TEST_CASE(a_webhook_event_is_new_once_under_20_concurrent_recorders, FreshPgLedger) {
  constexpr int kRecorders = 20;
  constexpr int kEvents = 30;
  std::mutex mu;
  std::map<int, int> news;  // event → how many recorders were told "new"
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kRecorders; ++t) {
    threads.emplace_back([&] {
      PgLedger own(Options(SharedCluster().Conninfo(db, kServiceRole)), waiter);
      for (int i = 0; i < kEvents; ++i) {
        auto r = own.RecordWebhookEvent("evt_concurrent_" + std::to_string(i), behaviour::kNow);
        if (!r) {
          failures.fetch_add(1);
        } else if (*r) {
          const std::lock_guard lock(mu);
          ++news[i];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(news.size() == static_cast<size_t>(kEvents));
  for (const auto& [event, count] : news) {
    BOOST_TEST_INFO("event " << event);
    BOOST_TEST(count == 1);
  }
}

// The parts of `n` creates named by `tag`: intents k<tag>N, holds pi_<tag>N and their
// created events evt_<tag>N.
struct CreateParts {
  std::vector<StripeIntent> intents;
  std::vector<Hold> holds;
  std::vector<Event> events;
};
CreateParts Creates(const std::string& tag, int n) {
  CreateParts parts;
  for (int i = 0; i < n; ++i) {
    const std::string pi = "pi_" + tag + std::to_string(i);
    parts.intents.push_back(behaviour::MakeIntent("k" + tag + std::to_string(i), behaviour::kNow));
    parts.holds.push_back(behaviour::MakeHold(pi, "alpha", behaviour::kNow));
    parts.events.push_back(behaviour::MakeEvent("evt_" + tag + std::to_string(i), pi, "created"));
    parts.events.back().status_after = parts.holds.back().status;
  }
  return parts;
}

// The shared behaviours pass whether or not a batch statement settles anything (what it
// leaves goes one by one); this pins that clean batches are one statement.
BOOST_FIXTURE_TEST_CASE(clean_batches_are_settled_by_their_statement, FreshPgLedger) {
  auto [intents, holds, events] = Creates("s", 5);
  std::vector<const StripeIntent*> each;
  for (const StripeIntent& i : intents) each.push_back(&i);
  for (const auto& begun : ledger.BeginIntents(each)) REQUIRE_OK(begun);
  BOOST_TEST(ledger.batch_settled() == 5U);
  std::vector<CreateRecord> records;
  for (size_t i = 0; i < holds.size(); ++i) {
    records.push_back({&holds[i], &events[i], intents[i].idempotency_key, "{}", behaviour::kNow});
  }
  for (const Status& recorded : ledger.RecordCreates(records)) REQUIRE_OK(recorded);
  BOOST_TEST(ledger.batch_settled() == 10U);
  // Repeats are settled one by one, with the same answers.
  for (const Status& again : ledger.RecordCreates(records)) REQUIRE_OK(again);
  BOOST_TEST(ledger.batch_settled() == 10U);
  BOOST_TEST(ledger.ListEvents("pi_s3", "", 10)->data.size() == 1U);
}

BOOST_FIXTURE_TEST_CASE(concurrent_appenders_get_distinct_consecutive_seqs, FreshPgLedger) {
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_c", "main", behaviour::kNow)));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      PgLedger own(Options(SharedCluster().Conninfo(db, kServiceRole)), waiter);
      for (int i = 0; i < 10; ++i) {
        const std::string id = "evt_" + std::to_string(t) + "_" + std::to_string(i);
        if (!own.AppendEvent(behaviour::MakeEvent(id, "pi_c", "reconciled"))) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(failures.load() == 0);
  auto page = ledger.ListEvents("pi_c", "", 100);
  REQUIRE_OK(page);
  BOOST_REQUIRE(page->data.size() == 40U);
  for (size_t i = 0; i < page->data.size(); ++i) {
    BOOST_TEST(page->data[i].seq == static_cast<int64_t>(i) + 1);
  }
}

BOOST_FIXTURE_TEST_CASE(the_service_role_cannot_update_or_delete_audit_rows, FreshPgLedger) {
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_a", "main", behaviour::kNow)));
  REQUIRE_OK(ledger.AppendEvent(behaviour::MakeEvent("evt_a", "pi_a", "created")));
  auto conn = PgConnection::Connect(SharedCluster().Conninfo(db, kServiceRole), waiter, 5000);
  REQUIRE_OK(conn);
  for (const char* sql :
       {"UPDATE audit_events SET type = 'canceled'", "DELETE FROM audit_events",
        "TRUNCATE audit_events", "DELETE FROM schema_migrations", "DROP TABLE audit_events"}) {
    auto refused = (*conn)->ExecScript(sql, 5000);
    REQUIRE_OK(refused);
    BOOST_TEST_INFO(sql);
    BOOST_TEST(refused->sqlstate.substr(0, 2) ==
               "42");  // 42501 insufficient_privilege, 42501/42501
  }
  auto read = (*conn)->ExecScript("SELECT count(*) FROM audit_events", 5000);
  REQUIRE_OK(read);
  BOOST_REQUIRE(read->ok());
  BOOST_TEST(read->rows.at(0).at(0).value_or("") == "1");
  auto page = ledger.ListEvents("pi_a", "", 10);
  REQUIRE_OK(page);
  BOOST_REQUIRE(page->data.size() == 1U);
  BOOST_TEST(page->data[0].type == "created");
}

std::string Count(PgConnection& conn, const std::string& sql) {
  auto rows = conn.ExecScript(sql, 5000);
  BOOST_REQUIRE(rows.has_value());
  BOOST_REQUIRE_MESSAGE(rows->ok(), rows->message);
  return rows->rows.at(0).at(0).value_or("NULL");
}

// 0015 moved the one-column CHECKs into domains: each bad value is still refused
// (check_violation), by the service role's own statements too, and nothing is written.
BOOST_FIXTURE_TEST_CASE(the_schema_refuses_what_its_checks_refused, FreshPgLedger) {
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_a", "main", behaviour::kNow)));
  auto conn = PgConnection::Connect(SharedCluster().Conninfo(db, kServiceRole), waiter, 5000);
  REQUIRE_OK(conn);
  const auto event = [](const std::string& id, const std::string& type, const std::string& actor,
                        const std::string& detail) {
    return "INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, detail, "
           "created_at) VALUES ('" +
           id + "', 'pi_a', 1, 'c', '" + type + "', '" + actor + "', " + detail + ", now())";
  };
  const std::string hold =
      "INSERT INTO holds (id, chitty_id, client, amount, currency, status, created_at) VALUES ";
  const std::string intent =
      "INSERT INTO stripe_intents (idempotency_key, operation, params_digest, created_at, "
      "state, finished_at) VALUES ";
  const std::string digest(64, 'a');
  for (const std::string& sql : std::vector<std::string>{
           event("evt_1", "no_such_type", "stripe", "'{}'"),
           event("evt_1", "captured", "someone", "'{}'"),
           event("bad_1", "captured", "stripe", "'{}'"),
           event("evt_1", "captured", "stripe", "'[1]'"),
           hold + "('pi_b', 'c1', 'main', 0, 'usd', 'requires_capture', now())",
           hold + "('xx_b', 'c2', 'main', 100, 'usd', 'requires_capture', now())",
           hold + "('pi_b', 'c3', 'main', 100, 'USD', 'requires_capture', now())",
           hold + "('pi_b', 'c4', '', 100, 'usd', 'requires_capture', now())",
           hold + "('pi_b', 'c5', 'main', 100, 'usd', '', now())",
           "INSERT INTO hold_payment_intents VALUES ('pi_x', 'pi_a', -1)",
           "INSERT INTO hold_payment_intents VALUES ('seti_x', 'pi_a', 1)",
           intent + "('k', 'create', '" + digest + "', now(), 'done', now())",
           intent + "('k', 'create', 'not-hex', now(), 'pending', NULL)",
           intent + "('', 'create', '" + digest + "', now(), 'pending', NULL)",
       }) {
    auto refused = (*conn)->ExecScript(sql, 5000);
    REQUIRE_OK(refused);
    BOOST_TEST_INFO(sql);
    BOOST_TEST(refused->sqlstate == "23514");  // check_violation
  }
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM audit_events") == "0");
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM holds") == "1");
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM stripe_intents") == "0");
  // The same rows with good values, NULLs where the columns allow them, are taken.
  for (const std::string& sql : std::vector<std::string>{
           event("evt_1", "captured", "client:main", "'{\"a\":1}'"),
           hold + "('seti_b', 'c6', 'main', 100, 'usd', 'scheduled', now())",
           intent + "('k', 'create', '" + digest + "', now(), 'pending', NULL)",
       }) {
    auto taken = (*conn)->ExecScript(sql, 5000);
    REQUIRE_OK(taken);
    BOOST_TEST_INFO(sql);
    BOOST_TEST(taken->ok(), taken->message);
  }
}

// A migration that changes the type of a column the statements return, under a running
// worker (0015 did): PostgreSQL refuses the prepared statement once ("cached plan must not
// change result type"); the ledger prepares its statements again and the call succeeds.
BOOST_FIXTURE_TEST_CASE(a_column_type_changed_under_the_connection_is_prepared_again,
                        FreshPgLedger) {
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_a", "main", behaviour::kNow)));
  auto before = ledger.FindHold("pi_a");
  REQUIRE_OK(before);
  BOOST_REQUIRE(before->has_value());
  const auto altered =
      SharedCluster().Sql(db,
                          "CREATE DOMAIN test_chitty_id AS text; "
                          "ALTER TABLE holds ALTER COLUMN chitty_id TYPE test_chitty_id");
  BOOST_REQUIRE_MESSAGE(altered.ok(), altered.message);
  auto after = ledger.FindHold("pi_a");
  REQUIRE_OK(after);
  BOOST_REQUIRE(after->has_value());
  BOOST_TEST((*after)->chitty_id == (*before)->chitty_id);
}

// The statements' plans are cached for the connection's life. One made on a new ledger (a
// few rows) must not read a whole table once the table has grown before the next ANALYZE,
// as record_creates' update of stripe_intents did under the bench's load.
BOOST_FIXTURE_TEST_CASE(a_plan_made_on_a_new_ledger_reads_no_whole_table_once_it_grew,
                        FreshPgLedger) {
  auto [intents, holds, events] = Creates("g", 20);
  auto begin = [&](size_t first) {  // two creates' intents in one statement
    const std::vector<const StripeIntent*> two{&intents[first], &intents[first + 1]};
    for (const auto& begun : ledger.BeginIntents(two)) REQUIRE_OK(begun);
  };
  auto record = [&](size_t first) {  // and their records
    std::vector<CreateRecord> two;
    for (size_t i = first; i < first + 2; ++i) {
      two.push_back({&holds[i], &events[i], intents[i].idempotency_key, "{}", behaviour::kNow});
    }
    for (const Status& recorded : ledger.RecordCreates(two)) REQUIRE_OK(recorded);
  };
  // Eight batches: PostgreSQL caches a generic plan after five custom ones.
  for (size_t first = 0; first < 16; first += 2) {
    begin(first);
    record(first);
  }
  BOOST_REQUIRE(ledger.batch_settled() == 32U);
  const auto grown = SharedCluster().Sql(
      db,
      "INSERT INTO stripe_intents (idempotency_key, operation, params_digest, created_at, "
      "request) SELECT 'grown' || n, 'create', md5(n::text) || md5(n::text), now(), '{}' "
      "FROM generate_series(1, 5000) n");
  BOOST_REQUIRE_MESSAGE(grown.ok(), grown.message);
  // A backend publishes its table statistics when it goes idle, at most once a second.
  auto read = [&] {
    const PgRows rows = SharedCluster().Sql(
        db, "SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'stripe_intents'");
    BOOST_REQUIRE_MESSAGE(rows.ok(), rows.message);
    return std::stoll(rows.rows.at(0).at(0).value_or("0"));
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  begin(16);
  const long long before = read();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  record(16);
  BOOST_TEST(ledger.batch_settled() == 36U);
  BOOST_TEST(read() - before < 5000);
}

// --- the notifications outbox (0006_notifications.sql) ---

// The trigger queues a notification in the event's own transaction: inside it the row is
// there, after a rollback neither the event nor its notification is.
BOOST_FIXTURE_TEST_CASE(a_notification_commits_or_rolls_back_with_its_event, FreshPgLedger) {
  const std::vector<std::string> alpha{"alpha"};
  REQUIRE_OK(ledger.SetNotificationClients(alpha));
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_t", "alpha", behaviour::kNow)));
  auto conn = PgConnection::Connect(SharedCluster().Conninfo(db, kServiceRole), waiter, 5000);
  REQUIRE_OK(conn);
  const std::string insert =
      "INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, created_at) "
      "VALUES ('evt_rolled', 'pi_t', 1, 'CHITTY-AUTH-pi_t', 'captured', 'stripe', now())";
  for (const char* sql : {"BEGIN", insert.c_str()}) {
    auto done = (*conn)->ExecScript(sql, 5000);
    REQUIRE_OK(done);
    BOOST_REQUIRE_MESSAGE(done->ok(), done->message);
  }
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM notifications WHERE event_id = 'evt_rolled'") ==
             "1");
  REQUIRE_OK((*conn)->ExecScript("ROLLBACK", 5000));
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM notifications") == "0");
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM audit_events") == "0");
  // A statement that fails after its event insert (a second row breaks a constraint)
  // leaves nothing either.
  auto refused = (*conn)->ExecScript(
      "INSERT INTO audit_events (id, hold_id, seq, chitty_id, type, actor, created_at) VALUES "
      "('evt_ok', 'pi_t', 1, 'c', 'captured', 'stripe', now()), "
      "('evt_bad', 'pi_t', 1, 'c', 'captured', 'stripe', now())",
      5000);
  REQUIRE_OK(refused);
  BOOST_TEST(refused->sqlstate == "23505");
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM notifications") == "0");
  // Committed: exactly one, named after its event.
  REQUIRE_OK(ledger.AppendEvent(behaviour::MakeEvent("evt_kept", "pi_t", "captured")));
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM notifications") == "1");
  BOOST_TEST(Count(**conn, "SELECT id FROM notifications") == "ntf_kept");
}

// Many senders lease at once (each its own connection, as several chittycharge-jobs runs on
// several hosts): no notification is handed to two of them while leased, and a hold's
// notifications are never in flight together and go in event order.
BOOST_FIXTURE_TEST_CASE(concurrent_senders_never_share_a_notification_and_keep_hold_order,
                        FreshPgLedger) {
  constexpr int kHolds = 12;
  constexpr int kEventsPerHold = 4;
  constexpr int kSenders = 4;
  const std::vector<std::string> alpha{"alpha"};
  REQUIRE_OK(ledger.SetNotificationClients(alpha));
  for (int h = 0; h < kHolds; ++h) {
    const std::string pi = "pi_c" + std::to_string(h);
    REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold(pi, "alpha", behaviour::kNow)));
    for (int e = 1; e <= kEventsPerHold; ++e) {
      REQUIRE_OK(ledger.AppendEvent(behaviour::EventAt(
          "evt_c" + std::to_string(h) + "_" + std::to_string(e), pi, behaviour::kNow + e)));
    }
  }
  std::mutex mu;
  std::map<std::string, int64_t> in_flight;  // hold → the seq being sent
  std::map<std::string, int64_t> last_sent;  // hold → the seq of its last delivered one
  std::map<std::string, int> times_leased;
  std::atomic<int> violations{0};
  std::atomic<int> failures{0};
  std::atomic<int> delivered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kSenders; ++t) {
    threads.emplace_back([&] {
      PollSocketWaiter own_waiter;
      PgLedger own(Options(SharedCluster().Conninfo(db, kServiceRole)), own_waiter);
      for (int round = 0; round < 2000; ++round) {
        auto due = own.LeaseDueNotifications(behaviour::kNow + 100, 600, 3);
        if (!due) {
          failures.fetch_add(1);
          return;
        }
        if (due->empty()) {
          if (delivered.load() == kHolds * kEventsPerHold) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
        for (const Notification& n : *due) {
          {
            const std::lock_guard lock(mu);
            ++times_leased[n.id];
            if (in_flight.contains(n.hold_id)) violations.fetch_add(1);
            if (n.event.seq != last_sent[n.hold_id] + 1) violations.fetch_add(1);
            in_flight[n.hold_id] = n.event.seq;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));  // "sending"
          {  // sent: off the books before the record commits, so the next can be leased
            const std::lock_guard lock(mu);
            in_flight.erase(n.hold_id);
            last_sent[n.hold_id] = n.event.seq;
          }
          auto recorded =
              own.RecordNotificationAttempt({n.id, NotificationAttempt::Outcome::kDelivered, "",
                                             std::nullopt, behaviour::kNow + 100});
          if (!recorded || !*recorded) failures.fetch_add(1);
          delivered.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(violations.load() == 0);
  BOOST_TEST(times_leased.size() == static_cast<size_t>(kHolds * kEventsPerHold));
  for (const auto& [id, count] : times_leased) {
    BOOST_TEST_INFO(id);
    BOOST_TEST(count == 1);
  }
  for (const auto& [hold, seq] : last_sent) BOOST_TEST(seq == kEventsPerHold);
}

// The create path's batch statement (record_creates) queues its events' notifications in
// the same statement: still one statement, one commit.
BOOST_FIXTURE_TEST_CASE(a_batch_of_creates_queues_its_notifications_in_its_statement,
                        FreshPgLedger) {
  const std::vector<std::string> alpha{"alpha"};
  REQUIRE_OK(ledger.SetNotificationClients(alpha));
  std::vector<StripeIntent> intents;
  std::vector<Hold> holds;
  std::vector<Event> events;
  for (int n = 0; n < 4; ++n) {
    const std::string pi = "pi_b" + std::to_string(n);
    intents.push_back(behaviour::MakeIntent("kb" + std::to_string(n), behaviour::kNow));
    holds.push_back(behaviour::MakeHold(pi, n % 2 == 0 ? "alpha" : "beta", behaviour::kNow));
    events.push_back(behaviour::MakeEvent("evt_b" + std::to_string(n), pi, "created"));
    events.back().status_after = holds.back().status;
  }
  std::vector<CreateRecord> records;
  for (size_t i = 0; i < holds.size(); ++i) {
    REQUIRE_OK(ledger.BeginIntent(intents[i]));
    records.push_back({&holds[i], &events[i], intents[i].idempotency_key, "{}", behaviour::kNow});
  }
  for (const Status& recorded : ledger.RecordCreates(records)) REQUIRE_OK(recorded);
  BOOST_TEST(ledger.batch_settled() == 4U);  // one statement settled all four
  auto due = ledger.LeaseDueNotifications(behaviour::kNow, 60, 10);
  REQUIRE_OK(due);
  BOOST_TEST(behaviour::Ids(*due) == (std::vector<std::string>{"ntf_b0", "ntf_b2"}),
             boost::test_tools::per_element());  // alpha's only
}

// Every worker process syncs the clients at start, all at once: none of them fails (no
// deadlock between callers adding the same names, whatever order their lists are in).
BOOST_FIXTURE_TEST_CASE(concurrent_syncs_of_the_notification_clients_all_succeed, FreshPgLedger) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      PollSocketWaiter own_waiter;
      PgLedger own(Options(SharedCluster().Conninfo(db, kServiceRole)), own_waiter);
      std::vector<std::string> names{"delta", "charlie", "bravo", "alpha"};
      if (t % 2 == 1) std::reverse(names.begin(), names.end());
      for (int round = 0; round < 25; ++round) {
        const std::vector<std::string> none;
        if (!own.SetNotificationClients(round % 3 == 0 ? none : names)) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(failures.load() == 0);
  const std::vector<std::string> final_set{"alpha", "bravo"};
  REQUIRE_OK(ledger.SetNotificationClients(final_set));
  const PgRows rows = SharedCluster().Sql(db,
                                          "SELECT string_agg(client, ',' ORDER BY client) FROM "
                                          "notification_clients");
  BOOST_REQUIRE(rows.ok());
  BOOST_TEST(rows.rows.at(0).at(0).value_or("") == "alpha,bravo");
}

// What the outbox needs and no more: the service role queues (through the trigger),
// leases, records and syncs; it still may not change the audit trail, nor delete a
// notification.
BOOST_FIXTURE_TEST_CASE(the_service_roles_grants_cover_the_outbox_and_no_more, FreshPgLedger) {
  auto conn = PgConnection::Connect(SharedCluster().Conninfo(db, kServiceRole), waiter, 5000);
  REQUIRE_OK(conn);
  const std::vector<std::string> alpha{"alpha"};
  REQUIRE_OK(ledger.SetNotificationClients(alpha));
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_g", "alpha", behaviour::kNow)));
  REQUIRE_OK(ledger.AppendEvent(behaviour::MakeEvent("evt_g", "pi_g", "created")));
  for (const char* sql :
       {"DELETE FROM notifications", "TRUNCATE notifications",
        "INSERT INTO notifications (id, event_id, hold_id, hold_seq, client, "
        "type, created_at, next_attempt_at) VALUES ('ntf_x', 'evt_g', 'pi_g', "
        "1, 'alpha', 'hold.created', now(), now())",
        "UPDATE audit_events SET type = 'canceled'", "DELETE FROM audit_events"}) {
    auto refused = (*conn)->ExecScript(sql, 5000);
    REQUIRE_OK(refused);
    BOOST_TEST_INFO(sql);
    BOOST_TEST(refused->sqlstate == "42501");
  }
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM notifications") == "1");
  REQUIRE_OK(ledger.SetNotificationClients({}));
  BOOST_TEST(Count(**conn, "SELECT count(*) FROM notification_clients") == "0");
}

// The audit trail never depends on the outbox's grants: with none at all on its tables
// (an upgrade whose grant step was forgotten), events are still recorded and queued (the
// trigger runs as the owner); only the sender's own calls fail.
BOOST_FIXTURE_TEST_CASE(events_are_recorded_and_queued_without_any_grant_on_the_outbox,
                        FreshPgLedger) {
  const std::vector<std::string> alpha{"alpha"};
  REQUIRE_OK(ledger.SetNotificationClients(alpha));
  const PgRows revoked = SharedCluster().Sql(
      db, std::string("REVOKE ALL ON notifications, notification_clients FROM ") + kServiceRole);
  BOOST_REQUIRE_MESSAGE(revoked.ok(), revoked.message);
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_r", "alpha", behaviour::kNow)));
  REQUIRE_OK(ledger.AppendEvent(behaviour::MakeEvent("evt_r", "pi_r", "created")));
  const PgRows queued = SharedCluster().Sql(db, "SELECT id FROM notifications");
  BOOST_REQUIRE(queued.ok());
  BOOST_REQUIRE_EQUAL(queued.rows.size(), 1U);
  BOOST_TEST(queued.rows[0].at(0).value_or("") == "ntf_r");
  REQUIRE_ERROR(ledger.LeaseDueNotifications(behaviour::kNow, 60, 10));
}

BOOST_AUTO_TEST_CASE(an_unmigrated_database_is_internal_and_names_the_migrate_tool) {
  PollSocketWaiter waiter;
  const std::string db = SharedCluster().CreateDatabase();
  PgLedger ledger(Options(SharedCluster().Conninfo(db)), waiter);
  auto r = ledger.Ping();
  REQUIRE_ERROR(r);
  BOOST_TEST((r.error().kind == ErrorKind::kInternal));
  BOOST_TEST(r.error().message.find("chittycharge-migrate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_unavailable) {
  PollSocketWaiter waiter;
  PgLedger ledger(Options("host=127.0.0.1 port=" + std::to_string(cc::testing::FreeLoopbackPort()) +
                          " dbname=x"),
                  waiter);
  auto r = ledger.RecordWebhookEvent("evt_x", behaviour::kNow);
  REQUIRE_ERROR(r);
  BOOST_TEST((r.error().kind == ErrorKind::kUnavailable));
  BOOST_TEST(r.error().code == "service_unavailable");
  BOOST_TEST(!ledger.connected());
}

BOOST_AUTO_TEST_CASE(
    a_lost_connection_is_unavailable_at_once_and_recovers_when_the_server_is_back) {
  PostgresCluster cluster;  // its own: this test stops its server
  cluster.Start();
  PollSocketWaiter waiter;
  auto report = ApplyMigrations(cluster.Conninfo("postgres"), RepositoryMigrations(), waiter);
  REQUIRE_OK(report);
  PgLedger ledger(Options(cluster.Conninfo("postgres")), waiter);
  REQUIRE_OK(ledger.RecordWebhookEvent("evt_before", behaviour::kNow));
  BOOST_TEST(ledger.connected());

  cluster.Stop(SIGQUIT);  // immediate shutdown, by PID: the open connection dies
  auto lost = ledger.RecordWebhookEvent("evt_during", behaviour::kNow);
  REQUIRE_ERROR(lost);
  BOOST_TEST((lost.error().kind == ErrorKind::kUnavailable));
  BOOST_TEST(!ledger.connected());
  const auto start = std::chrono::steady_clock::now();
  auto again = ledger.Ping();  // within the backoff: no network, at once
  REQUIRE_ERROR(again);
  BOOST_TEST((again.error().kind == ErrorKind::kUnavailable));
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::milliseconds(40)));

  cluster.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  Result<bool> back = ledger.RecordWebhookEvent("evt_after", behaviour::kNow);
  while (!back && std::chrono::steady_clock::now() < deadline) {
    BOOST_TEST((back.error().kind == ErrorKind::kUnavailable));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    back = ledger.RecordWebhookEvent("evt_after", behaviour::kNow);
  }
  REQUIRE_OK(back);
  BOOST_TEST(ledger.connected());
  auto before = ledger.RecordWebhookEvent("evt_before", behaviour::kNow);
  REQUIRE_OK(before);
  BOOST_TEST(!*before);  // what was committed before the crash is still there
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::ledger
