// SearchQuery: the `query` of a Stripe search (GET /v1/payment_intents/search), built from
// typed clauses so that no caller writes the query language by hand.
//
// Stripe's search query language (docs.stripe.com/search; STRIPE-FACTS §8 and STRIPE-NEXT
// §5): a clause is a field, an operator and a value; string values are quoted, and a quote
// inside quotes is escaped with a backslash (`\'`); clauses are joined with AND (never
// mixed with OR, no parentheses); at most 10 clauses; a query of at most 5000 characters. Values
// here are single-quoted; a `'` in a value is sent as `\'`, so a value can never end its clause
// early or add one.
//
// What the language gives no documented way to write is refused, not guessed: a backslash
// in a value (Stripe documents `\` only as the escape of a quote, so a value ending in `\`
// would escape its own closing quote), a NUL character (ChittyCharge refuses NUL in
// everything it stores, so it can match nothing), a metadata key that is empty or holds a
// quote, a backslash, `[`, `]` or NUL, an empty query, an 11th clause, a query over 5000
// bytes. Build() reports the first refusal as a 400 invalid_request without a param:
// callers validate their own inputs first and name the field (holds/handlers.cpp).
// A value type: thread-compatible; copies are independent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cc::stripe {

inline constexpr int kMaxSearchClauses = 10;
inline constexpr size_t kMaxSearchQueryLength = 5000;

class SearchQuery {
 public:
  // metadata['key']:'value' (exact match; Stripe compares metadata case-insensitively).
  SearchQuery& Metadata(std::string_view key, std::string_view value);
  // status:'status'
  SearchQuery& Status(std::string_view status);
  // created<=unix_seconds
  SearchQuery& CreatedAtMost(int64_t unix_seconds);

  // The clauses joined by " AND ", or the first refusal.
  [[nodiscard]] Result<std::string> Build() const;

 private:
  void AddClause(const std::string& clause);
  void Refuse(std::string message);

  std::string text_;
  int clauses_ = 0;
  std::optional<Error> error_;
};

}  // namespace cc::stripe
