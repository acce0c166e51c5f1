// ChittyIdApi: mints ChittyIDs (POST {CHITTY_ID_URL}/v1/mint, entity_type AUTH).
// Errors: kUnavailable / kDeadlineExceeded / kUpstream when the service is down, slow
// or answers badly; the caller then uses a CHITTY-AUTH-PENDING- fallback id.
// Not thread-safe (owns a Transport): one per event loop (its fibers share it) or thread.
#pragma once

#include <map>
#include <string>

#include "core/result.h"

namespace cc::chittyid {

class ChittyIdApi {
 public:
  virtual ~ChittyIdApi() = default;
  // Returns the minted id, "CHITTY-AUTH-…".
  virtual Result<std::string> MintAuth(const std::map<std::string, std::string>& metadata) = 0;
  // GET {CHITTY_ID_URL}/health answered 2xx.
  virtual Status Health() = 0;
};

}  // namespace cc::chittyid
