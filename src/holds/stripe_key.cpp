#include "holds/stripe_key.h"

#include "core/crypto.h"

namespace cc::holds {

std::string DeriveStripeKey(std::string_view client, std::string_view operation,
                            std::string_view discriminator) {
  std::string material;
  material.reserve(client.size() + operation.size() + discriminator.size() + 2);
  material.append(client).append("\n").append(operation).append("\n").append(discriminator);
  return "cc_" + crypto::Sha256Hex(material);
}

}  // namespace cc::holds
