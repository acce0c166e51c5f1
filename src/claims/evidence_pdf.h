// The combined evidence PDF of a dispute (CONTRACT.md "Disputes": the claim's evidence files
// combined into one PDF, Stripe's `uncategorized_file`).
//
// A pure function of its inputs: the same inputs give the same bytes (fixed metadata
// dates, qpdf's deterministic /ID, no clock, no randomness). The document is:
//   1. summary pages: the title and the given paragraphs (the itemized claim, the
//      disclosure, …), word-wrapped, then "Attached" (each file in order) and, when some
//      do not fit, "Not attached" (each one with why);
//   2. each attachment in order: an image (JPEG or PNG) on its own page under a caption,
//      scaled down to at most kMaxImagePixels on its longer side and re-encoded as JPEG
//      (so a phone photo costs a few hundred KB, not megabytes); a PDF's own pages as they
//      are.
// Limits (STRIPE-NEXT §4.3 gives none from Stripe; these are the Stripe double's, from
// integrators' reports): the whole file at most max_bytes (4,500,000: the evidence files of
// a dispute in all) and max_pages (50). Attachments are taken in order while they fit;
// one that does not (too large, too many pages, unreadable, of another type) is listed under
// "Not attached" and the rest are still tried.
//
// Libraries: cairo draws the summary and image pages (its PDF surface embeds the JPEG
// stream as is, and subsets the font), libjpeg-turbo decodes and encodes JPEG, qpdf reads
// the PDF attachments and writes the combined file. See docs/disputes.md for why these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cc::claims {

inline constexpr size_t kMaxEvidencePdfBytes = 4'500'000;
inline constexpr int kMaxEvidencePdfPages = 50;
inline constexpr int kMaxImagePixels = 1600;

struct PdfAttachment {
  std::string id;         // file_…
  std::string filename;   // shown in the caption and the lists
  std::string mime_type;  // image/jpeg, image/png or application/pdf
  std::string bytes;
  std::string caption;  // e.g. "Supports item 2: Broken lamp"
};

struct EvidencePdfInput {
  std::string title;
  std::vector<std::string> paragraphs;  // plain text; "\n" starts a new line
  std::vector<PdfAttachment> attachments;
  // The document's CreationDate and ModDate (unix seconds), e.g. the dispute's creation.
  int64_t date = 0;
  size_t max_bytes = kMaxEvidencePdfBytes;
  int max_pages = kMaxEvidencePdfPages;
};

struct NotAttached {
  std::string id;
  std::string filename;
  std::string why;

  bool operator==(const NotAttached&) const = default;
};

struct EvidencePdf {
  std::string bytes;                  // the PDF; empty when it could not be made (error says why)
  std::vector<std::string> attached;  // ids, in document order
  std::vector<NotAttached> not_attached;
  int pages = 0;
  std::string error;
};

EvidencePdf RenderEvidencePdf(const EvidencePdfInput& input);

}  // namespace cc::claims
