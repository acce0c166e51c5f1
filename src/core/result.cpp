#include "core/result.h"

namespace cc {

int HttpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return 400;
    case ErrorKind::kUnauthenticated: return 401;
    case ErrorKind::kPaymentDeclined: return 402;
    case ErrorKind::kPermissionDenied: return 403;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kMethodNotAllowed: return 405;
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kPayloadTooLarge: return 413;
    case ErrorKind::kUnprocessable: return 422;
    case ErrorKind::kRateLimited: return 429;
    case ErrorKind::kInternal: return 500;
    case ErrorKind::kUpstream: return 502;
    case ErrorKind::kUnavailable: return 503;
    case ErrorKind::kDeadlineExceeded: return 504;
  }
  return 500;
}

}  // namespace cc
