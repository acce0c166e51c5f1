#include "stripe/payment_intent_json.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "core/json.h"

namespace cc::stripe {
namespace {

using rapidjson::Value;

// No kParseValidateEncodingFlag: it checks every byte of an answer of which a few
// fields are kept; the kept strings are checked instead (json::ValidUtf8).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;

tl::unexpected<Error> Malformed(std::string_view what) {
  return Fail(ErrorKind::kUpstream, "upstream_error",
              "Stripe sent " + std::string(what) + " that could not be read.");
}

// A string of valid UTF-8.
bool IsText(const Value& v) {
  return v.IsString() && json::ValidUtf8(std::string_view(v.GetString(), v.GetStringLength()));
}

// Typed reads of one JSON object; the first type mismatch is remembered in bad_field().
class Reader {
 public:
  explicit Reader(const Value& object) : object_(object) {}

  // nullptr when missing or null.
  const Value* Find(const char* name) {
    const auto it = object_.FindMember(name);
    if (it == object_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }
  std::string String(const char* name) {
    const Value* v = Find(name);
    if (v == nullptr) return {};
    if (!IsText(*v)) {
      Bad(name);
      return {};
    }
    return {v->GetString(), v->GetStringLength()};
  }
  std::optional<int64_t> Int(const char* name) {
    const Value* v = Find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->IsInt64()) {
      Bad(name);
      return std::nullopt;
    }
    return v->GetInt64();
  }
  // nullptr when missing, null or not an object (the latter remembered).
  const Value* Object(const char* name) {
    const Value* v = Find(name);
    if (v != nullptr && !v->IsObject()) {
      Bad(name);
      return nullptr;
    }
    return v;
  }
  [[nodiscard]] const std::string& bad_field() const { return bad_field_; }
  // Remembers the first field of the wrong type (or not valid UTF-8).
  void Bad(const char* name) {
    if (bad_field_.empty()) bad_field_ = name;
  }

 private:
  const Value& object_;
  std::string bad_field_;
};

// Walks object → name → name …; nullptr when any step is missing or not an object.
const Value* Path(const Value& root, std::initializer_list<const char*> names) {
  const Value* v = &root;
  for (const char* name : names) {
    if (!v->IsObject()) return nullptr;
    const auto it = v->FindMember(name);
    if (it == v->MemberEnd()) return nullptr;
    v = &it->value;
  }
  return v;
}

void ReadLatestCharge(Reader& r, PaymentIntent& pi) {
  const Value* charge = r.Find("latest_charge");
  if (charge == nullptr) return;
  if (charge->IsString()) {
    pi.latest_charge = r.String("latest_charge");
    return;
  }
  if (!charge->IsObject()) {
    r.String("latest_charge");  // records the type mismatch
    return;
  }
  Reader c(*charge);
  pi.latest_charge = c.String("id");
  pi.amount_refunded = c.Int("amount_refunded").value_or(0);
  if (!c.bad_field().empty()) r.Bad("latest_charge");
  const Value* before = Path(*charge, {"payment_method_details", "card", "capture_before"});
  if (before != nullptr && before->IsInt64()) pi.capture_before = before->GetInt64();
}

void ReadMetadata(Reader& r, Metadata& out) {
  const Value* metadata = r.Object("metadata");
  if (metadata == nullptr) return;
  for (const auto& member : metadata->GetObject()) {
    if (!member.value.IsString()) continue;  // Stripe metadata values are strings
    if (!IsText(member.name) || !IsText(member.value)) {
      r.Bad("metadata");
      return;
    }
    out.emplace(std::string(member.name.GetString(), member.name.GetStringLength()),
                std::string(member.value.GetString(), member.value.GetStringLength()));
  }
}

// A field that is an id or, expanded, an object with an id: the id (and the object's
// reader in *expanded when it came expanded, for more fields).
std::string IdOrExpanded(Reader& r, const char* name, const Value** expanded = nullptr) {
  const Value* v = r.Find(name);
  if (v != nullptr && v->IsObject()) {
    if (expanded != nullptr) *expanded = v;
    Reader o(*v);
    std::string id = o.String("id");
    if (!o.bad_field().empty()) r.Bad(name);
    return id;
  }
  return r.String(name);
}

}  // namespace

Result<PaymentIntent> ParsePaymentIntent(const Value& object) {
  if (!object.IsObject()) return Malformed("a PaymentIntent that is not a JSON object");
  Reader r(object);
  const std::string kind = r.String("object");
  if (!kind.empty() && kind != "payment_intent") return Malformed("an object of another type");
  PaymentIntent pi;
  pi.id = r.String("id");
  pi.status = r.String("status");
  const std::optional<int64_t> amount = r.Int("amount");
  if (pi.id.empty() || pi.status.empty() || !amount) {
    return Malformed("a PaymentIntent without id, status or amount");
  }
  pi.amount = *amount;
  pi.amount_capturable = r.Int("amount_capturable").value_or(0);
  pi.amount_received = r.Int("amount_received").value_or(0);
  pi.currency = r.String("currency");
  pi.description = r.String("description");
  pi.receipt_email = r.String("receipt_email");
  pi.client_secret = r.String("client_secret");
  pi.cancellation_reason = r.String("cancellation_reason");
  pi.created = r.Int("created").value_or(0);
  pi.canceled_at = r.Int("canceled_at");
  ReadLatestCharge(r, pi);
  if (const Value* error = r.Object("last_payment_error")) {
    Reader e(*error);
    pi.last_payment_error_code = e.String("code");
    pi.last_payment_error_decline_code = e.String("decline_code");
  }
  pi.customer = IdOrExpanded(r, "customer");
  pi.payment_method = IdOrExpanded(r, "payment_method");
  ReadMetadata(r, pi.metadata);
  if (!r.bad_field().empty()) {
    return Malformed("a PaymentIntent whose field `" + r.bad_field() + "` has the wrong type");
  }
  return pi;
}

Result<PaymentIntent> ParsePaymentIntent(std::string_view json) {
  std::string text(json);  // parsed in place: strings are not copied again
  rapidjson::Document doc;
  doc.ParseInsitu<kParseFlags>(text.data());
  if (doc.HasParseError()) return Malformed("a PaymentIntent answer that is not valid JSON");
  return ParsePaymentIntent(static_cast<const Value&>(doc));
}

Result<Customer> ParseCustomer(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Malformed("a Customer answer");
  Reader r(doc);
  Customer customer;
  customer.id = r.String("id");
  customer.email = r.String("email");
  if (customer.id.empty() || !r.bad_field().empty()) return Malformed("a Customer");
  return customer;
}

Result<SetupIntent> ParseSetupIntent(const Value& object) {
  if (!object.IsObject()) return Malformed("a SetupIntent that is not a JSON object");
  Reader r(object);
  const std::string kind = r.String("object");
  if (!kind.empty() && kind != "setup_intent") return Malformed("an object of another type");
  SetupIntent si;
  si.id = r.String("id");
  si.status = r.String("status");
  if (si.id.empty() || si.status.empty()) return Malformed("a SetupIntent without id or status");
  const Value* customer = nullptr;
  si.customer = IdOrExpanded(r, "customer", &customer);
  if (customer != nullptr) {
    Reader c(*customer);
    si.customer_email = c.String("email");
  }
  si.payment_method = IdOrExpanded(r, "payment_method");
  si.client_secret = r.String("client_secret");
  si.description = r.String("description");
  si.created = r.Int("created").value_or(0);
  if (const Value* error = r.Object("last_setup_error")) {
    Reader e(*error);
    si.last_setup_error_code = e.String("code");
  }
  ReadMetadata(r, si.metadata);
  if (!r.bad_field().empty()) {
    return Malformed("a SetupIntent whose field `" + r.bad_field() + "` has the wrong type");
  }
  return si;
}

Result<SetupIntent> ParseSetupIntent(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError()) return Malformed("a SetupIntent answer that is not valid JSON");
  return ParseSetupIntent(static_cast<const Value&>(doc));
}

Result<SearchPage> ParseSearchPage(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Malformed("a search answer");
  const auto data = doc.FindMember("data");
  if (data == doc.MemberEnd() || !data->value.IsArray()) return Malformed("a search answer");
  SearchPage page;
  for (const Value& item : data->value.GetArray()) {
    Result<PaymentIntent> pi = ParsePaymentIntent(item);
    if (!pi) return Fail(std::move(pi.error()));
    page.data.push_back(std::move(*pi));
  }
  const Value* has_more = Path(doc, {"has_more"});
  page.has_more = has_more != nullptr && has_more->IsBool() && has_more->GetBool();
  const Value* next = Path(doc, {"next_page"});
  if (next != nullptr && next->IsString()) {
    page.next_page.assign(next->GetString(), next->GetStringLength());
  }
  return page;
}

Result<EventPage> ParseEventPage(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Malformed("an event list");
  const auto data = doc.FindMember("data");
  if (data == doc.MemberEnd() || !data->value.IsArray()) return Malformed("an event list");
  EventPage page;
  for (const Value& item : data->value.GetArray()) {
    if (!item.IsObject()) return Malformed("an event list");
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    item.Accept(w);
    page.events.emplace_back(buf.GetString(), buf.GetSize());
  }
  const Value* has_more = Path(doc, {"has_more"});
  page.has_more = has_more != nullptr && has_more->IsBool() && has_more->GetBool();
  return page;
}

Result<Refund> ParseRefund(const Value& object) {
  if (!object.IsObject()) return Malformed("a Refund that is not a JSON object");
  Reader r(object);
  const std::string kind = r.String("object");
  if (!kind.empty() && kind != "refund") return Malformed("an object of another type");
  Refund refund;
  refund.id = r.String("id");
  const std::optional<int64_t> amount = r.Int("amount");
  if (refund.id.empty() || !amount) return Malformed("a Refund without id or amount");
  refund.amount = *amount;
  refund.currency = r.String("currency");
  refund.status = r.String("status");
  refund.created = r.Int("created").value_or(0);
  // payment_intent may be an id or, expanded, a PaymentIntent.
  if (const Value* pi = r.Find("payment_intent"); pi != nullptr && pi->IsObject()) {
    Reader p(*pi);
    refund.payment_intent = p.String("id");
  } else {
    refund.payment_intent = r.String("payment_intent");
  }
  if (const Value* metadata = r.Object("metadata")) {
    Reader m(*metadata);
    refund.reason = m.String("reason");
    refund.intent = m.String("intent");
    if (!m.bad_field().empty()) r.Bad("metadata");
  }
  if (!r.bad_field().empty()) {
    return Malformed("a Refund whose field `" + r.bad_field() + "` has the wrong type");
  }
  return refund;
}

Result<File> ParseFile(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Malformed("a File that is not a JSON object");
  Reader r(doc);
  const std::string kind = r.String("object");
  if (!kind.empty() && kind != "file") return Malformed("an object of another type");
  File file;
  file.id = r.String("id");
  const std::optional<int64_t> size = r.Int("size");
  if (!file.id.starts_with("file_") || !size) return Malformed("a File without id or size");
  file.size = *size;
  file.filename = r.String("filename");
  file.purpose = r.String("purpose");
  file.type = r.String("type");
  file.created = r.Int("created").value_or(0);
  if (!r.bad_field().empty()) return Malformed("a File with a field of the wrong type");
  return file;
}

Result<Refund> ParseRefund(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError()) return Malformed("a Refund answer that is not valid JSON");
  return ParseRefund(static_cast<const Value&>(doc));
}

Result<RefundPage> ParseRefundPage(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Malformed("a refund list");
  const auto data = doc.FindMember("data");
  if (data == doc.MemberEnd() || !data->value.IsArray()) return Malformed("a refund list");
  RefundPage page;
  for (const Value& item : data->value.GetArray()) {
    Result<Refund> refund = ParseRefund(item);
    if (!refund) return Fail(std::move(refund.error()));
    page.data.push_back(std::move(*refund));
  }
  const Value* has_more = Path(doc, {"has_more"});
  page.has_more = has_more != nullptr && has_more->IsBool() && has_more->GetBool();
  return page;
}

Result<Dispute> ParseDispute(const Value& object) {
  if (!object.IsObject()) return Malformed("a Dispute that is not a JSON object");
  Reader r(object);
  const std::string kind = r.String("object");
  if (!kind.empty() && kind != "dispute") return Malformed("an object of another type");
  Dispute d;
  d.id = r.String("id");
  d.status = r.String("status");
  d.reason = r.String("reason");
  const std::optional<int64_t> amount = r.Int("amount");
  if (d.id.empty() || d.status.empty() || d.reason.empty() || !amount) {
    return Malformed("a Dispute without id, status, reason or amount");
  }
  d.amount = *amount;
  d.currency = r.String("currency");
  d.created = r.Int("created").value_or(0);
  // charge and payment_intent may be ids or, expanded, objects.
  for (auto [name, out] : {std::pair{"charge", &d.charge}, {"payment_intent", &d.payment_intent}}) {
    if (const Value* v = r.Find(name); v != nullptr && v->IsObject()) {
      *out = Reader(*v).String("id");
    } else {
      *out = r.String(name);
    }
  }
  if (const Value* details = r.Object("evidence_details")) {
    Reader e(*details);
    const std::optional<int64_t> due_by = e.Int("due_by");
    if (due_by && *due_by > 0) d.evidence_due_by = due_by;
    d.submission_count = static_cast<int>(e.Int("submission_count").value_or(0));
    if (!e.bad_field().empty()) r.Bad("evidence_details");
  }
  if (const Value* txns = r.Find("balance_transactions"); txns != nullptr && txns->IsArray()) {
    d.balance_transactions = static_cast<int>(txns->Size());
  }
  if (!r.bad_field().empty()) {
    return Malformed("a Dispute whose field `" + r.bad_field() + "` has the wrong type");
  }
  return d;
}

Result<Dispute> ParseDispute(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json.data(), json.size());
  if (doc.HasParseError()) return Malformed("a Dispute answer that is not valid JSON");
  return ParseDispute(static_cast<const Value&>(doc));
}

}  // namespace cc::stripe
