// Result<T>: the value of a call that can fail in an expected way.
//
// Every check that can fail returns a Result; exceptions are for bugs and
// start-up only. An Error carries the contract's machine code ("amount_too_small"),
// a human sentence, the offending field when there is one, and the id of the object
// concerned (a declined hold's PaymentIntent id). Its Kind decides the HTTP status,
// in one place: HttpStatus().
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace cc {

enum class ErrorKind {
  kInvalidArgument,   // 400
  kUnauthenticated,   // 401
  kPaymentDeclined,   // 402
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kConflict,          // 409
  kPayloadTooLarge,   // 413
  kUnprocessable,     // 422
  kRateLimited,       // 429
  kInternal,          // 500
  kUpstream,          // 502: a dependency answered badly
  kUnavailable,       // 503: a dependency could not be reached
  kDeadlineExceeded,  // 504: a dependency did not answer in time
};

int HttpStatus(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string code;     // contract machine code, e.g. "invalid_request"
  std::string message;  // one human sentence; never a secret
  std::string param;    // the request field at fault, when there is one
  std::string id;       // the object concerned (PaymentIntent id), when there is one
};

inline Error MakeError(ErrorKind kind, std::string code, std::string message,
                       std::string param = {}) {
  return Error{kind, std::move(code), std::move(message), std::move(param), {}};
}

template <typename T>
using Result = tl::expected<T, Error>;

using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> Fail(ErrorKind kind, std::string code, std::string message,
                                  std::string param = {}) {
  return tl::unexpected<Error>(
      MakeError(kind, std::move(code), std::move(message), std::move(param)));
}

inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

inline Status Ok() { return {}; }

}  // namespace cc
