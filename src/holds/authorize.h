// Authorize: the off-session authorizations of a hold's life (CONTRACT.md, Part 2, "The
// hold's life"; docs/lifecycle.md) — a scheduled hold's first PaymentIntent at
// authorize_at, and the re-authorization of a long stay before its authorization lapses —
// shared by the scheduler (jobs/authorizations.h), POST /api/holds/:id/reauthorize, the
// webhook receiver and the reconciler.
//
// One attempt (Authorize) creates a manual-capture PaymentIntent for the hold's amount
// with its saved card, off_session=true (a merchant-initiated transaction), under a Stripe
// key derived from (hold, current PaymentIntent, attempt) and recorded as an intent
// ("authorize") with the exact parameters before the POST: whoever repeats the attempt —
// a scheduler pass after a killed one, a concurrent pass, the reconciler — sends the same
// request under the same key and Stripe answers it once.
//
// Only once the new PaymentIntent is requires_capture does the old one go (Supersede): an
// intent ("supersede", SupersedeKey of the old PaymentIntent) records the replacement,
// the old PaymentIntent is cancelled under that key, then the event `reauthorized` moves
// the chain on (journal.h RecordAdoption; a webhook or the reconciler that sees the cancel
// first records the same event from the intent). A refusal (authentication_required, a
// decline, no saved card) leaves the current authorization as it is and records
// `reauthorization_failed` / `authorization_failed` with the hold's `reauthorization`
// (the refused PaymentIntent's client_secret): the guest confirms that PaymentIntent
// on-session and AdoptAwaited (webhook, reconciler, or the next attempt) moves the chain on.
//
// Failures of Stripe or the ledger leave the intents pending and the attempt to be
// repeated (kRetryLater); nothing here moves money twice. Not thread-safe: one caller per
// Deps (the ports are the caller's event loop's or thread's).
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "holds/hold.h"
#include "holds/journal.h"
#include "http/handler.h"
#include "ledger/ledger.h"

namespace cc::holds {

enum class AuthorizeOutcome {
  kAuthorized,       // a new authorization is the hold's current one
  kRefused,          // Stripe refused it (recorded; the guest must act)
  kNoCard,           // no saved card to authorize with (recorded)
  kNotAuthorizable,  // the hold is settled (captured or cancelled): nothing was done
  kRetryLater,       // Stripe or the ledger failed; the intents stay pending
};

struct AuthorizeResult {
  AuthorizeOutcome outcome = AuthorizeOutcome::kRetryLater;
  Error error;  // kRefused: the refusal (card_declined); kRetryLater: what failed
};

// One (re)authorization attempt of `hold` (as the ledger has it) with its saved card:
// a scheduled hold's first (the SetupIntent's card), else a new authorization replacing
// the current one (the current PaymentIntent's card and Customer). A refused one waiting
// for the guest is adopted first when the guest has confirmed it meanwhile.
AuthorizeResult Authorize(const http::Deps& deps, const ledger::Hold& hold, const Actor& actor,
                          int64_t now);

// `record` (requires_capture) replaces `replaces` (the hold's current PaymentIntent, or ""
// for a scheduled hold's first): the supersede intent, the cancel of the old one, the
// event. true: adopted. false: the old one was captured or cancelled meanwhile, so the new
// one is cancelled instead (operation "abandon") and nothing is adopted.
Result<bool> Supersede(const http::Deps& deps, const ledger::Hold& hold, const HoldRecord& record,
                       const std::string& replaces, const Actor& actor, int64_t now);

// A PaymentIntent read from Stripe that a hold is waiting for (its `reauthorization` names
// it: a refused one the guest has now confirmed, requires_capture) becomes the hold's
// current one (Supersede). false when it is no such PaymentIntent.
Result<bool> AdoptAwaited(const http::Deps& deps, const HoldRecord& record, const Actor& actor,
                          int64_t now);

// The reconciler's repair of an unfinished "authorize" or "supersede" intent: the same
// step again under its key (Stripe answers a repeat with its first answer), then what
// follows it. An intent older than 23 hours (Stripe keeps keys 24) is closed instead, as
// is one whose hold is gone. true when the intent is finished.
bool ResumeIntent(const http::Deps& deps, const ledger::StripeIntent& intent, int64_t now);

// A scheduled hold's stand-in PaymentIntent (the hold object before it has one): the
// ledger's amount, currency, status and creation time, the SetupIntent's description,
// metadata and Customer's email.
HoldRecord ScheduledRecord(const ledger::Hold& hold, const stripe::SetupIntent& setup, int64_t now);

}  // namespace cc::holds
