#include "claims/evidence_file.h"

#include <array>

#include "core/time_util.h"
#include "core/utf8.h"

namespace cc::claims {
namespace {

struct TypeFacts {
  EvidenceType type;
  std::string_view mime;
  std::string_view signature;
};

constexpr std::array<TypeFacts, 3> kTypes{{
    {EvidenceType::kJpeg, "image/jpeg", std::string_view("\xFF\xD8\xFF", 3)},
    {EvidenceType::kPng, "image/png", std::string_view("\x89PNG\r\n\x1A\n", 8)},
    {EvidenceType::kPdf, "application/pdf", "%PDF-"},
}};

tl::unexpected<Error> Invalid(std::string message, std::string param) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_request", std::move(message), std::move(param));
}

std::string_view TrimSpaces(std::string_view s, std::string_view spaces) {
  while (!s.empty() && spaces.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && spaces.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// The code points of valid UTF-8 (json::ValidUtf8 has checked it).
template <typename Visit>
bool EveryCodePoint(std::string_view s, Visit visit) {
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    size_t n = 1;
    uint32_t cp = lead;
    if (lead >= 0xF0) {
      n = 4;
      cp = lead & 0x07U;
    } else if (lead >= 0xE0) {
      n = 3;
      cp = lead & 0x0FU;
    } else if (lead >= 0xC0) {
      n = 2;
      cp = lead & 0x1FU;
    }
    for (size_t k = 1; k < n; ++k) cp = (cp << 6U) | (static_cast<unsigned char>(s[i + k]) & 0x3FU);
    if (!visit(cp)) return false;
    i += n;
  }
  return true;
}

bool AllowedInFilename(uint32_t cp) {
  const bool control = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
  const bool separator = cp == '/' || cp == '\\' || cp == 0x2028 || cp == 0x2029;
  const bool bidi = (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
  return !control && !separator && !bidi && cp != '"';
}

}  // namespace

std::string_view MimeType(EvidenceType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t.mime;
  }
  return "application/pdf";
}

std::optional<EvidenceType> SniffType(std::string_view bytes) {
  for (const auto& t : kTypes) {
    if (bytes.starts_with(t.signature)) return t.type;
  }
  return std::nullopt;
}

std::optional<EvidenceType> ParseContentType(std::string_view header) {
  const std::string_view media = TrimSpaces(header.substr(0, header.find(';')), " \t");
  for (const auto& t : kTypes) {
    if (EqualsIgnoringAsciiCase(media, t.mime)) return t.type;
  }
  return std::nullopt;
}

Result<std::string> CheckFilename(std::string_view filename) {
  const std::string_view name = TrimSpaces(filename, " ");
  const std::string param = "filename";
  if (name.empty()) return Invalid("filename is required (the filename query parameter)", param);
  if (!json::ValidUtf8(name)) return Invalid("filename is not valid UTF-8", param);
  if (Utf8Length(name) > kMaxFilename) {
    return Invalid("filename is longer than 200 characters", param);
  }
  if (name == "." || name == ".." || !EveryCodePoint(name, AllowedInFilename)) {
    return Invalid(
        "filename may not be . or .., nor contain a path separator, a control character or "
        "a double quote",
        param);
  }
  return std::string(name);
}

Result<EvidenceUpload> CheckEvidenceUpload(std::string_view content_type, std::string_view filename,
                                           std::string_view bytes) {
  const std::string param = "file";
  const auto declared = ParseContentType(content_type);
  if (!declared) {
    return Invalid("Content-Type must be image/jpeg, image/png or application/pdf", param);
  }
  if (bytes.empty()) return Invalid("the file is empty: send its bytes as the body", param);
  if (bytes.size() > kMaxEvidenceBytes) {
    return Fail(ErrorKind::kPayloadTooLarge, "payload_too_large",
                "the file is larger than 5 MiB, Stripe's limit for dispute evidence", param);
  }
  const auto sniffed = SniffType(bytes);
  if (sniffed != declared) {
    return Invalid("the file's bytes are not " + std::string(MimeType(*declared)) +
                       " (checked by their signature, not the Content-Type)",
                   param);
  }
  auto name = CheckFilename(filename);
  if (!name) return Fail(name.error());
  return EvidenceUpload{*declared, std::move(*name), bytes.size()};
}

void WriteEvidenceFile(json::Writer& w, const EvidenceFile& file) {
  w.StartObject();
  json::Key(w, "id");
  json::String(w, file.id);
  json::Key(w, "filename");
  json::String(w, file.filename);
  json::Key(w, "size");
  w.Uint64(file.size);
  json::Key(w, "type");
  json::String(w, MimeType(file.type));
  json::Key(w, "created_at");
  json::String(w, FormatIso8601(file.created_at));
  w.EndObject();
}

std::string RenderEvidenceFile(const EvidenceFile& file) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  WriteEvidenceFile(w, file);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace cc::claims
