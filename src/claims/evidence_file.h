// An evidence upload (CONTRACT.md "Evidence": POST /api/holds/:id/evidence?filename=…,
// the file as the raw body): what the service checks before the bytes go to Stripe's
// Files API, and the 201 answer's JSON.
//
// Pure functions of the request's parts. The rules, and what the contract leaves open:
//   Content-Type  image/jpeg, image/png or application/pdf; ASCII case and parameters
//                 ("; charset=…", "; name=…") are ignored, as is white space around them.
//                 Anything else (or none) ⇒ 400 invalid_request, param file.
//   the bytes     1 byte to 5 MiB (5 × 1024 × 1024, Stripe's limit for dispute evidence).
//                 Empty ⇒ 400 invalid_request, param file; larger ⇒ 413 payload_too_large,
//                 param file (nginx refuses it first; this is the service's own guard).
//                 Their type comes from their first bytes, never the header: JPEG FF D8 FF,
//                 PNG 89 50 4E 47 0D 0A 1A 0A, PDF "%PDF-" (at offset 0, as Stripe and its
//                 test double read it). A type other than the declared one ⇒ 400
//                 invalid_request, param file.
//   filename      the `filename` query value (already percent-decoded): ASCII spaces around
//                 it are trimmed — the only normalization; then 1..200 characters (code
//                 points) of valid UTF-8 with no "/" or "\", no control character (C0,
//                 DEL, C1), no line or paragraph separator (U+2028, U+2029), no bidi
//                 embedding, override or isolate (U+202A..U+202E, U+2066..U+2069: they
//                 let "a<U+202E>gpj.exe" display as "aexe.jpg"), no '"' (it would end the quoted
//                 filename of the multipart part sent to Stripe), and not "." or "..".
//                 Anything else ⇒ 400 invalid_request, param filename. The name is kept as given
//                 otherwise (no case change, no Unicode normalization, its extension need not match
//                 the type).
// The checks run in that order: Content-Type, size, signature, filename.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"
#include "core/result.h"

namespace cc::claims {

inline constexpr size_t kMaxEvidenceBytes = size_t{5} * 1024 * 1024;
inline constexpr size_t kMaxFilename = 200;  // characters

enum class EvidenceType { kJpeg, kPng, kPdf };

// "image/jpeg", "image/png", "application/pdf".
std::string_view MimeType(EvidenceType type);

// The type its bytes start with; nullopt for anything else.
std::optional<EvidenceType> SniffType(std::string_view bytes);

// A Content-Type header value naming one of the three types; nullopt otherwise.
std::optional<EvidenceType> ParseContentType(std::string_view header);

// The filename, trimmed of ASCII spaces, or the 400 (param filename).
Result<std::string> CheckFilename(std::string_view filename);

struct EvidenceUpload {
  EvidenceType type = EvidenceType::kPdf;
  std::string filename;  // as CheckFilename returns it
  size_t size = 0;
};

// Every rule above, in order; the first one broken is the Error.
Result<EvidenceUpload> CheckEvidenceUpload(std::string_view content_type, std::string_view filename,
                                           std::string_view bytes);

// The 201 answer and a GET list's element: {"id": "file_…", "filename": …, "size": …,
// "type": "<the MIME type>", "created_at": "…Z"}.
struct EvidenceFile {
  std::string id;
  std::string filename;
  size_t size = 0;
  EvidenceType type = EvidenceType::kPdf;
  int64_t created_at = 0;
};
void WriteEvidenceFile(json::Writer& w, const EvidenceFile& file);
std::string RenderEvidenceFile(const EvidenceFile& file);

}  // namespace cc::claims
