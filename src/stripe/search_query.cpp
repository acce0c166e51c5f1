#include "stripe/search_query.h"

namespace cc::stripe {
namespace {

// The value single-quoted with `'` escaped, or nullopt when it cannot be written.
std::optional<std::string> Quote(std::string_view value) {
  if (value.find_first_of(std::string_view("\\\0", 2)) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('\'');
  for (char c : value) {
    if (c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

bool ValidMetadataKey(std::string_view key) {
  return !key.empty() &&
         key.find_first_of(std::string_view("'\"\\[]\0", 6)) == std::string_view::npos;
}

}  // namespace

SearchQuery& SearchQuery::Metadata(std::string_view key, std::string_view value) {
  if (!ValidMetadataKey(key)) {
    Refuse(
        "a metadata key in a Stripe search may not be empty or contain quotes, "
        "backslashes, brackets or NUL");
    return *this;
  }
  auto quoted = Quote(value);
  if (!quoted) {
    Refuse("a value in a Stripe search may not contain a backslash or NUL");
    return *this;
  }
  AddClause("metadata['" + std::string(key) + "']:" + *quoted);
  return *this;
}

SearchQuery& SearchQuery::Status(std::string_view status) {
  auto quoted = Quote(status);
  if (!quoted) {
    Refuse("a value in a Stripe search may not contain a backslash or NUL");
    return *this;
  }
  AddClause("status:" + *quoted);
  return *this;
}

SearchQuery& SearchQuery::CreatedAtMost(int64_t unix_seconds) {
  AddClause("created<=" + std::to_string(unix_seconds));
  return *this;
}

Result<std::string> SearchQuery::Build() const {
  if (error_) return Fail(*error_);
  if (clauses_ == 0) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request", "a Stripe search needs a clause");
  }
  if (clauses_ > kMaxSearchClauses) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                "a Stripe search has at most " + std::to_string(kMaxSearchClauses) + " clauses");
  }
  if (text_.size() > kMaxSearchQueryLength) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_request",
                "a Stripe search query is at most " + std::to_string(kMaxSearchQueryLength) +
                    " characters");
  }
  return text_;
}

void SearchQuery::AddClause(const std::string& clause) {
  if (clauses_ > 0) text_ += " AND ";
  text_ += clause;
  ++clauses_;
}

void SearchQuery::Refuse(std::string message) {
  if (!error_) {
    error_ = MakeError(ErrorKind::kInvalidArgument, "invalid_request", std::move(message));
  }
}

}  // namespace cc::stripe
