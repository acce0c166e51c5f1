// Staging dispute evidence (CONTRACT.md "Disputes"; docs/disputes.md): a scheduler step, so
// the webhook that tells of a dispute does no long work.
//
// A pass leases the disputes to stage from the ledger (Ledger::LeaseDueDisputes: open for
// evidence, not staged, soonest due first, each to one run until its lease ends) and for
// each one: re-reads the dispute (closed or answered elsewhere ⇒ recorded, not staged),
// builds the evidence from the hold's records (holds::BuildDisputeEvidence), fetches the
// claim's evidence files from Stripe's Files API and combines them into one PDF
// (claims::RenderEvidencePdf), then — each POST after its durable intent, under a key
// derived from what it sends — uploads the PDF (purpose dispute_evidence) and updates the
// Dispute with the text fields and uncategorized_file, submit=false. Then the
// `dispute_evidence_staged` event and the hold's staged mark. Any failure (Stripe 5xx, a
// timeout, the ledger) ends the lease at once, so the next pass retries; a run killed
// mid-way leaves the lease to run out, and the next run repeats the same keys.
#pragma once

#include <cstdint>
#include <stop_token>

#include "http/handler.h"
#include "ledger/ledger.h"

namespace cc::jobs {

struct DisputeReport {
  int staged = 0;
  int skipped = 0;  // no longer open for evidence at Stripe
  int failed = 0;   // left to the next pass
  bool ledger_down = false;
};

inline constexpr int64_t kDisputeLeaseSeconds = 600;
inline constexpr int kDisputeBatch = 10;

DisputeReport StageDueDisputes(const http::Deps& deps, int64_t now, int max_disputes = 100,
                               const std::stop_token& stop = {});

// The reconciler's part for an unfinished dispute intent (operation dispute_file,
// dispute_stage or dispute_submit): settled from Stripe's dispute; true when finished.
// Staging intents of a dispute still open for evidence are left to the staging pass.
bool FinishDisputeIntent(const http::Deps& deps, const ledger::StripeIntent& intent, int64_t now);

}  // namespace cc::jobs
