// Stripe form encoding (application/x-www-form-urlencoded), byte for byte what
// stripe-node emits: qs-style escaping (RFC 3986 unreserved `A-Za-z0-9-._~` kept, every
// other byte as upper-case %XX, spaces as %20, UTF-8 bytes one by one) with the square
// brackets that build nested keys left raw (`metadata[property_id]=123`, `expand[0]=…`).
//
// FormBuilder keeps the brackets it adds apart from the caller's text: a user-supplied
// segment (a metadata key) and every value are escaped completely, so a `[` or `]` in them
// is sent as %5B/%5D and cannot change the structure. (stripe-node un-escapes brackets
// everywhere, values included; Stripe decodes both spellings identically.)
// Pure functions and a value type; thread-compatible; cannot fail.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cc::stripe {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// Escapes every byte except A-Za-z0-9 - . _ ~ (qs RFC 3986 rules).
std::string FormEscape(std::string_view text);

// "key=value&…" in order. Brackets in keys are structure and stay raw; the rest of each
// key and the whole value are escaped.
std::string FormEncode(const FormFields& fields);

class FormBuilder {
 public:
  // key may hold structural brackets ("payment_method_options[card][capture_method]").
  FormBuilder& Add(std::string_view key, std::string_view value);
  // base[segment]=value; segment escaped completely, brackets around it raw.
  FormBuilder& AddNested(std::string_view base, std::string_view segment, std::string_view value);
  // metadata[k]=v for each entry, in key order.
  FormBuilder& AddMetadata(const std::map<std::string, std::string>& metadata);
  // name[0]=v0&name[1]=v1…
  FormBuilder& AddArray(std::string_view name, const std::vector<std::string>& values);

  [[nodiscard]] const std::string& str() const { return out_; }

 private:
  void Separator();
  std::string out_;
};

}  // namespace cc::stripe
