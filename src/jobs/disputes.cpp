#include "jobs/disputes.h"

#include <limits>
#include <string>
#include <vector>

#include "claims/evidence_pdf.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "holds/disputes.h"
#include "holds/journal.h"

namespace cc::jobs {
namespace {

// The disclosure the guest accepted, as the create recorded it (its version and time);
// nullopt when the hold has none.
std::optional<claims::AcceptedDisclosure> AcceptedDisclosureOf(const ledger::Hold& hold) {
  if (hold.disclosure_json.empty()) return std::nullopt;
  auto doc = json::ParseStrict(hold.disclosure_json);
  if (!doc) return std::nullopt;
  // Checked against the clock when it was accepted: any time parses now.
  auto accepted = claims::ParseDisclosure(
      *doc, std::numeric_limits<int64_t>::max() - claims::kAcceptedAtClockSkew);
  if (!accepted) return std::nullopt;
  return std::move(*accepted);
}

const holds::Actor kScheduler{"scheduler", ""};
constexpr int kTrailPages = 5;  // 500 events at most in the trail's summary

enum class Outcome { kStaged, kSkipped, kFailed };

std::string MimeOfStripeType(std::string_view type) {
  if (type == "pdf") return "application/pdf";
  if (type == "jpg" || type == "jpeg") return "image/jpeg";
  if (type == "png") return "image/png";
  return "application/octet-stream";
}

std::string Meta(const stripe::PaymentIntent& pi, const char* key) {
  auto it = pi.metadata.find(key);
  return it == pi.metadata.end() ? std::string() : it->second;
}

// Stripe's answer is final (a retry gets the same): the intent may be closed as failed.
bool Definitive(const Error& error) {
  return error.kind != ErrorKind::kUpstream && error.kind != ErrorKind::kDeadlineExceeded &&
         error.kind != ErrorKind::kUnavailable && error.kind != ErrorKind::kInternal;
}

bool Begin(const http::Deps& deps, const ledger::Hold& hold, const std::string& key,
           const char* operation, const std::string& digest, const std::string& dispute_id,
           const std::string& pi_id, int64_t now) {
  ledger::StripeIntent intent;
  intent.idempotency_key = key;
  intent.operation = operation;
  intent.hold_id = hold.id;
  intent.params_digest = digest;
  intent.created_at = now;
  intent.request_json = holds::IntentRequest(
      {{"actor", "scheduler"}, {"dispute", dispute_id}, {"payment_intent", pi_id}});
  auto begun = deps.ledger.BeginIntent(intent);
  if (!begun) {
    log::Warn("dispute staging not started: ledger",
              {log::Str("hold", hold.id), log::Str("error", begun.error().message)});
  }
  return begun.has_value();
}

void Finish(const http::Deps& deps, const std::string& key, const std::string& result,
            int64_t now) {
  if (auto done = deps.ledger.FinishIntent(key, ledger::IntentState::kSucceeded, result, "", now);
      !done) {
    log::Warn("dispute intent left pending", {log::Str("error", done.error().message)});
  }
}

std::string Digest(const std::map<std::string, std::string>& fields) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  for (const auto& [k, v] : fields) {
    json::Key(w, k);
    json::String(w, v);
  }
  w.EndObject();
  return crypto::Sha256Hex(std::string_view(buf.GetString(), buf.GetSize()));
}

std::string StagedDetail(const std::string& dispute_id, const std::string& file_id,
                         const claims::EvidencePdf& pdf,
                         const std::vector<claims::NotAttached>& not_attached) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "dispute");
  json::String(w, dispute_id);
  json::Key(w, "file");
  json::String(w, file_id);
  json::Key(w, "pages");
  w.Int(pdf.pages);
  json::Key(w, "attached");
  w.StartArray();
  for (const std::string& id : pdf.attached) json::String(w, id);
  w.EndArray();
  json::Key(w, "not_attached");
  w.StartArray();
  for (const auto& x : not_attached) {
    w.StartObject();
    json::Key(w, "id");
    json::String(w, x.id);
    json::Key(w, "filename");
    json::String(w, x.filename);
    json::Key(w, "reason");
    json::String(w, x.why);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

Outcome Stage(const http::Deps& deps, const ledger::Hold& hold, int64_t now) {
  const ledger::Dispute& leased = *hold.dispute;
  const auto fail = [&](std::string_view step, const std::string& error) {
    log::Warn("dispute evidence not staged; the next pass retries",
              {log::Str("hold", hold.id), log::Str("dispute", leased.id),
               log::Str("step", std::string(step)), log::Str("error", error)});
    [[maybe_unused]] auto ended =
        deps.ledger.MarkDispute(hold.id, leased.id, ledger::DisputeMark::kLeaseEnded, now);
    return Outcome::kFailed;
  };
  auto dispute = deps.stripe.RetrieveDispute(leased.id);
  if (!dispute) return fail("read dispute", dispute.error().message);
  if (!holds::DisputeOpenForEvidence(dispute->status) || dispute->submission_count > 0) {
    [[maybe_unused]] auto recorded =
        holds::RecordDispute(deps.ledger, hold, *dispute, holds::Actor{"stripe", ""}, now);
    [[maybe_unused]] auto ended =
        deps.ledger.MarkDispute(hold.id, leased.id, ledger::DisputeMark::kLeaseEnded, now);
    return Outcome::kSkipped;
  }
  const std::string pi_id = !dispute->payment_intent.empty() ? dispute->payment_intent
                            : hold.payment_intents.empty()   ? hold.id
                                                             : hold.payment_intents.back();
  auto pi = deps.stripe.Retrieve(pi_id);
  if (!pi) return fail("read payment intent", pi.error().message);

  holds::EvidenceSources sources;
  sources.hold = hold;
  sources.receipt_email = pi->receipt_email;
  sources.description = pi->description;
  sources.booking_id = Meta(*pi, "booking_id");
  sources.disclosure = AcceptedDisclosureOf(hold);
  std::string after;
  for (int page = 0; page < kTrailPages; ++page) {
    auto events = deps.ledger.ListEvents(hold.id, after, 100);
    if (!events) return fail("read trail", events.error().message);
    for (auto& e : events->data) {
      if (e.type == "captured" && !sources.captured_at) sources.captured_at = e.created_at;
      sources.events.push_back(std::move(e));
    }
    if (!events->has_more || sources.events.empty()) break;
    after = sources.events.back().id;
  }
  const holds::DisputeEvidence draft = holds::BuildDisputeEvidence(sources);

  claims::EvidencePdfInput input;
  input.title = draft.pdf_title;
  input.paragraphs = draft.pdf_paragraphs;
  input.date = dispute->created;
  std::vector<claims::NotAttached> missing;
  for (const holds::EvidenceFileRef& ref : draft.files) {
    auto file = deps.stripe.RetrieveFile(ref.id);
    if (!file && file.error().kind == ErrorKind::kNotFound) {
      missing.push_back({ref.id, ref.id, "not found at Stripe"});
      continue;
    }
    if (!file) return fail("read file", file.error().message);
    auto bytes = deps.stripe.FileContents(ref.id);
    if (!bytes) return fail("read file contents", bytes.error().message);
    input.attachments.push_back({ref.id, file->filename.empty() ? ref.id : file->filename,
                                 MimeOfStripeType(file->type), std::move(*bytes), ref.caption});
  }
  const claims::EvidencePdf pdf = claims::RenderEvidencePdf(input);
  if (!pdf.error.empty()) return fail("render pdf", pdf.error);
  std::vector<claims::NotAttached> not_attached = missing;
  not_attached.insert(not_attached.end(), pdf.not_attached.begin(), pdf.not_attached.end());
  std::vector<std::string> lines;
  for (const auto& x : not_attached) lines.push_back(x.filename + " (" + x.id + "): " + x.why);
  const holds::DisputeEvidence evidence = holds::BuildDisputeEvidence(sources, lines);

  const std::string pdf_digest = crypto::Sha256Hex(pdf.bytes);
  const std::string file_key = holds::DisputeFileKey(dispute->id, pdf_digest);
  if (!Begin(deps, hold, file_key, "dispute_file", pdf_digest, dispute->id, pi_id, now)) {
    return fail("intent", "ledger");
  }
  auto uploaded = deps.stripe.UploadFile(
      {"dispute-evidence-" + dispute->id + ".pdf", "application/pdf", pdf.bytes}, file_key);
  if (!uploaded) {
    if (Definitive(uploaded.error()))
      holds::FailIntent(deps.ledger, file_key, uploaded.error(), now);
    return fail("upload", uploaded.error().message);
  }
  Finish(deps, file_key, holds::IntentRequest({{"id", uploaded->id}}), now);

  std::map<std::string, std::string> fields = evidence.text;
  fields["uncategorized_file"] = uploaded->id;
  const std::string stage_digest = Digest(fields);
  const std::string stage_key = holds::DisputeStageKey(dispute->id, stage_digest);
  if (!Begin(deps, hold, stage_key, "dispute_stage", stage_digest, dispute->id, pi_id, now)) {
    return fail("intent", "ledger");
  }
  auto staged = deps.stripe.UpdateDispute(dispute->id, {fields, false}, stage_key);
  if (!staged) {
    if (Definitive(staged.error())) holds::FailIntent(deps.ledger, stage_key, staged.error(), now);
    return fail("update dispute", staged.error().message);
  }
  Finish(deps, stage_key, holds::IntentRequest({{"id", staged->id}, {"status", staged->status}}),
         now);
  if (auto recorded =
          holds::RecordDisputeStaged(deps.ledger, hold, *staged, kScheduler, now,
                                     StagedDetail(staged->id, uploaded->id, pdf, not_attached));
      !recorded) {
    return fail("record", recorded.error().message);
  }
  log::Info("dispute evidence staged",
            {log::Str("hold", hold.id), log::Str("dispute", staged->id),
             log::Str("file", uploaded->id), log::Num("pages", pdf.pages)});
  return Outcome::kStaged;
}

}  // namespace

DisputeReport StageDueDisputes(const http::Deps& deps, int64_t now, int max_disputes,
                               const std::stop_token& stop) {
  DisputeReport report;
  int tried = 0;
  while (tried < max_disputes && !stop.stop_requested()) {
    auto due = deps.ledger.LeaseDueDisputes(now, kDisputeLeaseSeconds, kDisputeBatch);
    if (!due) {
      report.ledger_down = true;
      break;
    }
    if (due->empty()) break;
    for (const ledger::Hold& hold : *due) {
      if (stop.stop_requested()) break;
      ++tried;
      switch (Stage(deps, hold, now)) {
        case Outcome::kStaged: ++report.staged; break;
        case Outcome::kSkipped: ++report.skipped; break;
        case Outcome::kFailed: ++report.failed; break;
      }
    }
    if (report.failed > 0) break;  // a failed one is due again at once: not in this pass
  }
  return report;
}

bool FinishDisputeIntent(const http::Deps& deps, const ledger::StripeIntent& intent, int64_t now) {
  const std::string dispute_id = holds::IntentField(intent.request_json, "dispute");
  auto dispute = deps.stripe.RetrieveDispute(dispute_id);
  if (!dispute) {
    if (dispute.error().kind != ErrorKind::kNotFound) return false;
    holds::FailIntent(deps.ledger, intent.idempotency_key, dispute.error(), now);
    return true;
  }
  auto hold = deps.ledger.FindHold(intent.hold_id);
  if (!hold || !*hold) return false;
  if (intent.operation == "dispute_submit") {
    if (dispute->submission_count > 0) {
      const holds::Actor actor{"reconciler", ""};
      if (!holds::RecordDisputeSubmitted(deps.ledger, **hold, *dispute, actor, now)) return false;
      Finish(deps, intent.idempotency_key,
             holds::IntentRequest({{"id", dispute->id}, {"status", dispute->status}}), now);
    } else {
      holds::FailIntent(deps.ledger, intent.idempotency_key,
                        MakeError(ErrorKind::kConflict, "not_applied",
                                  "Stripe shows no submission of this dispute"),
                        now);
    }
    return true;
  }
  // dispute_file / dispute_stage: the staging pass repeats them while the dispute is open.
  const auto& on_hold = (*hold)->dispute;
  const bool staged = on_hold && on_hold->id == dispute->id && on_hold->staged_at.has_value();
  if (holds::DisputeOpenForEvidence(dispute->status) && !staged) {
    // A staging run holding the dispute's lease may still finish it. Without one, the next
    // pass repeats the step under its own key (no money moves here): the intent is closed,
    // not left pending at the head of this queue for the dispute's whole response window.
    if (on_hold && on_hold->lease_until && *on_hold->lease_until > now) return false;
    holds::FailIntent(deps.ledger, intent.idempotency_key,
                      MakeError(ErrorKind::kDeadlineExceeded, "unfinished",
                                "left unfinished by its staging run; the staging pass repeats "
                                "the step"),
                      now);
    return true;
  }
  holds::FailIntent(deps.ledger, intent.idempotency_key,
                    MakeError(ErrorKind::kConflict, "not_applied",
                              staged ? "the dispute was staged by another run"
                                     : "the dispute no longer takes evidence"),
                    now);
  return true;
}

}  // namespace cc::jobs
