// The behaviour every Ledger implementation shares (ledger/ledger.h), as test bodies.
//
// tests/unit/ledger/in_memory_ledger_test.cpp runs them against InMemoryLedger and
// tests/adapters/pg_ledger_test.cpp against PgLedger on a real PostgreSQL, each on a
// fresh, empty ledger: include this file, define a fixture with a `ledger` member
// (a Ledger&-convertible reference or object) and expand CC_LEDGER_BEHAVIOUR_CASES(Fixture).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "test_util.h"

namespace cc::ledger::behaviour {

inline constexpr int64_t kNow = 1760184000;  // 2025-10-11T12:00:00Z

inline Hold MakeHold(const std::string& pi, const std::string& client, int64_t created_at) {
  Hold h;
  h.id = pi;
  h.chitty_id = "CHITTY-AUTH-" + pi;
  h.client = client;
  h.property_id = "prop_1";
  h.tenant_id = "tenant_1";
  h.amount = 25000;
  h.currency = "usd";
  h.status = "requires_capture";
  h.created_at = created_at;
  h.expires_at = created_at + 7 * 86400;
  h.payment_intents = {pi};
  return h;
}

inline Event MakeEvent(const std::string& id, const std::string& hold_id, const std::string& type) {
  Event e;
  e.id = id;
  e.hold_id = hold_id;
  e.chitty_id = "CHITTY-AUTH-" + hold_id;
  e.type = type;
  e.actor = "client:main";
  e.request_id = "req-" + id;
  e.created_at = kNow;
  return e;
}

inline StripeIntent MakeIntent(const std::string& key, int64_t created_at) {
  StripeIntent i;
  i.idempotency_key = key;
  i.operation = "capture";
  i.hold_id = "pi_1";
  i.params_digest = std::string(64, 'a');
  i.created_at = created_at;
  return i;
}

inline std::vector<std::string> Ids(const std::vector<Hold>& holds) {
  std::vector<std::string> ids;
  for (const Hold& h : holds) ids.push_back(h.id);
  return ids;
}

inline std::vector<std::string> Ids(const std::vector<Event>& events) {
  std::vector<std::string> ids;
  for (const Event& e : events) ids.push_back(e.id);
  return ids;
}

inline void records_a_hold_once_and_finds_it_by_any_of_its_ids(Ledger& ledger) {
  Hold h = MakeHold("pi_a", "main", kNow);
  h.tenant_id.clear();
  h.payment_intents = {"pi_a", "pi_a2"};
  auto first = ledger.RecordHold(h);
  REQUIRE_OK(first);
  BOOST_TEST(*first);
  auto again = ledger.RecordHold(h);
  REQUIRE_OK(again);
  BOOST_TEST(!*again);
  for (const char* id : {"pi_a", "pi_a2", "CHITTY-AUTH-pi_a"}) {
    auto found = ledger.FindHold(id);
    REQUIRE_OK(found);
    BOOST_REQUIRE_MESSAGE(found->has_value(), id);
    const Hold& got = **found;
    BOOST_TEST(got.id == "pi_a");
    BOOST_TEST(got.chitty_id == h.chitty_id);
    BOOST_TEST(got.client == "main");
    BOOST_TEST(got.property_id == "prop_1");
    BOOST_TEST(got.tenant_id.empty());
    BOOST_TEST(got.amount == 25000);
    BOOST_TEST(got.currency == "usd");
    BOOST_TEST(got.status == "requires_capture");
    BOOST_TEST(got.created_at == kNow);
    BOOST_TEST((got.expires_at == h.expires_at));
    BOOST_TEST(got.payment_intents == h.payment_intents, boost::test_tools::per_element());
  }
  auto missing = ledger.FindHold("pi_nope");
  REQUIRE_OK(missing);
  BOOST_TEST(!missing->has_value());
  Hold scheduled = MakeHold("seti_s", "main", kNow);
  scheduled.payment_intents.clear();
  scheduled.status = "scheduled";
  scheduled.expires_at.reset();
  REQUIRE_OK(ledger.RecordHold(scheduled));
  auto s = ledger.FindHold("seti_s");
  REQUIRE_OK(s);
  BOOST_REQUIRE(s->has_value());
  BOOST_TEST(!(*s)->expires_at.has_value());
  BOOST_TEST((*s)->payment_intents.empty());
}

inline void refuses_invalid_holds_and_ids_of_another_hold(Ledger& ledger) {
  Hold bad = MakeHold("pi_b", "main", kNow);
  bad.amount = 0;
  auto r = ledger.RecordHold(bad);
  REQUIRE_ERROR(r);
  BOOST_TEST((r.error().kind == ErrorKind::kInvalidArgument));
  bad = MakeHold("pi_b", "main", kNow);
  bad.currency = "USD";
  REQUIRE_ERROR(ledger.RecordHold(bad));
  bad = MakeHold("pi_b", "main", kNow);
  bad.payment_intents = {"pi_other"};
  REQUIRE_ERROR(ledger.RecordHold(bad));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_b", "main", kNow)));
  Hold same_chitty = MakeHold("pi_c", "main", kNow);
  same_chitty.chitty_id = "CHITTY-AUTH-pi_b";
  auto c = ledger.RecordHold(same_chitty);
  REQUIRE_ERROR(c);
  BOOST_TEST((c.error().kind == ErrorKind::kConflict));
  Hold same_pi = MakeHold("pi_d", "main", kNow);
  same_pi.payment_intents = {"pi_d", "pi_b"};
  auto p = ledger.RecordHold(same_pi);
  REQUIRE_ERROR(p);
  BOOST_TEST((p.error().kind == ErrorKind::kConflict));
  auto none = ledger.FindHold("pi_d");  // nothing of the refused hold was kept
  REQUIRE_OK(none);
  BOOST_TEST(!none->has_value());
}

// Five holds, two sharing a created_at: pages of two walk them all, newest first, with
// the tie broken by id, and a hold created meanwhile in the past never shifts a page.
inline void lists_a_clients_holds_newest_first_and_the_cursor_never_skips(Ledger& ledger) {
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_1", "main", kNow)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_2", "main", kNow + 10)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_3", "main", kNow + 10)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_4", "main", kNow + 20)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_5", "main", kNow + 30)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_x", "other", kNow + 40)));
  HoldFilter f;
  f.client = "main";
  f.limit = 2;
  std::vector<std::string> seen;
  for (int page_no = 0; page_no < 5; ++page_no) {
    auto page = ledger.ListHolds(f);
    REQUIRE_OK(page);
    for (const Hold& h : page->data) seen.push_back(h.id);
    if (page_no == 0) REQUIRE_OK(ledger.RecordHold(MakeHold("pi_0", "main", kNow - 5)));
    if (!page->has_more) break;
    f.starting_after = page->data.back().id;
  }
  const std::vector<std::string> expected = {"pi_5", "pi_4", "pi_3", "pi_2", "pi_1", "pi_0"};
  BOOST_TEST(seen == expected, boost::test_tools::per_element());
  f.starting_after = "pi_x";  // another client's hold is no cursor of this list
  auto bad = ledger.ListHolds(f);
  REQUIRE_ERROR(bad);
  BOOST_TEST(bad.error().param == "starting_after");
  f.starting_after.clear();
  f.limit = 101;
  REQUIRE_ERROR(ledger.ListHolds(f));
  f.client.clear();
  f.limit = 10;
  REQUIRE_ERROR(ledger.ListHolds(f));
}

inline void filters_holds_by_property_tenant_status_and_time(Ledger& ledger) {
  Hold a = MakeHold("pi_a", "main", kNow);
  Hold b = MakeHold("pi_b", "main", kNow + 100);
  b.property_id = "prop_2";
  b.expires_at = kNow + 1000;
  Hold c = MakeHold("pi_c", "main", kNow + 200);
  c.tenant_id = "tenant_2";
  c.status = "canceled";
  c.expires_at = kNow + 500;
  for (const Hold& h : {a, b, c}) REQUIRE_OK(ledger.RecordHold(h));
  const auto list = [&](HoldFilter f) {
    f.client = "main";
    auto page = ledger.ListHolds(f);
    BOOST_REQUIRE(page.has_value());
    return Ids(page->data);
  };
  using V = std::vector<std::string>;
  HoldFilter f;
  BOOST_TEST(list(f) == (V{"pi_c", "pi_b", "pi_a"}), boost::test_tools::per_element());
  f.property_id = "prop_2";
  BOOST_TEST(list(f) == V{"pi_b"}, boost::test_tools::per_element());
  f = {};
  f.tenant_id = "tenant_2";
  BOOST_TEST(list(f) == V{"pi_c"}, boost::test_tools::per_element());
  f = {};
  f.status = "requires_capture";
  BOOST_TEST(list(f) == (V{"pi_b", "pi_a"}), boost::test_tools::per_element());
  f = {};
  f.expiring_before = kNow + 1001;  // authorized ones only: c has expired status-wise
  BOOST_TEST(list(f) == V{"pi_b"}, boost::test_tools::per_element());
  f = {};
  f.created_after = kNow;
  f.created_before = kNow + 200;
  BOOST_TEST(list(f) == V{"pi_b"}, boost::test_tools::per_element());
  HoldFilter other;
  other.client = "other";
  auto none = ledger.ListHolds(other);
  REQUIRE_OK(none);
  BOOST_TEST(none->data.empty());
  BOOST_TEST(!none->has_more);
}

inline void appends_events_in_order_and_a_repeat_returns_the_stored_one(Ledger& ledger) {
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_e", "main", kNow)));
  Event created = MakeEvent("evt_1", "pi_e", "created");
  created.status_after = "requires_capture";
  auto first = ledger.AppendEvent(created);
  REQUIRE_OK(first);
  BOOST_TEST(first->seq == 1);
  Event captured = MakeEvent("evt_2", "pi_e", "captured");
  captured.actor = "stripe";
  captured.request_id.clear();
  captured.status_before = "requires_capture";
  captured.status_after = "succeeded";
  captured.amount = 7500;
  captured.currency = "usd";
  captured.payment_intent = "pi_e";
  captured.stripe_request_id = "req_abc";
  captured.detail_json = R"({"reason":"damage","items":[1,2]})";
  captured.created_at = kNow + 60;
  auto second = ledger.AppendEvent(captured);
  REQUIRE_OK(second);
  BOOST_TEST(second->seq == 2);
  auto repeat = ledger.AppendEvent(captured);
  REQUIRE_OK(repeat);
  BOOST_TEST(repeat->seq == 2);
  auto hold = ledger.FindHold("pi_e");
  REQUIRE_OK(hold);
  BOOST_REQUIRE(hold->has_value());
  BOOST_TEST((*hold)->status == "succeeded");

  auto page = ledger.ListEvents("pi_e", "", 10);
  REQUIRE_OK(page);
  BOOST_TEST(Ids(page->data) == (std::vector<std::string>{"evt_1", "evt_2"}),
             boost::test_tools::per_element());
  BOOST_TEST(!page->has_more);
  const Event& got = page->data.back();
  BOOST_TEST(got.hold_id == "pi_e");
  BOOST_TEST(got.chitty_id == "CHITTY-AUTH-pi_e");
  BOOST_TEST(got.type == "captured");
  BOOST_TEST(got.actor == "stripe");
  BOOST_TEST(got.request_id.empty());
  BOOST_TEST(got.status_before == "requires_capture");
  BOOST_TEST(got.status_after == "succeeded");
  BOOST_TEST((got.amount == std::optional<int64_t>(7500)));
  BOOST_TEST(got.currency == "usd");
  BOOST_TEST(got.payment_intent == "pi_e");
  BOOST_TEST(got.stripe_request_id == "req_abc");
  BOOST_TEST(got.detail_json == captured.detail_json);
  BOOST_TEST(got.created_at == kNow + 60);
  BOOST_TEST(!page->data.front().amount.has_value());
  BOOST_TEST(page->data.front().detail_json == "{}");
}

inline void refuses_events_of_unknown_holds_and_bad_events(Ledger& ledger) {
  auto unknown = ledger.AppendEvent(MakeEvent("evt_u", "pi_none", "created"));
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound), unknown.error().message);
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_f", "main", kNow)));
  Event bad = MakeEvent("evt_b", "pi_f", "exploded");
  REQUIRE_ERROR(ledger.AppendEvent(bad));
  bad = MakeEvent("evt_b", "pi_f", "created");
  bad.actor = "someone";
  REQUIRE_ERROR(ledger.AppendEvent(bad));
  bad = MakeEvent("evt_b", "pi_f", "created");
  bad.detail_json = "[1]";
  auto r = ledger.AppendEvent(bad);
  REQUIRE_ERROR(r);
  BOOST_TEST((r.error().kind == ErrorKind::kInvalidArgument));
  auto page = ledger.ListEvents("pi_f", "", 10);
  REQUIRE_OK(page);
  BOOST_TEST(page->data.empty());
}

inline void pages_through_a_holds_events_oldest_first(Ledger& ledger) {
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_g", "main", kNow)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_h", "main", kNow)));
  for (int i = 1; i <= 5; ++i) {
    REQUIRE_OK(ledger.AppendEvent(MakeEvent("evt_g" + std::to_string(i), "pi_g", "reconciled")));
  }
  REQUIRE_OK(ledger.AppendEvent(MakeEvent("evt_h1", "pi_h", "created")));
  std::vector<std::string> seen;
  std::string after;
  for (int page_no = 0; page_no < 5; ++page_no) {
    auto page = ledger.ListEvents("pi_g", after, 2);
    REQUIRE_OK(page);
    for (const Event& e : page->data) seen.push_back(e.id);
    if (!page->has_more) break;
    after = page->data.back().id;
  }
  BOOST_TEST(seen == (std::vector<std::string>{"evt_g1", "evt_g2", "evt_g3", "evt_g4", "evt_g5"}),
             boost::test_tools::per_element());
  auto bad = ledger.ListEvents("pi_g", "evt_h1", 2);  // another hold's event
  REQUIRE_ERROR(bad);
  BOOST_TEST(bad.error().param == "starting_after");
  REQUIRE_ERROR(ledger.ListEvents("pi_g", "", 0));
  auto none = ledger.ListEvents("pi_none", "", 10);
  REQUIRE_OK(none);
  BOOST_TEST(none->data.empty());
}

inline void records_stripe_intents_before_and_results_after(Ledger& ledger) {
  auto begun = ledger.BeginIntent(MakeIntent("k1", kNow));
  REQUIRE_OK(begun);
  BOOST_TEST((begun->state == IntentState::kPending));
  BOOST_TEST(begun->operation == "capture");
  BOOST_TEST(begun->hold_id == "pi_1");
  BOOST_TEST(!begun->finished_at.has_value());
  auto retry = ledger.BeginIntent(MakeIntent("k1", kNow + 5));
  REQUIRE_OK(retry);
  BOOST_TEST(retry->created_at == kNow);
  StripeIntent other = MakeIntent("k1", kNow);
  other.params_digest = std::string(64, 'b');
  auto reused = ledger.BeginIntent(other);
  REQUIRE_ERROR(reused);
  BOOST_TEST((reused.error().kind == ErrorKind::kConflict));
  BOOST_TEST(reused.error().code == "idempotency_key_reused");
  StripeIntent create = MakeIntent("k0", kNow - 10);
  create.hold_id.clear();
  REQUIRE_OK(ledger.BeginIntent(create));
  REQUIRE_OK(ledger.BeginIntent(MakeIntent("k2", kNow + 10)));

  auto pending = ledger.ListPendingIntents(kNow + 10, 10);
  REQUIRE_OK(pending);
  BOOST_REQUIRE(pending->size() == 2U);
  BOOST_TEST((*pending)[0].idempotency_key == "k0");
  BOOST_TEST((*pending)[0].hold_id.empty());
  BOOST_TEST((*pending)[1].idempotency_key == "k1");
  auto of_hold = ledger.PendingIntentsOf("pi_1");  // k0 has no hold yet
  REQUIRE_OK(of_hold);
  BOOST_REQUIRE(of_hold->size() == 2U);
  BOOST_TEST((*of_hold)[0].idempotency_key == "k1");
  BOOST_TEST((*of_hold)[1].idempotency_key == "k2");

  REQUIRE_OK(
      ledger.FinishIntent("k1", IntentState::kSucceeded, R"({"id":"pi_1"})", "req_1", kNow + 1));
  REQUIRE_OK(
      ledger.FinishIntent("k1", IntentState::kSucceeded, R"({"id":"pi_1"})", "req_1", kNow + 2));
  auto flip = ledger.FinishIntent("k1", IntentState::kFailed, "{}", "", kNow + 3);
  REQUIRE_ERROR(flip);
  BOOST_TEST((flip.error().kind == ErrorKind::kConflict));
  auto unknown = ledger.FinishIntent("nope", IntentState::kFailed, "{}", "", kNow);
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound), unknown.error().message);
  REQUIRE_ERROR(ledger.FinishIntent("k2", IntentState::kFailed, "not json", "", kNow));
  auto finished = ledger.BeginIntent(MakeIntent("k1", kNow));
  REQUIRE_OK(finished);
  BOOST_TEST((finished->state == IntentState::kSucceeded));
  BOOST_TEST(finished->result_json == R"({"id":"pi_1"})");
  BOOST_TEST(finished->stripe_request_id == "req_1");
  BOOST_TEST((finished->finished_at == std::optional<int64_t>(kNow + 1)));

  pending = ledger.ListPendingIntents(kNow + 100, 1);
  REQUIRE_OK(pending);
  BOOST_REQUIRE(pending->size() == 1U);
  BOOST_TEST((*pending)[0].idempotency_key == "k0");
  of_hold = ledger.PendingIntentsOf("pi_1");  // k1 finished
  REQUIRE_OK(of_hold);
  BOOST_REQUIRE(of_hold->size() == 1U);
  BOOST_TEST((*of_hold)[0].idempotency_key == "k2");
  BOOST_TEST(ledger.PendingIntentsOf("pi_nope")->empty());
}

inline void records_a_create_in_one_call_and_a_repeat_changes_nothing(Ledger& ledger) {
  Hold h = MakeHold("pi_c1", "alpha", kNow);
  Event created = MakeEvent("evt_c1", "pi_c1", "created");
  created.status_after = h.status;
  created.amount = h.amount;
  StripeIntent intent = MakeIntent("kc1", kNow);
  intent.operation = "create";
  intent.hold_id.clear();
  REQUIRE_OK(ledger.BeginIntent(intent));
  REQUIRE_OK(ledger.RecordCreate(h, created, "kc1", R"({"id":"pi_c1"})", kNow + 1));
  auto found = ledger.FindHold("pi_c1");
  REQUIRE_OK(found);
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->chitty_id == h.chitty_id);
  BOOST_TEST(((*found)->payment_intents == std::vector<std::string>{"pi_c1"}));
  auto events = ledger.ListEvents("pi_c1", "", 10);
  REQUIRE_OK(events);
  BOOST_REQUIRE_EQUAL(events->data.size(), 1U);
  BOOST_TEST(events->data[0].seq == 1);
  BOOST_TEST(events->data[0].type == "created");
  auto finished = ledger.FindIntent("kc1");
  BOOST_TEST(((*finished)->state == IntentState::kSucceeded));
  BOOST_TEST((*finished)->result_json == R"({"id":"pi_c1"})");
  // A repeat (a keyed retry) records nothing more.
  REQUIRE_OK(ledger.RecordCreate(h, created, "kc1", R"({"id":"pi_c1"})", kNow + 2));
  BOOST_TEST(ledger.ListEvents("pi_c1", "", 10)->data.size() == 1U);
  // The next event of the hold follows it.
  Event next = MakeEvent("evt_c2", "pi_c1", "authorized");
  auto appended = ledger.AppendEvent(next);
  REQUIRE_OK(appended);
  BOOST_TEST(appended->seq == 2);
  // A hold recorded before (the webhook's import won): its event is kept, the intent done.
  Hold other = MakeHold("pi_c3", "alpha", kNow);
  REQUIRE_OK(ledger.RecordHold(other));
  StripeIntent second = MakeIntent("kc3", kNow);
  second.hold_id.clear();
  REQUIRE_OK(ledger.BeginIntent(second));
  Event third = MakeEvent("evt_c3", "pi_c3", "created");
  third.status_after = other.status;
  REQUIRE_OK(ledger.RecordCreate(other, third, "kc3", "{}", kNow + 1));
  BOOST_TEST(ledger.ListEvents("pi_c3", "", 10)->data.size() == 1U);
  BOOST_TEST(((*ledger.FindIntent("kc3"))->state == IntentState::kSucceeded));
  // An unknown intent is the FinishIntent answer: kNotFound, with the hold recorded.
  Hold fourth = MakeHold("pi_c4", "alpha", kNow);
  Event fourth_created = MakeEvent("evt_c4", "pi_c4", "created");
  fourth_created.status_after = fourth.status;
  auto unknown = ledger.RecordCreate(fourth, fourth_created, "k-none", "{}", kNow);
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound), unknown.error().message);
  BOOST_TEST(ledger.FindHold("pi_c4")->has_value());
}

// A batch answers each item as the single calls would, one after the other: a key twice
// is its first answer again, a key recorded with another digest is refused alone.
inline void begins_a_batch_of_intents_as_one_by_one(Ledger& ledger) {
  StripeIntent old = MakeIntent("kb0", kNow);
  REQUIRE_OK(ledger.BeginIntent(old));
  StripeIntent first = MakeIntent("kb1", kNow);
  first.request_json = R"({"chitty_id":"CT-\"1\"\\ ü"})";  // quotes, backslash, UTF-8
  StripeIntent second = MakeIntent("kb2", kNow);
  second.operation = "create";
  second.hold_id.clear();
  StripeIntent reused = MakeIntent("kb0", kNow);
  reused.params_digest = std::string(64, 'b');
  StripeIntent invalid = MakeIntent("kb3", kNow);
  invalid.params_digest = "nope";
  const std::vector<const StripeIntent*> batch{&first, &second, &first, &reused, &invalid};
  auto answers = ledger.BeginIntents(batch);
  BOOST_REQUIRE_EQUAL(answers.size(), batch.size());
  REQUIRE_OK(answers[0]);
  BOOST_TEST(answers[0]->idempotency_key == "kb1");
  BOOST_TEST(answers[0]->request_json == first.request_json);
  BOOST_TEST((answers[0]->state == IntentState::kPending));
  REQUIRE_OK(answers[1]);
  BOOST_TEST(answers[1]->operation == "create");
  BOOST_TEST(answers[1]->hold_id.empty());
  REQUIRE_OK(answers[2]);
  BOOST_TEST(answers[2]->idempotency_key == "kb1");
  REQUIRE_ERROR(answers[3]);
  BOOST_TEST(answers[3].error().code == "idempotency_key_reused");
  REQUIRE_ERROR(answers[4]);
  BOOST_TEST((answers[4].error().kind == ErrorKind::kInvalidArgument));
  BOOST_TEST(!ledger.FindIntent("kb3")->has_value());
  auto stored = ledger.FindIntent("kb1");
  REQUIRE_OK(stored);
  BOOST_REQUIRE(stored->has_value());
  BOOST_TEST((*stored)->request_json == first.request_json);
  BOOST_TEST(ledger.ListPendingIntents(kNow + 1, 10)->size() == 3U);  // kb0, kb1, kb2
}

inline void records_a_batch_of_creates_as_one_by_one(Ledger& ledger) {
  struct Create {
    Hold hold;
    Event created;
    std::string key;
  };
  std::vector<Create> creates;
  for (const std::string n : {"1", "2", "3", "4"}) {
    Create c{MakeHold("pi_b" + n, "alpha", kNow), MakeEvent("evt_b" + n, "pi_b" + n, "created"),
             "kb" + n};
    c.created.status_after = c.hold.status;
    c.created.detail_json = R"({"note":"a \"quoted\", back\\slash"})";
    c.hold.property_id = n == "2" ? "" : "prop_" + n;
    creates.push_back(c);
  }
  creates[2].hold.chitty_id = creates[1].hold.chitty_id;  // another hold's ChittyID
  for (const Create& c : creates) {
    StripeIntent intent = MakeIntent(c.key, kNow);
    intent.operation = "create";
    intent.hold_id.clear();
    if (c.key != "kb4") REQUIRE_OK(ledger.BeginIntent(intent));  // kb4: no intent
  }
  Create invalid = creates[0];
  invalid.hold.amount = 0;
  const std::vector<CreateRecord> batch{
      {&creates[0].hold, &creates[0].created, "kb1", R"({"id":"pi_b1"})", kNow + 1},
      {&creates[1].hold, &creates[1].created, "kb2", R"({"id":"pi_b2"})", kNow + 1},
      {&creates[0].hold, &creates[0].created, "kb1", R"({"id":"pi_b1"})", kNow + 2},  // repeat
      {&creates[2].hold, &creates[2].created, "kb3", "{}", kNow + 1},
      {&creates[3].hold, &creates[3].created, "kb4", "{}", kNow + 1},
      {&invalid.hold, &invalid.created, "kb1", "{}", kNow + 1}};
  auto answers = ledger.RecordCreates(batch);
  BOOST_REQUIRE_EQUAL(answers.size(), batch.size());
  REQUIRE_OK(answers[0]);
  REQUIRE_OK(answers[1]);
  REQUIRE_OK(answers[2]);
  REQUIRE_ERROR(answers[3]);
  BOOST_TEST((answers[3].error().kind == ErrorKind::kConflict), answers[3].error().message);
  REQUIRE_ERROR(answers[4]);
  BOOST_TEST((answers[4].error().kind == ErrorKind::kNotFound), answers[4].error().message);
  REQUIRE_ERROR(answers[5]);
  BOOST_TEST((answers[5].error().kind == ErrorKind::kInvalidArgument));
  for (const std::string id : {"pi_b1", "pi_b2"}) {
    BOOST_TEST_INFO(id);
    auto events = ledger.ListEvents(id, "", 10);
    REQUIRE_OK(events);
    BOOST_REQUIRE_EQUAL(events->data.size(), 1U);
    BOOST_TEST(events->data[0].detail_json == creates[0].created.detail_json);
  }
  auto second = ledger.FindHold("pi_b2");
  BOOST_REQUIRE(second->has_value());
  BOOST_TEST((*second)->property_id.empty());
  BOOST_TEST(((*second)->payment_intents == std::vector<std::string>{"pi_b2"}));
  BOOST_TEST(((*ledger.FindIntent("kb1"))->state == IntentState::kSucceeded));
  BOOST_TEST((*ledger.FindIntent("kb1"))->result_json == R"({"id":"pi_b1"})");
  BOOST_TEST(((*ledger.FindIntent("kb3"))->state == IntentState::kPending));
  BOOST_TEST(!ledger.FindHold("pi_b3")->has_value());
  BOOST_TEST(ledger.FindHold("pi_b4")->has_value());  // as RecordCreate: the hold, then the 404

  // A batch with nothing in its way: every create recorded with its chain, event and result.
  std::vector<Create> clean;
  for (const std::string n : {"5", "6", "7"}) {
    clean.push_back({MakeHold("pi_b" + n, "alpha", kNow),
                     MakeEvent("evt_b" + n, "pi_b" + n, "created"), "kb" + n});
    clean.back().created.status_after = clean.back().hold.status;
    clean.back().created.amount = 100;
    StripeIntent intent = MakeIntent("kb" + n, kNow);
    REQUIRE_OK(ledger.BeginIntent(intent));
  }
  clean[1].hold.payment_intents = {"pi_b6", "pi_b6x"};
  clean[2].hold.expires_at.reset();
  std::vector<CreateRecord> records;
  for (const Create& c : clean)
    records.push_back({&c.hold, &c.created, c.key, R"({"ok":true})", kNow + 3});
  for (const Status& answer : ledger.RecordCreates(records)) REQUIRE_OK(answer);
  for (const Create& c : clean) {
    BOOST_TEST_INFO(c.hold.id);
    auto found = ledger.FindHold(c.hold.id);
    REQUIRE_OK(found);
    BOOST_REQUIRE(found->has_value());
    BOOST_TEST((*found)->payment_intents == c.hold.payment_intents,
               boost::test_tools::per_element());
    BOOST_TEST(((*found)->expires_at == c.hold.expires_at));
    BOOST_TEST((*found)->chitty_id == c.hold.chitty_id);
    auto events = ledger.ListEvents(c.hold.id, "", 10);
    BOOST_REQUIRE_EQUAL(events->data.size(), 1U);
    BOOST_TEST((events->data[0].amount == std::optional<int64_t>(100)));
    BOOST_TEST(events->data[0].request_id == c.created.request_id);
    auto intent = ledger.FindIntent(c.key);
    BOOST_TEST(((*intent)->state == IntentState::kSucceeded));
    BOOST_TEST((*intent)->result_json == R"({"ok":true})");
    BOOST_TEST(((*intent)->finished_at == std::optional<int64_t>(kNow + 3)));
  }
  BOOST_TEST(ledger.FindHold("pi_b6x")->has_value());  // the chain finds the hold
}

inline void keeps_named_job_state(Ledger& ledger) {
  auto unset = ledger.JobState("events_cursor");
  REQUIRE_OK(unset);
  BOOST_TEST(unset->empty());
  REQUIRE_OK(ledger.SetJobState("events_cursor", "evt_1", kNow));
  REQUIRE_OK(ledger.SetJobState("events_cursor", "evt_2", kNow + 1));
  REQUIRE_OK(ledger.SetJobState("other", "x", kNow));
  BOOST_TEST(*ledger.JobState("events_cursor") == "evt_2");
  BOOST_TEST(*ledger.JobState("other") == "x");
  REQUIRE_ERROR(ledger.SetJobState("", "x", kNow));
}

inline void leases_due_releases_once_until_the_lease_ends(Ledger& ledger) {
  for (int i = 0; i < 4; ++i) {
    Hold h = MakeHold("pi_r" + std::to_string(i), "alpha", kNow);
    h.release_after = kNow + 10 * (3 - i);  // pi_r3 due first
    REQUIRE_OK(ledger.RecordHold(h));
  }
  Hold never = MakeHold("pi_n", "alpha", kNow);  // no release_after
  REQUIRE_OK(ledger.RecordHold(never));
  Hold settled = MakeHold("pi_s", "alpha", kNow);
  settled.release_after = kNow;
  settled.status = "canceled";
  REQUIRE_OK(ledger.RecordHold(settled));
  auto found = ledger.FindHold("pi_r1");
  BOOST_TEST(((*found)->release_after == std::optional<int64_t>(kNow + 20)));

  auto first = ledger.LeaseDueReleases(kNow + 20, 60, 10);  // pi_r3, pi_r2, pi_r1 are due
  REQUIRE_OK(first);
  std::vector<std::string> ids;
  for (const auto& h : *first) ids.push_back(h.id);
  BOOST_TEST((ids == std::vector<std::string>{"pi_r3", "pi_r2", "pi_r1"}));
  auto second = ledger.LeaseDueReleases(kNow + 30, 60, 10);  // leased: only pi_r0 is new
  REQUIRE_OK(second);
  BOOST_REQUIRE_EQUAL(second->size(), 1U);
  BOOST_TEST(second->front().id == "pi_r0");
  Event captured = MakeEvent("evt_rc", "pi_r3", "captured");
  captured.status_after = "succeeded";
  REQUIRE_OK(ledger.AppendEvent(captured));
  auto after_lease = ledger.LeaseDueReleases(kNow + 200, 60, 1);  // leases over; limit 1
  REQUIRE_OK(after_lease);
  BOOST_REQUIRE_EQUAL(after_lease->size(), 1U);
  BOOST_TEST(after_lease->front().id == "pi_r2");  // pi_r3 is captured now
  REQUIRE_ERROR(ledger.LeaseDueReleases(kNow, 60, 0));
}

inline void leases_due_checks_longest_waiting_first_once_per_interval(Ledger& ledger) {
  for (int i = 0; i < 3; ++i) {  // pi_c2 was created first
    REQUIRE_OK(ledger.RecordHold(MakeHold("pi_c" + std::to_string(i), "alpha", kNow - 10 * i)));
  }
  for (const char* status : {"succeeded", "canceled", "missing_at_stripe"}) {
    Hold settled = MakeHold(std::string("pi_t_") + status, "alpha", kNow - 100);
    settled.status = status;
    REQUIRE_OK(ledger.RecordHold(settled));
  }
  const auto ids = [](const Result<std::vector<Hold>>& holds) {
    std::vector<std::string> out;
    for (const auto& h : *holds) out.push_back(h.id);
    return out;
  };
  auto none = ledger.LeaseDueChecks(kNow + 279, 300, 10);  // created too recently
  REQUIRE_OK(none);
  BOOST_TEST(none->empty());
  auto first = ledger.LeaseDueChecks(kNow + 300, 300, 2);  // all three due; limit 2
  REQUIRE_OK(first);
  BOOST_TEST((ids(first) == std::vector<std::string>{"pi_c2", "pi_c1"}));
  auto second = ledger.LeaseDueChecks(kNow + 301, 300, 10);  // taken ones wait their turn
  REQUIRE_OK(second);
  BOOST_TEST((ids(second) == std::vector<std::string>{"pi_c0"}));
  auto again = ledger.LeaseDueChecks(kNow + 600, 300, 10);  // the first two due again
  REQUIRE_OK(again);
  BOOST_TEST((ids(again) == std::vector<std::string>{"pi_c1", "pi_c2"}));
  REQUIRE_ERROR(ledger.LeaseDueChecks(kNow, 300, 0));
}

// A transition read before another one committed (a webhook's stale read of Stripe, a
// capture in between) is refused, not written over it; a repeat of a recorded one is not.
inline void appends_a_transition_only_while_the_status_is_what_was_read(Ledger& ledger) {
  Hold h = MakeHold("pi_cas", "alpha", kNow);
  h.status = "requires_confirmation";
  REQUIRE_OK(ledger.RecordHold(h));
  Event captured = MakeEvent("evt_cas_captured", "pi_cas", "captured");
  captured.status_before = "requires_confirmation";
  captured.status_after = "succeeded";
  captured.if_status_unchanged = true;
  REQUIRE_OK(ledger.AppendEvent(captured));
  Event stale = MakeEvent("evt_cas_authorized", "pi_cas", "authorized");
  stale.status_before = "requires_confirmation";  // read before the capture committed
  stale.status_after = "requires_capture";
  stale.if_status_unchanged = true;
  auto refused = ledger.AppendEvent(stale);
  REQUIRE_ERROR(refused);
  BOOST_TEST((refused.error().kind == ErrorKind::kConflict));
  BOOST_TEST(refused.error().code == "hold_changed");
  BOOST_TEST((*ledger.FindHold("pi_cas"))->status == "succeeded");
  BOOST_TEST(ledger.ListEvents("pi_cas", "", 10)->data.size() == 1U);
  auto repeat = ledger.AppendEvent(captured);  // recorded already: the stored one
  REQUIRE_OK(repeat);
  BOOST_TEST(repeat->seq == 1);
  stale.if_status_unchanged = false;  // without the condition it is written as before
  REQUIRE_OK(ledger.AppendEvent(stale));
  BOOST_TEST((*ledger.FindHold("pi_cas"))->status == "requires_capture");
}

inline void an_event_may_set_its_holds_expiry(Ledger& ledger) {
  Hold h = MakeHold("pi_x", "alpha", kNow);
  h.expires_at.reset();
  REQUIRE_OK(ledger.RecordHold(h));
  Event e = MakeEvent("evt_x1", "pi_x", "authorized");
  e.status_after = "requires_capture";
  e.hold_expires_at = kNow + 7 * 86400;
  REQUIRE_OK(ledger.AppendEvent(e));
  auto found = ledger.FindHold("pi_x");
  REQUIRE_OK(found);
  BOOST_TEST(((*found)->expires_at == std::optional<int64_t>(kNow + 7 * 86400)));
  BOOST_TEST((*found)->status == "requires_capture");
  Event later = MakeEvent("evt_x2", "pi_x", "reconciled");
  REQUIRE_OK(ledger.AppendEvent(later));  // no expiry: the hold keeps its own
  found = ledger.FindHold("pi_x");
  BOOST_TEST(((*found)->expires_at == std::optional<int64_t>(kNow + 7 * 86400)));
  HoldFilter f;
  f.client = "alpha";
  f.expiring_before = kNow + 8 * 86400;
  auto page = ledger.ListHolds(f);
  REQUIRE_OK(page);
  BOOST_TEST(page->data.size() == 1U);
}

inline void finds_an_intent_by_its_key_with_its_request(Ledger& ledger) {
  auto none = ledger.FindIntent("k9");
  REQUIRE_OK(none);
  BOOST_TEST(!none->has_value());
  StripeIntent create = MakeIntent("k9", kNow);
  create.operation = "create";
  create.hold_id.clear();
  create.request_json = R"({"chitty_id":"CHITTY-AUTH-9"})";
  REQUIRE_OK(ledger.BeginIntent(create));
  auto found = ledger.FindIntent("k9");
  REQUIRE_OK(found);
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->operation == "create");
  BOOST_TEST((*found)->request_json == R"({"chitty_id":"CHITTY-AUTH-9"})");
  BOOST_TEST(((*found)->state == IntentState::kPending));
  StripeIntent bad = MakeIntent("k10", kNow);
  bad.request_json = "[1]";
  REQUIRE_ERROR(ledger.BeginIntent(bad));
  REQUIRE_OK(ledger.FinishIntent("k9", IntentState::kSucceeded, R"({"id":"pi_9"})", "", kNow + 1));
  found = ledger.FindIntent("k9");
  REQUIRE_OK(found);
  BOOST_TEST(((*found)->state == IntentState::kSucceeded));
  BOOST_TEST((*found)->request_json == R"({"chitty_id":"CHITTY-AUTH-9"})");
}

// A claimed capture's claim, set once on the hold after Stripe captured it: FindHold (by
// any id) and ListHolds read it back as given; the first claim stays.
inline void sets_a_holds_claim_once_and_reads_it_back_as_given(Ledger& ledger) {
  Hold h = MakeHold("pi_c", "alpha", kNow);
  h.payment_intents = {"pi_c", "pi_c2"};
  h.claim_json = R"({"ignored":true})";  // RecordHold does not set a claim
  REQUIRE_OK(ledger.RecordHold(h));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_plain", "alpha", kNow + 1)));
  auto unclaimed = ledger.FindHold("pi_c");
  REQUIRE_OK(unclaimed);
  BOOST_TEST((*unclaimed)->claim_json.empty());

  // Key order, spacing and non-ASCII text are kept as written.
  const std::string claim =
      R"({"items":[{"description":"Caf\u00e9 lamp ✓","amount":12000,"category":"damage",)"
      R"("evidence":[]}], "total":12000,"captured_at":"2025-10-11T12:00:00Z"})";
  auto set = ledger.SetHoldClaim("pi_c", claim);
  REQUIRE_OK(set);
  BOOST_TEST(*set);
  auto again = ledger.SetHoldClaim("pi_c", R"({"items":[],"total":1,"captured_at":null})");
  REQUIRE_OK(again);
  BOOST_TEST(!*again);  // the first claim stays
  for (const char* id : {"pi_c", "pi_c2", "CHITTY-AUTH-pi_c"}) {
    auto found = ledger.FindHold(id);
    REQUIRE_OK(found);
    BOOST_REQUIRE_MESSAGE(found->has_value(), id);
    BOOST_TEST((*found)->claim_json == claim);
  }
  HoldFilter f;
  f.client = "alpha";
  auto page = ledger.ListHolds(f);
  REQUIRE_OK(page);
  BOOST_REQUIRE_EQUAL(page->data.size(), 2U);
  BOOST_TEST(page->data[0].id == "pi_plain");
  BOOST_TEST(page->data[0].claim_json.empty());
  BOOST_TEST(page->data[1].claim_json == claim);

  auto unknown = ledger.SetHoldClaim("pi_nope", claim);
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound));
  for (const char* bad : {"[1]", "not json", "", "null"}) {
    auto refused = ledger.SetHoldClaim("pi_plain", bad);
    REQUIRE_ERROR(refused);
    BOOST_TEST((refused.error().kind == ErrorKind::kInvalidArgument), bad);
  }
  auto plain = ledger.FindHold("pi_plain");  // nothing of the refused claims was kept
  REQUIRE_OK(plain);
  BOOST_TEST((*plain)->claim_json.empty());
}

// The disclosure a guest accepted, set once on the hold and read back as given.
inline void sets_a_holds_disclosure_once_and_reads_it_back(Ledger& ledger) {
  Hold h = MakeHold("pi_d", "alpha", kNow);
  h.disclosure_json = R"({"ignored":true})";  // RecordHold does not set it
  REQUIRE_OK(ledger.RecordHold(h));
  auto none = ledger.FindHold("pi_d");
  REQUIRE_OK(none);
  BOOST_TEST((*none)->disclosure_json.empty());
  const std::string disclosure = R"({"version":"2026-12-01","accepted_at":"2026-01-02T03:04:05Z"})";
  auto set = ledger.SetHoldDisclosure("pi_d", disclosure);
  REQUIRE_OK(set);
  BOOST_TEST(*set);
  auto again = ledger.SetHoldDisclosure("pi_d", R"({"version":"x"})");
  REQUIRE_OK(again);
  BOOST_TEST(!*again);  // the first one stays
  auto found = ledger.FindHold("CHITTY-AUTH-pi_d");
  REQUIRE_OK(found);
  BOOST_TEST((*found)->disclosure_json == disclosure);
  HoldFilter f;
  f.client = "alpha";
  auto page = ledger.ListHolds(f);
  REQUIRE_OK(page);
  BOOST_REQUIRE_EQUAL(page->data.size(), 1U);
  BOOST_TEST(page->data[0].disclosure_json == disclosure);
  auto unknown = ledger.SetHoldDisclosure("pi_nope", disclosure);
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound));
  auto refused = ledger.SetHoldDisclosure("pi_d", "[1]");
  REQUIRE_ERROR(refused);
  BOOST_TEST((refused.error().kind == ErrorKind::kInvalidArgument));
}

inline Evidence MakeEvidence(const std::string& id, const std::string& hold_id, int64_t at) {
  return Evidence{id, hold_id, "lamp " + id + ".jpg", 1234, "image/jpeg", at};
}

// An evidence file and its evidence_added event in one call; a repeat records nothing
// more; the hold's files come back in the order recorded, other holds' files never.
inline void records_evidence_with_its_event_and_lists_a_holds_files(Ledger& ledger) {
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_v", "alpha", kNow)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_w", "alpha", kNow)));
  const Evidence second = MakeEvidence("file_b", "pi_v", kNow + 5);
  const Evidence first = MakeEvidence("file_a", "pi_v", kNow + 1);
  auto recorded = ledger.RecordEvidence(second, MakeEvent("evt_vb", "pi_v", "evidence_added"));
  REQUIRE_OK(recorded);
  BOOST_TEST(*recorded);
  recorded = ledger.RecordEvidence(first, MakeEvent("evt_va", "pi_v", "evidence_added"));
  REQUIRE_OK(recorded);
  BOOST_TEST(*recorded);
  auto repeat = ledger.RecordEvidence(first, MakeEvent("evt_va2", "pi_v", "evidence_added"));
  REQUIRE_OK(repeat);
  BOOST_TEST(!*repeat);
  REQUIRE_OK(ledger.RecordEvidence(MakeEvidence("file_c", "pi_w", kNow),
                                   MakeEvent("evt_wc", "pi_w", "evidence_added")));
  auto files = ledger.ListEvidence("pi_v");
  REQUIRE_OK(files);
  BOOST_REQUIRE_EQUAL(files->size(), 2U);
  BOOST_TEST(((*files)[0] == second));  // recorded first, though its time is later
  BOOST_TEST(((*files)[1] == first));
  auto events = ledger.ListEvents("pi_v", "", 100);
  REQUIRE_OK(events);
  BOOST_TEST(Ids(events->data) == (std::vector<std::string>{"evt_vb", "evt_va"}));
  auto nothing = ledger.ListEvidence("pi_nope");
  REQUIRE_OK(nothing);
  BOOST_TEST(nothing->empty());

  auto unknown = ledger.RecordEvidence(MakeEvidence("file_d", "pi_nope", kNow),
                                       MakeEvent("evt_nd", "pi_nope", "evidence_added"));
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound));
  Evidence bad_type = MakeEvidence("file_e", "pi_v", kNow);
  bad_type.type = "image/gif";
  Evidence bad_id = MakeEvidence("pi_e", "pi_v", kNow);
  Evidence empty = MakeEvidence("file_f", "pi_v", kNow);
  empty.size = 0;
  for (const Evidence& bad : {bad_type, bad_id, empty}) {
    auto refused = ledger.RecordEvidence(bad, MakeEvent("evt_bad", "pi_v", "evidence_added"));
    REQUIRE_ERROR(refused);
    BOOST_TEST((refused.error().kind == ErrorKind::kInvalidArgument));
  }
  auto other_hold = ledger.RecordEvidence(MakeEvidence("file_g", "pi_v", kNow),
                                          MakeEvent("evt_g", "pi_w", "evidence_added"));
  REQUIRE_ERROR(other_hold);
  files = ledger.ListEvidence("pi_v");
  REQUIRE_OK(files);
  BOOST_TEST(files->size() == 2U);  // nothing of the refused ones was kept
}

// A guest link is kept by its token's hash, found by it (expired or not), recorded once.
inline void records_a_guest_link_once_and_finds_it_by_its_token_hash(Ledger& ledger) {
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_g", "alpha", kNow)));
  const GuestLink link{std::string(64, 'a'), "pi_g", kNow, kNow + 72 * 3600};
  auto recorded = ledger.RecordGuestLink(link);
  REQUIRE_OK(recorded);
  BOOST_TEST(*recorded);
  GuestLink again = link;
  again.expires_at = kNow + 60;
  auto repeat = ledger.RecordGuestLink(again);
  REQUIRE_OK(repeat);
  BOOST_TEST(!*repeat);
  const GuestLink second{std::string(63, '0') + "f", "pi_g", kNow + 1, kNow + 2};
  REQUIRE_OK(ledger.RecordGuestLink(second));
  auto found = ledger.FindGuestLink(link.token_sha256);
  REQUIRE_OK(found);
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((**found == link));  // the first stays
  found = ledger.FindGuestLink(second.token_sha256);
  REQUIRE_OK(found);
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((**found == second));
  auto none = ledger.FindGuestLink(std::string(64, 'b'));
  REQUIRE_OK(none);
  BOOST_TEST(!none->has_value());

  auto unknown = ledger.RecordGuestLink(GuestLink{std::string(64, 'c'), "pi_nope", kNow, kNow + 1});
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound));
  for (const GuestLink& bad : {GuestLink{std::string(64, 'A'), "pi_g", kNow, kNow + 1},
                               GuestLink{"token", "pi_g", kNow, kNow + 1},
                               GuestLink{std::string(64, 'd'), "pi_g", kNow, kNow}}) {
    auto refused = ledger.RecordGuestLink(bad);
    REQUIRE_ERROR(refused);
    BOOST_TEST((refused.error().kind == ErrorKind::kInvalidArgument));
  }
  none = ledger.FindGuestLink(std::string(64, 'd'));
  REQUIRE_OK(none);
  BOOST_TEST(!none->has_value());  // nothing of the refused ones was kept
}

inline Dispute MakeDispute(const std::string& id, const std::string& status,
                           std::optional<int64_t> due_by) {
  Dispute d;
  d.id = id;
  d.status = status;
  d.reason = "fraudulent";
  d.amount = 5000;
  d.evidence_due_by = due_by;
  return d;
}

// A hold's dispute: Stripe's facts rewritten by RecordDispute (answering whether they
// changed), the service's marks set once and kept across rewrites of the same dispute.
inline void records_a_dispute_and_marks_it_once(Ledger& ledger) {
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_d", "alpha", kNow)));
  BOOST_TEST(!(*ledger.FindHold("pi_d"))->dispute.has_value());
  Dispute d = MakeDispute("du_1", "needs_response", kNow + 86400);
  d.staged_at = kNow;  // ignored: only MarkDispute sets it
  auto first = ledger.RecordDispute("pi_d", d);
  REQUIRE_OK(first);
  BOOST_TEST(*first);
  auto same = ledger.RecordDispute("pi_d", d);
  REQUIRE_OK(same);
  BOOST_TEST(!*same);
  auto found = ledger.FindHold("CHITTY-AUTH-pi_d");
  REQUIRE_OK(found);
  BOOST_REQUIRE((*found)->dispute.has_value());
  const Dispute& read = *(*found)->dispute;
  BOOST_TEST(read.id == "du_1");
  BOOST_TEST(read.status == "needs_response");
  BOOST_TEST(read.reason == "fraudulent");
  BOOST_TEST(read.amount == 5000);
  BOOST_TEST((read.evidence_due_by == std::optional<int64_t>(kNow + 86400)));
  BOOST_TEST(!read.staged_at.has_value());
  BOOST_TEST(!read.submitted_at.has_value());

  auto staged = ledger.MarkDispute("pi_d", "du_1", DisputeMark::kStaged, kNow + 5);
  REQUIRE_OK(staged);
  BOOST_TEST(*staged);
  BOOST_TEST(!*ledger.MarkDispute("pi_d", "du_1", DisputeMark::kStaged, kNow + 9));
  BOOST_TEST(!*ledger.MarkDispute("pi_d", "du_other", DisputeMark::kSubmitted, kNow + 9));
  BOOST_TEST(*ledger.MarkDispute("pi_d", "du_1", DisputeMark::kSubmitted, kNow + 6));
  BOOST_TEST(!*ledger.MarkDispute("pi_d", "du_1", DisputeMark::kSubmitted, kNow + 7));
  Dispute won = MakeDispute("du_1", "won", std::nullopt);
  BOOST_TEST(*ledger.RecordDispute("pi_d", won));
  found = ledger.FindHold("pi_d");
  BOOST_TEST((*found)->dispute->status == "won");
  BOOST_TEST(!(*found)->dispute->evidence_due_by.has_value());
  BOOST_TEST(((*found)->dispute->staged_at == std::optional<int64_t>(kNow + 5)));
  BOOST_TEST(((*found)->dispute->submitted_at == std::optional<int64_t>(kNow + 6)));

  BOOST_TEST(*ledger.RecordDispute("pi_d", MakeDispute("du_2", "needs_response", std::nullopt)));
  found = ledger.FindHold("pi_d");  // another dispute: its marks start over
  BOOST_TEST((*found)->dispute->id == "du_2");
  BOOST_TEST(!(*found)->dispute->staged_at.has_value());

  auto unknown = ledger.RecordDispute("pi_nope", d);
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound));
  auto unknown_mark = ledger.MarkDispute("pi_nope", "du_1", DisputeMark::kStaged, kNow);
  REQUIRE_ERROR(unknown_mark);
  BOOST_TEST((unknown_mark.error().kind == ErrorKind::kNotFound));
  for (Dispute bad : {MakeDispute("ch_1", "won", {}), MakeDispute("du_1", "", {}),
                      MakeDispute("du_1", "Won", {})}) {
    auto refused = ledger.RecordDispute("pi_d", bad);
    REQUIRE_ERROR(refused);
    BOOST_TEST((refused.error().kind == ErrorKind::kInvalidArgument));
  }
}

// The staging pass's queue: open, unstaged disputes, soonest due first, each leased once.
inline void leases_disputes_to_stage_once_until_staged_or_the_lease_ends(Ledger& ledger) {
  const std::vector<std::pair<std::string, Dispute>> holds = {
      {"pi_da", MakeDispute("du_a", "needs_response", kNow + 300)},
      {"pi_db", MakeDispute("du_b", "warning_needs_response", kNow + 100)},
      {"pi_dc", MakeDispute("du_c", "needs_response", std::nullopt)},
      {"pi_dd", MakeDispute("du_d", "under_review", kNow + 50)},  // not open for evidence
      {"pi_de", MakeDispute("du_e", "lost", kNow + 50)},
  };
  for (const auto& [id, dispute] : holds) {
    REQUIRE_OK(ledger.RecordHold(MakeHold(id, "alpha", kNow)));
    REQUIRE_OK(ledger.RecordDispute(id, dispute));
  }
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_dz", "alpha", kNow)));  // no dispute
  auto first = ledger.LeaseDueDisputes(kNow, 60, 2);
  REQUIRE_OK(first);
  BOOST_TEST((Ids(*first) == std::vector<std::string>{"pi_db", "pi_da"}));
  BOOST_TEST((first->front().dispute->lease_until == std::optional<int64_t>(kNow + 60)));
  auto second = ledger.LeaseDueDisputes(kNow + 1, 60, 10);
  REQUIRE_OK(second);
  BOOST_TEST((Ids(*second) == std::vector<std::string>{"pi_dc"}));
  BOOST_TEST(ledger.LeaseDueDisputes(kNow + 2, 60, 10)->empty());
  BOOST_TEST(*ledger.MarkDispute("pi_db", "du_b", DisputeMark::kStaged, kNow + 3));
  BOOST_TEST(*ledger.MarkDispute("pi_da", "du_a", DisputeMark::kLeaseEnded, kNow + 3));
  BOOST_TEST(!*ledger.MarkDispute("pi_da", "du_a", DisputeMark::kLeaseEnded, kNow + 3));
  auto third = ledger.LeaseDueDisputes(kNow + 4, 60, 10);  // pi_da again; pi_db is staged
  REQUIRE_OK(third);
  BOOST_TEST((Ids(*third) == std::vector<std::string>{"pi_da"}));
  auto after = ledger.LeaseDueDisputes(kNow + 200, 60, 10);  // every lease has run out
  REQUIRE_OK(after);
  BOOST_TEST((Ids(*after) == std::vector<std::string>{"pi_da", "pi_dc"}));
  REQUIRE_ERROR(ledger.LeaseDueDisputes(kNow, 60, 0));
}

inline void records_a_webhook_event_id_once(Ledger& ledger) {
  auto first = ledger.RecordWebhookEvent("evt_1Stripe", kNow);
  REQUIRE_OK(first);
  BOOST_TEST(*first);
  auto again = ledger.RecordWebhookEvent("evt_1Stripe", kNow + 1);
  REQUIRE_OK(again);
  BOOST_TEST(!*again);
  auto other = ledger.RecordWebhookEvent("evt_2Stripe", kNow);
  REQUIRE_OK(other);
  BOOST_TEST(*other);
  REQUIRE_ERROR(ledger.RecordWebhookEvent("", kNow));
  REQUIRE_OK(ledger.Ping());
}

// --- the notifications outbox ---

inline std::vector<std::string> Ids(const std::vector<Notification>& notifications) {
  std::vector<std::string> ids;
  for (const Notification& n : notifications) ids.push_back(n.id);
  return ids;
}

inline Event EventAt(const std::string& id, const std::string& hold_id, int64_t created_at) {
  Event e = MakeEvent(id, hold_id, "reconciled");
  e.created_at = created_at;
  return e;
}

inline NotificationAttempt Try(const std::string& id, NotificationAttempt::Outcome outcome,
                               int64_t at, std::optional<int64_t> next = std::nullopt,
                               std::string error = {}) {
  return NotificationAttempt{id, outcome, std::move(error), next, at};
}

inline void queues_a_notification_for_each_event_of_a_notification_clients_holds(Ledger& ledger) {
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_q1", "alpha", kNow)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_q2", "beta", kNow)));
  REQUIRE_OK(ledger.AppendEvent(EventAt("evt_before", "pi_q1", kNow)));  // no client set yet
  const std::vector<std::string> alpha{"alpha"};
  REQUIRE_OK(ledger.SetNotificationClients(alpha));
  REQUIRE_OK(ledger.SetNotificationClients(alpha));  // again: the same set
  Event created = MakeEvent("evt_q1", "pi_q1", "captured");
  created.status_before = "requires_capture";
  created.status_after = "succeeded";
  created.amount = 1200;
  created.currency = "usd";
  created.detail_json = R"({"reason":"damage"})";
  created.created_at = kNow + 1;
  REQUIRE_OK(ledger.AppendEvent(created));
  REQUIRE_OK(ledger.AppendEvent(created));  // a repeat: no second notification
  REQUIRE_OK(ledger.AppendEvent(EventAt("evt_q2", "pi_q2", kNow + 1)));  // beta: not queued
  // A create in one call, and a batch of two (PgLedger: one statement each).
  REQUIRE_OK(ledger.BeginIntent(MakeIntent("kq3", kNow)));
  Hold h3 = MakeHold("pi_q3", "alpha", kNow);
  Event e3 = MakeEvent("evt_q3", "pi_q3", "created");
  e3.status_after = h3.status;
  e3.created_at = kNow + 2;
  REQUIRE_OK(ledger.RecordCreate(h3, e3, "kq3", "{}", kNow + 2));
  std::vector<Hold> holds{MakeHold("pi_q4", "alpha", kNow), MakeHold("pi_q5", "alpha", kNow)};
  std::vector<Event> events{MakeEvent("evt_q4", "pi_q4", "created"),
                            MakeEvent("evt_q5", "pi_q5", "created")};
  const std::vector<std::string> keys{"kq4", "kq5"};
  std::vector<CreateRecord> records;
  for (size_t i = 0; i < holds.size(); ++i) {
    events[i].status_after = holds[i].status;
    events[i].created_at = kNow + 3;
    REQUIRE_OK(ledger.BeginIntent(MakeIntent(keys[i], kNow)));
    records.push_back({&holds[i], &events[i], keys[i], "{}", kNow + 3});
  }
  for (const Status& recorded : ledger.RecordCreates(records)) REQUIRE_OK(recorded);

  auto due = ledger.LeaseDueNotifications(kNow + 10, 60, 100);
  REQUIRE_OK(due);
  BOOST_TEST(Ids(*due) == (std::vector<std::string>{"ntf_q1", "ntf_q3", "ntf_q4", "ntf_q5"}),
             boost::test_tools::per_element());
  const Notification& n = due->front();
  BOOST_TEST(n.client == "alpha");
  BOOST_TEST(n.hold_id == "pi_q1");
  BOOST_TEST(n.type == "hold.captured");
  BOOST_TEST((n.status == NotificationStatus::kPending));
  BOOST_TEST(n.attempts == 0);
  BOOST_TEST(n.last_error.empty());
  BOOST_TEST(n.created_at == kNow + 1);
  BOOST_TEST((n.next_attempt_at == std::optional<int64_t>(kNow + 1)));
  BOOST_TEST((n.lease_until == std::optional<int64_t>(kNow + 70)));
  BOOST_TEST(n.event.id == "evt_q1");
  BOOST_TEST(n.event.seq == 2);
  BOOST_TEST(n.event.type == "captured");
  BOOST_TEST(n.event.actor == "client:main");
  BOOST_TEST(n.event.status_after == "succeeded");
  BOOST_TEST((n.event.amount == std::optional<int64_t>(1200)));
  BOOST_TEST(n.event.detail_json == R"({"reason":"damage"})");
  BOOST_TEST(n.event.created_at == kNow + 1);
  BOOST_TEST(due->at(1).type == "hold.created");
  BOOST_TEST(due->at(1).event.seq == 1);
  BOOST_TEST(NotificationIdFor("evt_q1") == "ntf_q1");

  // Without the client in the set, nothing more is queued and nothing is handed out.
  REQUIRE_OK(ledger.SetNotificationClients({}));
  REQUIRE_OK(ledger.AppendEvent(EventAt("evt_q6", "pi_q1", kNow + 4)));
  auto none = ledger.LeaseDueNotifications(kNow + 1000, 60, 100);
  REQUIRE_OK(none);
  BOOST_TEST(none->empty());
  REQUIRE_OK(ledger.SetNotificationClients(alpha));  // back: the queued ones are due again
  auto again = ledger.LeaseDueNotifications(kNow + 1000, 60, 100);
  REQUIRE_OK(again);
  BOOST_TEST(Ids(*again) == (std::vector<std::string>{"ntf_q1", "ntf_q3", "ntf_q4", "ntf_q5"}),
             boost::test_tools::per_element());
  REQUIRE_ERROR(ledger.LeaseDueNotifications(kNow, 60, 0));
}

inline void leases_only_the_oldest_pending_notification_of_each_hold(Ledger& ledger) {
  using Outcome = NotificationAttempt::Outcome;
  const std::vector<std::string> alpha{"alpha"};
  REQUIRE_OK(ledger.SetNotificationClients(alpha));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_oa", "alpha", kNow)));
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_ob", "alpha", kNow)));
  for (int i = 1; i <= 3; ++i) {
    REQUIRE_OK(ledger.AppendEvent(EventAt("evt_a" + std::to_string(i), "pi_oa", kNow + i)));
  }
  REQUIRE_OK(ledger.AppendEvent(EventAt("evt_b1", "pi_ob", kNow + 2)));
  REQUIRE_OK(ledger.AppendEvent(EventAt("evt_later", "pi_ob", kNow + 500)));

  auto first = ledger.LeaseDueNotifications(kNow + 10, 60, 1);  // limit 1: the oldest
  REQUIRE_OK(first);
  BOOST_TEST(Ids(*first) == std::vector<std::string>{"ntf_a1"});
  auto second = ledger.LeaseDueNotifications(kNow + 10, 60, 10);  // a1 leased, a2 waits
  REQUIRE_OK(second);
  BOOST_TEST(Ids(*second) == std::vector<std::string>{"ntf_b1"});
  BOOST_TEST(ledger.LeaseDueNotifications(kNow + 10, 60, 10)->empty());

  auto delivered = ledger.RecordNotificationAttempt(Try("ntf_a1", Outcome::kDelivered, kNow + 11));
  REQUIRE_OK(delivered);
  BOOST_TEST(*delivered);
  auto next = ledger.LeaseDueNotifications(kNow + 11, 60, 10);  // a2 is the hold's oldest now
  REQUIRE_OK(next);
  BOOST_TEST(Ids(*next) == std::vector<std::string>{"ntf_a2"});
  REQUIRE_OK(ledger.RecordNotificationAttempt(
      Try("ntf_a2", Outcome::kFailed, kNow + 12, kNow + 22, "HTTP 500")));
  BOOST_TEST(ledger.LeaseDueNotifications(kNow + 21, 60, 10)->empty());  // a3 waits for a2
  auto retry = ledger.LeaseDueNotifications(kNow + 22, 60, 10);
  REQUIRE_OK(retry);
  BOOST_REQUIRE_EQUAL(retry->size(), 1U);
  BOOST_TEST(retry->front().id == "ntf_a2");
  BOOST_TEST(retry->front().attempts == 1);
  BOOST_TEST(retry->front().last_error == "HTTP 500");
  BOOST_TEST(retry->front().event.id == "evt_a2");
  // Given up, a2 no longer blocks a3.
  REQUIRE_OK(ledger.RecordNotificationAttempt(
      Try("ntf_a2", Outcome::kGaveUp, kNow + 23, std::nullopt, "timeout")));
  auto after = ledger.LeaseDueNotifications(kNow + 23, 60, 10);
  REQUIRE_OK(after);
  BOOST_TEST(Ids(*after) == std::vector<std::string>{"ntf_a3"});
  // b1's lease ran out unrecorded: due again; its hold's later event is not yet due.
  auto expired = ledger.LeaseDueNotifications(kNow + 71, 60, 10);
  REQUIRE_OK(expired);
  BOOST_TEST(Ids(*expired) == std::vector<std::string>{"ntf_b1"});
  // Let go untried: attempts unchanged, due again at its new time.
  REQUIRE_OK(
      ledger.RecordNotificationAttempt(Try("ntf_b1", Outcome::kNotTried, kNow + 72, kNow + 600)));
  auto a3 = ledger.LeaseDueNotifications(kNow + 599, 60, 10);  // a3's lease ran out too
  REQUIRE_OK(a3);
  BOOST_TEST(Ids(*a3) == std::vector<std::string>{"ntf_a3"});
  auto back = ledger.LeaseDueNotifications(kNow + 600, 60, 10);
  REQUIRE_OK(back);
  BOOST_REQUIRE_EQUAL(back->size(), 1U);
  BOOST_TEST(back->front().id == "ntf_b1");
  BOOST_TEST(back->front().attempts == 0);
}

inline void records_tries_and_lists_a_clients_failed_notifications(Ledger& ledger) {
  using Outcome = NotificationAttempt::Outcome;
  const std::vector<std::string> both{"alpha", "beta"};
  REQUIRE_OK(ledger.SetNotificationClients(both));
  for (int i = 1; i <= 4; ++i) {
    const std::string pi = "pi_f" + std::to_string(i);
    REQUIRE_OK(ledger.RecordHold(MakeHold(pi, "alpha", kNow)));
    REQUIRE_OK(ledger.AppendEvent(EventAt("evt_f" + std::to_string(i), pi, kNow + i)));
  }
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_g1", "beta", kNow)));
  REQUIRE_OK(ledger.AppendEvent(EventAt("evt_g1", "pi_g1", kNow)));
  auto due = ledger.LeaseDueNotifications(kNow + 10, 60, 10);
  REQUIRE_OK(due);
  BOOST_REQUIRE_EQUAL(due->size(), 5U);
  // f1 delivered at once; f2 failed twice; f3 given up; f4 never tried; g1 (beta) failed.
  REQUIRE_OK(ledger.RecordNotificationAttempt(Try("ntf_f1", Outcome::kDelivered, kNow + 11)));
  REQUIRE_OK(ledger.RecordNotificationAttempt(
      Try("ntf_f2", Outcome::kFailed, kNow + 11, kNow + 21, "HTTP 502")));
  REQUIRE_OK(ledger.RecordNotificationAttempt(
      Try("ntf_f2", Outcome::kFailed, kNow + 21, kNow + 41, "timeout")));
  REQUIRE_OK(ledger.RecordNotificationAttempt(
      Try("ntf_f3", Outcome::kGaveUp, kNow + 11, std::nullopt, "HTTP 410")));
  REQUIRE_OK(ledger.RecordNotificationAttempt(
      Try("ntf_g1", Outcome::kFailed, kNow + 11, kNow + 21, "HTTP 500")));
  auto repeat = ledger.RecordNotificationAttempt(Try("ntf_f1", Outcome::kFailed, kNow, kNow));
  REQUIRE_OK(repeat);
  BOOST_TEST(!*repeat);  // delivered: no longer pending, unchanged
  auto unknown = ledger.RecordNotificationAttempt(Try("ntf_nope", Outcome::kDelivered, kNow));
  REQUIRE_ERROR(unknown);
  BOOST_TEST((unknown.error().kind == ErrorKind::kNotFound));
  auto bad = ledger.RecordNotificationAttempt(Try("ntf_f4", Outcome::kFailed, kNow));
  REQUIRE_ERROR(bad);
  BOOST_TEST((bad.error().kind == ErrorKind::kInvalidArgument));

  auto failed = ledger.ListFailedNotifications("alpha", "", 10);  // newest first
  REQUIRE_OK(failed);
  BOOST_TEST(Ids(failed->data) == (std::vector<std::string>{"ntf_f3", "ntf_f2"}),
             boost::test_tools::per_element());
  BOOST_TEST(!failed->has_more);
  const Notification& f3 = failed->data[0];
  BOOST_TEST((f3.status == NotificationStatus::kGaveUp));
  BOOST_TEST(f3.attempts == 1);
  BOOST_TEST(f3.last_error == "HTTP 410");
  BOOST_TEST(!f3.next_attempt_at.has_value());
  BOOST_TEST(f3.hold_id == "pi_f3");
  BOOST_TEST(f3.type == "hold.reconciled");
  BOOST_TEST(f3.event.id == "evt_f3");
  const Notification& f2 = failed->data[1];
  BOOST_TEST((f2.status == NotificationStatus::kPending));
  BOOST_TEST(f2.attempts == 2);
  BOOST_TEST(f2.last_error == "timeout");
  BOOST_TEST((f2.next_attempt_at == std::optional<int64_t>(kNow + 41)));
  auto page = ledger.ListFailedNotifications("alpha", "", 1);
  REQUIRE_OK(page);
  BOOST_TEST(Ids(page->data) == std::vector<std::string>{"ntf_f3"});
  BOOST_TEST(page->has_more);
  page = ledger.ListFailedNotifications("alpha", "ntf_f3", 1);
  REQUIRE_OK(page);
  BOOST_TEST(Ids(page->data) == std::vector<std::string>{"ntf_f2"});
  BOOST_TEST(!page->has_more);
  auto beta = ledger.ListFailedNotifications("beta", "", 10);
  REQUIRE_OK(beta);
  BOOST_TEST(Ids(beta->data) == std::vector<std::string>{"ntf_g1"});
  auto foreign = ledger.ListFailedNotifications("beta", "ntf_f3", 10);  // not beta's
  REQUIRE_ERROR(foreign);
  BOOST_TEST(foreign.error().param == "starting_after");
  REQUIRE_ERROR(ledger.ListFailedNotifications("alpha", "", 101));
  // Delivered after failing: off the list.
  REQUIRE_OK(ledger.RecordNotificationAttempt(Try("ntf_f2", Outcome::kDelivered, kNow + 41)));
  failed = ledger.ListFailedNotifications("alpha", "", 10);
  REQUIRE_OK(failed);
  BOOST_TEST(Ids(failed->data) == std::vector<std::string>{"ntf_f3"});
}

// The hold's life (0008): a hold's terms are kept; an event may append to the chain and
// set or clear the hold's reauthorization, in its own commit.
inline void keeps_a_holds_terms_and_an_event_moves_its_chain_on(Ledger& ledger) {
  Hold h = MakeHold("pi_r", "main", kNow);
  h.stay_ends_at = kNow + 10 * 86400;
  h.reauthorize = true;
  h.customer = "cus_1";
  REQUIRE_OK(ledger.RecordHold(h));
  Event refused = MakeEvent("evt_refused", "pi_r", "reauthorization_failed");
  refused.payment_intent = "pi_refused";
  refused.hold_reauthorization =
      R"({"status":"failed","code":"authentication_required","client_secret":"s","attempt":0})";
  REQUIRE_OK(ledger.AppendEvent(refused));
  auto waiting = ledger.FindHold("pi_r");
  REQUIRE_OK(waiting);
  BOOST_REQUIRE(waiting->has_value());
  BOOST_TEST((*waiting)->reauthorize);
  BOOST_TEST(((*waiting)->stay_ends_at == h.stay_ends_at));
  BOOST_TEST((*waiting)->customer == "cus_1");
  BOOST_TEST((*waiting)->reauthorization_json.find("authentication_required") != std::string::npos);
  BOOST_TEST((*waiting)->payment_intents == std::vector<std::string>{"pi_r"},
             boost::test_tools::per_element());
  Event adopted = MakeEvent("evt_adopted", "pi_r", "reauthorized");
  adopted.status_after = "requires_capture";
  adopted.hold_payment_intent = "pi_r2";
  adopted.hold_reauthorization = "";
  adopted.hold_expires_at = kNow + 12 * 86400;
  REQUIRE_OK(ledger.AppendEvent(adopted));
  REQUIRE_OK(ledger.AppendEvent(adopted));  // a repeat appends nothing more
  for (const char* id : {"pi_r", "pi_r2", "CHITTY-AUTH-pi_r"}) {
    auto found = ledger.FindHold(id);
    REQUIRE_OK(found);
    BOOST_REQUIRE_MESSAGE(found->has_value(), id);
    BOOST_TEST((*found)->id == "pi_r");
    BOOST_TEST((*found)->payment_intents == (std::vector<std::string>{"pi_r", "pi_r2"}),
               boost::test_tools::per_element());
    BOOST_TEST((*found)->reauthorization_json.empty());
    BOOST_TEST(((*found)->expires_at == kNow + 12 * 86400));
  }
  REQUIRE_OK(ledger.RecordHold(MakeHold("pi_other", "main", kNow)));
  Event stolen = MakeEvent("evt_stolen", "pi_r", "reauthorized");
  stolen.hold_payment_intent = "pi_other";  // another hold's PaymentIntent: refused
  REQUIRE_ERROR(ledger.AppendEvent(stolen));
  Event bad = MakeEvent("evt_bad", "pi_r", "reauthorized");
  bad.hold_payment_intent = "seti_x";
  REQUIRE_ERROR(ledger.AppendEvent(bad));
  Hold no_end = MakeHold("pi_n", "main", kNow);
  no_end.reauthorize = true;  // without stay_ends_at
  REQUIRE_ERROR(ledger.RecordHold(no_end));
}

// Scheduled holds at authorize_at and re-authorizations margin_s before expires_at (while
// the stay goes on, and no refused one waits), in due order, each leased once.
inline void leases_due_authorizations_in_due_order(Ledger& ledger) {
  constexpr int64_t kMargin = 86400;
  Hold scheduled = MakeHold("seti_s", "main", kNow - 7200);
  scheduled.payment_intents.clear();
  scheduled.status = "scheduled";
  scheduled.expires_at.reset();
  scheduled.authorize_at = kNow - 60;
  Hold later = scheduled;
  later.id = "seti_later";
  later.chitty_id = "CHITTY-later";
  later.authorize_at = kNow + 60;
  Hold reauth = MakeHold("pi_r", "main", kNow - 6 * 86400);
  reauth.expires_at = kNow + 3600;  // due an hour ago less the margin
  reauth.reauthorize = true;
  reauth.stay_ends_at = kNow + 4 * 86400;
  Hold short_stay = MakeHold("pi_short", "main", kNow - 6 * 86400);
  short_stay.expires_at = kNow + 3600;
  short_stay.reauthorize = true;
  short_stay.stay_ends_at = kNow + 1800;  // ends before the authorization does
  Hold not_asked = MakeHold("pi_plain", "main", kNow - 6 * 86400);
  not_asked.expires_at = kNow + 3600;
  Hold waiting = reauth;
  waiting.id = "pi_waiting";
  waiting.chitty_id = "CHITTY-waiting";
  waiting.payment_intents = {"pi_waiting"};
  for (const Hold& h : {scheduled, later, reauth, short_stay, not_asked, waiting}) {
    REQUIRE_OK(ledger.RecordHold(h));
  }
  Event refused = MakeEvent("evt_w", "pi_waiting", "reauthorization_failed");
  refused.chitty_id = "CHITTY-waiting";
  refused.hold_reauthorization = R"({"status":"failed","code":"card_declined"})";
  REQUIRE_OK(ledger.AppendEvent(refused));
  auto due = ledger.LeaseDueAuthorizations(kNow, kMargin, 300, 10);
  REQUIRE_OK(due);
  // pi_r was due at expires_at - margin = kNow + 3600 - 86400: before seti_s's kNow - 60.
  BOOST_TEST(Ids(*due) == (std::vector<std::string>{"pi_r", "seti_s"}),
             boost::test_tools::per_element());
  auto again = ledger.LeaseDueAuthorizations(kNow + 10, kMargin, 300, 10);
  REQUIRE_OK(again);
  BOOST_TEST(again->empty());  // leased
  auto after = ledger.LeaseDueAuthorizations(kNow + 301, kMargin, 300, 1);
  REQUIRE_OK(after);
  BOOST_TEST(Ids(*after) == std::vector<std::string>{"pi_r"}, boost::test_tools::per_element());
  auto rest = ledger.LeaseDueAuthorizations(kNow + 302, kMargin, 300, 10);
  REQUIRE_OK(rest);
  BOOST_TEST(Ids(*rest) == (std::vector<std::string>{"seti_s", "seti_later"}),
             boost::test_tools::per_element());
}

}  // namespace cc::ledger::behaviour

#define CC_LEDGER_BEHAVIOUR_CASE(Fixture, name) \
  BOOST_FIXTURE_TEST_CASE(name, Fixture) { ::cc::ledger::behaviour::name(ledger); }

// One test case per shared behaviour, each on a fresh Fixture.
#define CC_LEDGER_BEHAVIOUR_CASES(Fixture)                                                         \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_a_dispute_and_marks_it_once)                           \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_a_guest_link_once_and_finds_it_by_its_token_hash)      \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, leases_disputes_to_stage_once_until_staged_or_the_lease_ends)  \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_a_hold_once_and_finds_it_by_any_of_its_ids)            \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, refuses_invalid_holds_and_ids_of_another_hold)                 \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, lists_a_clients_holds_newest_first_and_the_cursor_never_skips) \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, filters_holds_by_property_tenant_status_and_time)              \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, appends_events_in_order_and_a_repeat_returns_the_stored_one)   \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, refuses_events_of_unknown_holds_and_bad_events)                \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, pages_through_a_holds_events_oldest_first)                     \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_stripe_intents_before_and_results_after)               \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_a_create_in_one_call_and_a_repeat_changes_nothing)     \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, begins_a_batch_of_intents_as_one_by_one)                       \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_a_batch_of_creates_as_one_by_one)                      \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, keeps_named_job_state)                                         \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, leases_due_releases_once_until_the_lease_ends)                 \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, leases_due_checks_longest_waiting_first_once_per_interval)     \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, an_event_may_set_its_holds_expiry)                             \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, appends_a_transition_only_while_the_status_is_what_was_read)   \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, finds_an_intent_by_its_key_with_its_request)                   \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, sets_a_holds_claim_once_and_reads_it_back_as_given)            \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, sets_a_holds_disclosure_once_and_reads_it_back)                \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_evidence_with_its_event_and_lists_a_holds_files)       \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_a_webhook_event_id_once)                               \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture,                                                                \
                           queues_a_notification_for_each_event_of_a_notification_clients_holds)   \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, leases_only_the_oldest_pending_notification_of_each_hold)      \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, records_tries_and_lists_a_clients_failed_notifications)        \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, keeps_a_holds_terms_and_an_event_moves_its_chain_on)           \
  CC_LEDGER_BEHAVIOUR_CASE(Fixture, leases_due_authorizations_in_due_order)
