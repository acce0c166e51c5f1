#include "holds/disputes.h"

#include <set>

#include "claims/claim.h"
#include "claims/currency.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/time_util.h"

namespace cc::holds {
namespace {

constexpr size_t kMaxEvidenceText = 20'000;  // Stripe's limit per text field
constexpr size_t kMaxTrailLines = 60;

bool Closed(std::string_view status) {
  return status == "won" || status == "lost" || status == "warning_closed";
}

std::string DisputeDetail(const stripe::Dispute& d, bool with_due_by,
                          std::optional<bool> funds_reinstated = std::nullopt) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "dispute");
  json::String(w, d.id);
  json::Key(w, "status");
  json::String(w, d.status);
  json::Key(w, "reason");
  json::String(w, d.reason);
  if (with_due_by) {
    json::Key(w, "evidence_due_by");
    json::StringOrNull(w, d.evidence_due_by ? FormatIso8601(*d.evidence_due_by) : "");
  }
  if (funds_reinstated) {
    json::Key(w, "funds_reinstated");
    w.Bool(*funds_reinstated);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

Status Append(ledger::Ledger& ledger, const ledger::Hold& hold, const stripe::Dispute& d,
              std::string_view type, std::string_view what, const Actor& actor, int64_t now,
              std::string detail) {
  ledger::Event e;
  e.id = EventIdFor(hold.id, "dispute:" + d.id + ":" + std::string(what));
  e.hold_id = hold.id;
  e.chitty_id = hold.chitty_id;
  e.type = std::string(type);
  e.actor = actor.name;
  e.request_id = actor.request_id;
  e.amount = d.amount;
  e.currency = d.currency.empty() ? hold.currency : d.currency;
  e.payment_intent = d.payment_intent;
  e.detail_json = std::move(detail);
  e.created_at = now;
  auto appended = ledger.AppendEvent(e);
  if (!appended) return Fail(appended.error());
  return Ok();
}

std::string Clip(std::string text) {
  if (text.size() <= kMaxEvidenceText) return text;
  constexpr std::string_view kCut = "\n[… cut to Stripe's 20,000-character limit]";
  size_t end = kMaxEvidenceText - kCut.size();
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text + std::string(kCut);
}

std::string Money(int64_t amount, std::string_view currency) {
  if (const auto c = claims::ParseCurrency(currency)) return claims::FormatAmount(amount, *c);
  return std::to_string(amount) + " " + std::string(currency);
}

std::string Date(int64_t t) { return FormatIso8601(t).substr(0, 10); }

}  // namespace

bool DisputeOpenForEvidence(std::string_view status) {
  return status == "needs_response" || status == "warning_needs_response";
}

Status RecordDispute(ledger::Ledger& ledger, const ledger::Hold& hold, const stripe::Dispute& d,
                     const Actor& actor, int64_t now) {
  ledger::Dispute row;
  row.id = d.id;
  row.status = d.status;
  row.reason = d.reason;
  row.amount = d.amount;
  row.evidence_due_by = d.evidence_due_by;
  if (auto recorded = ledger.RecordDispute(hold.id, row); !recorded) {
    return Fail(recorded.error());
  }
  if (auto ok =
          Append(ledger, hold, d, "dispute_opened", "opened", actor, now, DisputeDetail(d, true));
      !ok) {
    return ok;
  }
  if (Closed(d.status)) {
    return Append(ledger, hold, d, "dispute_closed", "closed", actor, now,
                  DisputeDetail(d, false, d.balance_transactions >= 2));
  }
  return Ok();
}

Status RecordDisputeSubmitted(ledger::Ledger& ledger, const ledger::Hold& hold,
                              const stripe::Dispute& d, const Actor& actor, int64_t now) {
  if (auto ok = Append(ledger, hold, d, "dispute_submitted", "submitted", actor, now,
                       DisputeDetail(d, false));
      !ok) {
    return ok;
  }
  auto marked = ledger.MarkDispute(hold.id, d.id, ledger::DisputeMark::kSubmitted, now);
  if (!marked) return Fail(marked.error());
  return Ok();
}

Status RecordDisputeStaged(ledger::Ledger& ledger, const ledger::Hold& hold,
                           const stripe::Dispute& d, const Actor& actor, int64_t now,
                           std::string detail_json) {
  if (auto ok = Append(ledger, hold, d, "dispute_evidence_staged", "staged", actor, now,
                       std::move(detail_json));
      !ok) {
    return ok;
  }
  auto marked = ledger.MarkDispute(hold.id, d.id, ledger::DisputeMark::kStaged, now);
  if (!marked) return Fail(marked.error());
  return Ok();
}

std::string DisputeFileKey(std::string_view dispute_id, std::string_view pdf_digest) {
  return "dispute-file:" + std::string(dispute_id) + ":" + std::string(pdf_digest.substr(0, 32));
}

std::string DisputeStageKey(std::string_view dispute_id, std::string_view params_digest) {
  return "dispute-stage:" + std::string(dispute_id) + ":" +
         std::string(params_digest.substr(0, 32));
}

std::string DisputeSubmitKey(std::string_view dispute_id) {
  return "dispute-submit:" + std::string(dispute_id);
}

DisputeEvidence BuildDisputeEvidence(const EvidenceSources& s,
                                     const std::vector<std::string>& not_attached) {
  DisputeEvidence out;
  const ledger::Hold& hold = s.hold;
  const std::string dispute_id = hold.dispute ? hold.dispute->id : std::string();
  const std::string property = hold.property_id.empty() ? "the property" : hold.property_id;

  // The claim, as recorded at capture (items with amounts and their evidence ids).
  std::optional<claims::Claim> claim;
  if (auto doc = json::ParseStrict(hold.claim_json); doc && doc->IsObject()) {
    if (const auto* items = json::Member(*doc, "items")) {
      if (auto parsed = claims::ParseClaimItems(*items)) claim = std::move(*parsed);
    }
  }
  std::string claim_text;
  if (claim) {
    claim_text = "Itemized damage claim, captured from the guest's damage-deposit hold (total " +
                 Money(claim->total, hold.currency) + "):";
    std::map<std::string, std::string, std::less<>> captions;
    std::vector<std::string> order;
    for (size_t i = 0; i < claim->items.size(); ++i) {
      const claims::ClaimItem& item = claim->items[i];
      const std::string n = std::to_string(i + 1);
      claim_text += "\n" + n + ". " + item.description + " [" +
                    std::string(claims::CategoryName(item.category)) +
                    "]: " + Money(item.amount, hold.currency);
      if (!item.evidence.empty()) {
        claim_text += " (evidence:";
        for (const std::string& file : item.evidence) {
          claim_text += " " + file;
          if (!captions.contains(file)) order.push_back(file);
          std::string& caption = captions[file];
          caption += (caption.empty() ? "Supports item " : "; item ") + n + ": " + item.description;
        }
        claim_text += ")";
      }
    }
    for (const std::string& file : order) out.files.push_back({file, captions[file]});
  } else {
    claim_text = "No itemized claim is recorded for this hold.";
  }

  std::string disclosure_text;
  if (s.disclosure) {
    disclosure_text = "Hold disclosure accepted by the guest: version " + s.disclosure->version +
                      ", accepted at " + FormatIso8601(s.disclosure->accepted_at) + ".";
    if (const auto* version = claims::FindDisclosure(s.disclosure->version)) {
      const auto currency = claims::ParseCurrency(hold.currency);
      if (currency) {
        disclosure_text +=
            " Its text: \"" +
            claims::RenderDisclosureText(*version, hold.amount, *currency, hold.property_id) + "\"";
      }
    }
  } else {
    disclosure_text = "Hold disclosure: none recorded for this hold.";
  }

  std::string trail = "Audit trail (the service's own record, oldest first):";
  size_t shown = 0;
  for (const ledger::Event& e : s.events) {
    if (shown++ == kMaxTrailLines) {
      trail += "\n… " + std::to_string(s.events.size() - kMaxTrailLines) + " more";
      break;
    }
    trail += "\n" + FormatIso8601(e.created_at) + " " + e.type + " by " + e.actor;
    if (e.amount) trail += ", " + Money(*e.amount, e.currency.empty() ? hold.currency : e.currency);
    if (!e.status_after.empty()) trail += ", status " + e.status_after;
  }

  std::string product = "Damage-deposit hold (a card authorization, not a charge) of " +
                        Money(hold.amount, hold.currency) + " for a stay at " + property;
  if (!s.booking_id.empty()) product += " (booking " + s.booking_id + ")";
  if (!s.description.empty()) product += ": " + s.description;
  product += ". Placed on " + Date(hold.created_at) + ".";
  if (claim) {
    product +=
        " After the stay, the documented damage was captured from it as the itemized"
        " claim below, as the guest agreed when the hold was placed.";
  }
  out.text["product_description"] = Clip(product);
  if (!s.receipt_email.empty()) out.text["customer_email_address"] = s.receipt_email;
  std::string service = "Hold placed " + Date(hold.created_at);
  if (s.captured_at) service += "; damage claim captured " + Date(*s.captured_at);
  out.text["service_date"] = service;

  std::string text = claim_text + "\n\n" + disclosure_text;
  if (!out.files.empty()) {
    text += "\n\nThe evidence files are combined in the attached PDF (uncategorized_file).";
  }
  if (!not_attached.empty()) {
    text += "\nNot attached (over Stripe's evidence limits or unreadable):";
    for (const std::string& line : not_attached) text += "\n- " + line;
  }
  text += "\n\n" + trail;
  out.text["uncategorized_text"] = Clip(std::move(text));

  out.pdf_title = "Evidence for dispute " + dispute_id + " (hold " + hold.id + ")";
  out.pdf_paragraphs = {product, claim_text, disclosure_text};
  return out;
}

}  // namespace cc::holds
