// Disputes of a hold's charge (CONTRACT.md "Claims, evidence, refunds, disputes";
// docs/disputes.md): what the service records when Stripe tells it of a dispute, and the
// evidence it builds from its own records.
//
// Recording (RecordDispute) is the webhook path's effect for charge.dispute.* (and the
// reconciler's events catch-up): the dispute as Stripe has it NOW (re-read, never the
// event's body) goes on the hold, and each fact gets its event once, by a derived id —
// dispute_opened, and dispute_closed (detail.status won / lost / warning_closed,
// detail.funds_reinstated) — so deliveries in any order and repeats add nothing twice.
// Other changes (.updated, .funds_withdrawn) update the hold's `dispute` only: the audit
// trail keeps the contract's event types.
//
// The evidence (BuildDisputeEvidence) is a pure function of the hold's records: Stripe's
// text fields and the summary of the combined PDF. The staging pass (jobs/disputes.h)
// fetches the files, makes the PDF and sends it all with submit=false.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "claims/disclosure.h"
#include "core/result.h"
#include "holds/journal.h"
#include "ledger/ledger.h"
#include "stripe/stripe_api.h"

namespace cc::holds {

// Stripe's dispute → the hold's dispute and its events (above). `hold` is the ledger's
// row as read before (its dispute, if any, is the previous state).
Status RecordDispute(ledger::Ledger& ledger, const ledger::Hold& hold,
                     const stripe::Dispute& dispute, const Actor& actor, int64_t now);

// After Stripe accepted the evidence (submit=true): the `dispute_submitted` event, then the
// hold's submitted_at — each once, whoever records it (the client's call, the reconciler).
Status RecordDisputeSubmitted(ledger::Ledger& ledger, const ledger::Hold& hold,
                              const stripe::Dispute& dispute, const Actor& actor, int64_t now);
// After the staging pass's update (submit=false): `dispute_evidence_staged` (detail: the
// file, what was attached and what not), then the hold's staged mark (which ends the lease).
Status RecordDisputeStaged(ledger::Ledger& ledger, const ledger::Hold& hold,
                           const stripe::Dispute& dispute, const Actor& actor, int64_t now,
                           std::string detail_json);

// Derived Stripe idempotency keys (and intent keys) of the service's dispute POSTs. The
// staging keys include a digest of what is sent, so the same evidence is one Stripe call
// however often a run repeats, and changed evidence is a new one.
std::string DisputeFileKey(std::string_view dispute_id, std::string_view pdf_digest);
std::string DisputeStageKey(std::string_view dispute_id, std::string_view params_digest);
std::string DisputeSubmitKey(std::string_view dispute_id);

// A dispute status that still takes evidence.
bool DisputeOpenForEvidence(std::string_view status);

// What the evidence is built from.
struct EvidenceSources {
  ledger::Hold hold;          // with its claim_json and dispute
  std::string receipt_email;  // the PaymentIntent's, "" when none
  std::string description;    // the PaymentIntent's
  std::string booking_id;     // metadata booking_id, "" when none
  std::optional<int64_t> captured_at;
  std::optional<claims::AcceptedDisclosure> disclosure;  // none recorded: nullopt
  std::vector<ledger::Event> events;                     // the audit trail, oldest first
};

struct EvidenceFileRef {
  std::string id;       // file_…
  std::string caption;  // "Supports item 1: …; item 3: …"
};

struct DisputeEvidence {
  // Stripe's text fields: product_description, customer_email_address (when known),
  // service_date, uncategorized_text; each at most 20,000 characters.
  std::map<std::string, std::string> text;
  std::vector<EvidenceFileRef> files;  // the claim's evidence, first use order, once each
  std::string pdf_title;
  std::vector<std::string> pdf_paragraphs;  // the PDF's summary: the claim, the disclosure
};

// uncategorized_text gets `not_attached` lines ("file_x (name): why") when given.
DisputeEvidence BuildDisputeEvidence(const EvidenceSources& sources,
                                     const std::vector<std::string>& not_attached = {});

}  // namespace cc::holds
