#include "stripe/form.h"

namespace cc::stripe {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void AppendEscaped(std::string& out, std::string_view text, bool keep_brackets) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_brackets && (c == '[' || c == ']'))) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4U]);
      out.push_back(kHex[c & 0x0FU]);
    }
  }
}

}  // namespace

std::string FormEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendEscaped(out, text, false);
  return out;
}

std::string FormEncode(const FormFields& fields) {
  FormBuilder builder;
  for (const auto& [key, value] : fields) builder.Add(key, value);
  return builder.str();
}

void FormBuilder::Separator() {
  if (!out_.empty()) out_.push_back('&');
}

FormBuilder& FormBuilder::Add(std::string_view key, std::string_view value) {
  Separator();
  AppendEscaped(out_, key, true);
  out_.push_back('=');
  AppendEscaped(out_, value, false);
  return *this;
}

FormBuilder& FormBuilder::AddNested(std::string_view base, std::string_view segment,
                                    std::string_view value) {
  Separator();
  AppendEscaped(out_, base, true);
  out_.push_back('[');
  AppendEscaped(out_, segment, false);
  out_.push_back(']');
  out_.push_back('=');
  AppendEscaped(out_, value, false);
  return *this;
}

FormBuilder& FormBuilder::AddMetadata(const std::map<std::string, std::string>& metadata) {
  for (const auto& [key, value] : metadata) AddNested("metadata", key, value);
  return *this;
}

FormBuilder& FormBuilder::AddArray(std::string_view name, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) AddNested(name, std::to_string(i), values[i]);
  return *this;
}

}  // namespace cc::stripe
