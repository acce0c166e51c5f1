#include "claims/evidence_pdf.h"

#include <cairo-pdf.h>
#include <cairo.h>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFWriter.hh>
#include <string_view>

namespace cc::claims {
namespace {

constexpr double kPageWidth = 612;  // US Letter, points
constexpr double kPageHeight = 792;
constexpr double kMargin = 54;
constexpr double kBodySize = 10;
constexpr double kTitleSize = 15;
constexpr double kHeadingSize = 12;
constexpr double kLineFactor = 1.4;
constexpr int kJpegQuality = 80;
constexpr unsigned kMaxDecodedSide = 16384;  // refuse larger (a decompression bomb)
constexpr const char* kFont = "DejaVu Sans";

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;

struct ContextDeleter {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

// Valid UTF-8 without control characters (cairo's text API refuses invalid UTF-8); every
// other byte becomes '?'.
std::string Printable(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len == 1 && (c < 0x20 || c == 0x7F)) ok = false;
    if (ok && len == 2 && c < 0xC2) ok = false;  // overlong
    if (!ok) {
      out += c == '\t' ? ' ' : '?';
      ++i;
      continue;
    }
    out.append(in.substr(i, len));
    i += len;
  }
  return out;
}

// ------------------------------------------------------------------ JPEG (libjpeg-turbo)

struct JpegError {
  jpeg_error_mgr mgr{};
  std::jmp_buf jump{};
};

[[noreturn]] void OnJpegError(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);  // NOLINT(*-reinterpret-cast)
  std::longjmp(error->jump, 1);                            // NOLINT(cert-err52-cpp)
}

// The JPEG decoded to an RGB24 surface, DCT-scaled (1/2, 1/4, 1/8) while its longer side
// stays at least kMaxImagePixels; nullptr when it cannot be read.
Surface DecodeJpeg(const std::string& bytes) {
  jpeg_decompress_struct cinfo{};
  JpegError error;
  cinfo.err = jpeg_std_error(&error.mgr);
  error.mgr.error_exit = OnJpegError;
  struct Out {
    cairo_surface_t* surface = nullptr;
  } out;                          // in memory, not a register: still valid after longjmp
  if (setjmp(error.jump) != 0) {  // NOLINT(cert-err52-cpp)
    jpeg_destroy_decompress(&cinfo);
    if (out.surface != nullptr) cairo_surface_destroy(out.surface);
    return nullptr;
  }
  jpeg_create_decompress(&cinfo);
  // NOLINTNEXTLINE(*-reinterpret-cast): libjpeg takes unsigned bytes
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));  // NOLINT(google-runtime-int)
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  const unsigned longer = std::max(cinfo.image_width, cinfo.image_height);
  cinfo.scale_num = 1;
  cinfo.scale_denom = 1;
  while (cinfo.scale_denom < 8 && longer / (cinfo.scale_denom * 2) >= kMaxImagePixels) {
    cinfo.scale_denom *= 2;
  }
  jpeg_start_decompress(&cinfo);
  const unsigned width = cinfo.output_width;
  const unsigned height = cinfo.output_height;
  if (width == 0 || height == 0 || width > kMaxDecodedSide || height > kMaxDecodedSide ||
      cinfo.output_components != 3) {
    jpeg_destroy_decompress(&cinfo);
    return nullptr;
  }
  out.surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(width),
                                           static_cast<int>(height));
  if (cairo_surface_status(out.surface) != CAIRO_STATUS_SUCCESS) {
    jpeg_destroy_decompress(&cinfo);
    cairo_surface_destroy(out.surface);
    return nullptr;
  }
  cairo_surface_flush(out.surface);
  unsigned char* pixels = cairo_image_surface_get_data(out.surface);
  const int stride = cairo_image_surface_get_stride(out.surface);
  // NOLINTNEXTLINE(*-reinterpret-cast): libjpeg's pool allocator, freed by destroy
  JSAMPARRAY row =
      (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE, width * 3, 1);
  while (cinfo.output_scanline < height) {
    const unsigned y = cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, row, 1);
    // NOLINTBEGIN(*-pointer-arithmetic): pixel rows
    auto* dst = reinterpret_cast<uint32_t*>(pixels + static_cast<ptrdiff_t>(y) * stride);
    for (unsigned x = 0; x < width; ++x) {
      const JSAMPLE* p = row[0] + static_cast<size_t>(x) * 3;
      dst[x] = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[2]};
    }
    // NOLINTEND(*-pointer-arithmetic)
  }
  cairo_surface_mark_dirty(out.surface);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return Surface(out.surface);
}

// An RGB24 surface as a baseline JPEG; "" on failure.
std::string EncodeJpeg(cairo_surface_t* surface) {
  jpeg_compress_struct cinfo{};
  JpegError error;
  cinfo.err = jpeg_std_error(&error.mgr);
  error.mgr.error_exit = OnJpegError;
  struct Out {
    unsigned char* data = nullptr;
    unsigned long size = 0;  // NOLINT(google-runtime-int): libjpeg's type
  } out;
  if (setjmp(error.jump) != 0) {  // NOLINT(cert-err52-cpp)
    jpeg_destroy_compress(&cinfo);
    std::free(out.data);  // NOLINT(*-no-malloc, *-owning-memory): libjpeg's malloc
    return {};
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &out.data, &out.size);
  const int width = cairo_image_surface_get_width(surface);
  const int height = cairo_image_surface_get_height(surface);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, kJpegQuality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  cairo_surface_flush(surface);
  const unsigned char* pixels = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  // NOLINTNEXTLINE(*-reinterpret-cast): libjpeg's pool allocator, freed by destroy
  JSAMPARRAY row = (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE,
                                              static_cast<JDIMENSION>(width) * 3, 1);
  while (cinfo.next_scanline < cinfo.image_height) {
    // NOLINTBEGIN(*-pointer-arithmetic): pixel rows
    const auto* src = reinterpret_cast<const uint32_t*>(
        pixels + static_cast<ptrdiff_t>(cinfo.next_scanline) * stride);
    for (int x = 0; x < width; ++x) {
      JSAMPLE* p = row[0] + static_cast<size_t>(x) * 3;
      p[0] = static_cast<JSAMPLE>((src[x] >> 16) & 0xFF);
      p[1] = static_cast<JSAMPLE>((src[x] >> 8) & 0xFF);
      p[2] = static_cast<JSAMPLE>(src[x] & 0xFF);
    }
    // NOLINTEND(*-pointer-arithmetic)
    jpeg_write_scanlines(&cinfo, row, 1);
  }
  jpeg_finish_compress(&cinfo);
  // NOLINTNEXTLINE(*-reinterpret-cast)
  std::string jpeg(reinterpret_cast<const char*>(out.data), out.size);
  jpeg_destroy_compress(&cinfo);
  std::free(out.data);  // NOLINT(*-no-malloc, *-owning-memory): libjpeg's malloc
  return jpeg;
}

// ------------------------------------------------------------------ PNG (cairo)

struct PngReader {
  const std::string* bytes = nullptr;
  size_t at = 0;
};

cairo_status_t ReadPng(void* closure, unsigned char* data, unsigned int length) {
  auto* reader = static_cast<PngReader*>(closure);
  if (reader->at + length > reader->bytes->size()) return CAIRO_STATUS_READ_ERROR;
  std::memcpy(data, reader->bytes->data() + reader->at, length);
  reader->at += length;
  return CAIRO_STATUS_SUCCESS;
}

Surface DecodePng(const std::string& bytes) {
  PngReader reader{&bytes, 0};
  Surface surface(cairo_image_surface_create_from_png_stream(ReadPng, &reader));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) return nullptr;
  if (cairo_image_surface_get_width(surface.get()) > static_cast<int>(kMaxDecodedSide) ||
      cairo_image_surface_get_height(surface.get()) > static_cast<int>(kMaxDecodedSide)) {
    return nullptr;
  }
  return surface;
}

// The image on white, at most kMaxImagePixels on its longer side, as RGB24.
Surface Fit(cairo_surface_t* source) {
  const int width = cairo_image_surface_get_width(source);
  const int height = cairo_image_surface_get_height(source);
  const double scale =
      std::min(1.0, static_cast<double>(kMaxImagePixels) / std::max(width, height));
  const int w = std::max(1, static_cast<int>(std::lround(width * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(height * scale)));
  Surface fitted(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h));
  const Context cr(cairo_create(fitted.get()));
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  cairo_scale(cr.get(), static_cast<double>(w) / width, static_cast<double>(h) / height);
  cairo_set_source_surface(cr.get(), source, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr.get()), CAIRO_FILTER_GOOD);
  cairo_paint(cr.get());
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) return nullptr;
  cairo_surface_flush(fitted.get());
  return fitted;
}

// ------------------------------------------------------------------ one attachment

struct Prepared {
  const PdfAttachment* source = nullptr;
  Surface image;              // an image: fitted, with its JPEG as the surface's mime data
  size_t cost = 0;            // bytes it adds, about
  int pages = 0;              // pages it adds
  std::shared_ptr<QPDF> pdf;  // a PDF: parsed
  std::string why;            // not "" ⇒ cannot be attached
};

void AttachJpeg(cairo_surface_t* surface, const std::string& jpeg) {
  auto* copy = static_cast<unsigned char*>(std::malloc(jpeg.size()));  // NOLINT(*-no-malloc)
  if (copy == nullptr) return;
  std::memcpy(copy, jpeg.data(), jpeg.size());
  cairo_surface_set_mime_data(surface, CAIRO_MIME_TYPE_JPEG, copy, jpeg.size(), std::free, copy);
}

Prepared Prepare(const PdfAttachment& a) {
  Prepared p;
  p.source = &a;
  if (a.mime_type == "image/jpeg" || a.mime_type == "image/png") {
    Surface decoded = a.mime_type == "image/jpeg" ? DecodeJpeg(a.bytes) : DecodePng(a.bytes);
    Surface fitted = decoded ? Fit(decoded.get()) : nullptr;
    const std::string jpeg = fitted ? EncodeJpeg(fitted.get()) : std::string();
    if (jpeg.empty()) {
      p.why = "the image could not be read";
      return p;
    }
    AttachJpeg(fitted.get(), jpeg);
    p.image = std::move(fitted);
    p.cost = jpeg.size() + 2048;
    p.pages = 1;
    return p;
  }
  if (a.mime_type == "application/pdf") {
    try {
      auto pdf = std::make_shared<QPDF>();
      pdf->setSuppressWarnings(true);
      pdf->processMemoryFile(a.filename.c_str(), a.bytes.data(), a.bytes.size());
      p.pages = static_cast<int>(QPDFPageDocumentHelper(*pdf).getAllPages().size());
      if (p.pages == 0) {
        p.why = "the PDF has no pages";
        return p;
      }
      p.pdf = std::move(pdf);
      p.cost = a.bytes.size();
    } catch (const std::exception&) {
      p.why = "the PDF could not be read";
    }
    return p;
  }
  p.why = "not a JPEG, PNG or PDF file";
  return p;
}

// ------------------------------------------------------------------ the cairo pages

class Writer {
 public:
  explicit Writer(cairo_t* cr) : cr_(cr) { Font(kBodySize, false); }

  void Font(double size, bool bold) {
    size_ = size;
    cairo_select_font_face(cr_, kFont, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size);
  }

  // Word-wrapped lines; "\n" breaks a line.
  void Text(std::string_view text) {
    size_t start = 0;
    while (start <= text.size()) {
      const size_t end = std::min(text.find('\n', start), text.size());
      Wrap(Printable(text.substr(start, end - start)));
      start = end + 1;
    }
  }

  void Gap(double lines = 0.6) { y_ += size_ * kLineFactor * lines; }

  void NewPage() {
    if (pages_ > 0) cairo_show_page(cr_);
    ++pages_;
    y_ = kMargin;
  }

  [[nodiscard]] double y() const { return y_; }
  [[nodiscard]] int pages() const { return pages_; }

 private:
  double Width(const std::string& s) {
    cairo_text_extents_t extents;
    cairo_text_extents(cr_, s.c_str(), &extents);
    return extents.x_advance;
  }

  void Line(const std::string& s) {
    const double height = size_ * kLineFactor;
    if (pages_ == 0 || y_ + height > kPageHeight - kMargin) NewPage();
    y_ += height;
    cairo_move_to(cr_, kMargin, y_ - size_ * (kLineFactor - 1.0));
    cairo_set_source_rgb(cr_, 0, 0, 0);
    cairo_show_text(cr_, s.c_str());
  }

  void Wrap(const std::string& text) {
    const double max = kPageWidth - 2 * kMargin;
    std::string line;
    size_t i = 0;
    while (i < text.size()) {
      const size_t space = std::min(text.find(' ', i), text.size());
      std::string word = text.substr(i, space - i);
      i = space + 1;
      std::string candidate = line.empty() ? word : line + " " + word;
      if (Width(candidate) <= max) {
        line = std::move(candidate);
        continue;
      }
      if (!line.empty()) Line(line);
      line.clear();
      while (!word.empty() && Width(word) > max) {  // a word wider than the page
        size_t cut = word.size();
        while (cut > 1 && Width(word.substr(0, cut)) > max) {
          do {
            --cut;
          } while (cut > 1 && (static_cast<unsigned char>(word[cut]) & 0xC0) == 0x80);
        }
        Line(word.substr(0, cut));
        word.erase(0, cut);
      }
      line = std::move(word);
    }
    Line(line);
  }

  cairo_t* cr_;
  double size_ = kBodySize;
  double y_ = kMargin;
  int pages_ = 0;
};

cairo_status_t AppendBytes(void* closure, const unsigned char* data, unsigned int length) {
  // NOLINTNEXTLINE(*-reinterpret-cast)
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

std::string IsoDate(int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

std::string Kind(const Prepared& p) {
  if (p.pdf) return "PDF, " + std::to_string(p.pages) + (p.pages == 1 ? " page" : " pages");
  return "image";
}

// The summary and image pages; `image_pages[i]` is attachment i's page (0-based), -1 if none.
struct CairoPart {
  std::string bytes;
  int summary_pages = 0;
  std::vector<int> image_pages;
};

CairoPart RenderCairo(const EvidencePdfInput& input, const std::vector<Prepared>& prepared,
                      const std::vector<bool>& selected,
                      const std::vector<NotAttached>& not_attached) {
  CairoPart part;
  Surface surface(
      cairo_pdf_surface_create_for_stream(AppendBytes, &part.bytes, kPageWidth, kPageHeight));
  const std::string date = IsoDate(input.date);
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATE_DATE, date.c_str());
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_MOD_DATE, date.c_str());
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE,
                                 Printable(input.title).c_str());
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "ChittyCharge");
  {
    const Context cr(cairo_create(surface.get()));
    Writer w(cr.get());
    w.Font(kTitleSize, true);
    w.Text(input.title);
    w.Font(kBodySize, false);
    for (const std::string& paragraph : input.paragraphs) {
      w.Gap();
      w.Text(paragraph);
    }
    int n = 0;
    for (size_t i = 0; i < prepared.size(); ++i) {
      if (!selected[i]) continue;
      if (n++ == 0) {
        w.Gap();
        w.Font(kHeadingSize, true);
        w.Text("Attached (in this order, after this summary)");
        w.Font(kBodySize, false);
      }
      const PdfAttachment& a = *prepared[i].source;
      w.Text(std::to_string(n) + ". " + a.filename + " (" + a.id + ", " + Kind(prepared[i]) + ")" +
             (a.caption.empty() ? "" : ": " + a.caption));
    }
    if (!not_attached.empty()) {
      w.Gap();
      w.Font(kHeadingSize, true);
      w.Text("Not attached");
      w.Font(kBodySize, false);
      for (const NotAttached& x : not_attached) {
        w.Text(x.filename + " (" + x.id + "): " + x.why);
      }
    }
    part.summary_pages = w.pages();
    part.image_pages.assign(prepared.size(), -1);
    for (size_t i = 0; i < prepared.size(); ++i) {
      if (!selected[i] || !prepared[i].image) continue;
      const PdfAttachment& a = *prepared[i].source;
      w.NewPage();
      part.image_pages[i] = w.pages() - 1;
      w.Font(kHeadingSize, true);
      w.Text(a.filename + " (" + a.id + ")");
      w.Font(kBodySize, false);
      if (!a.caption.empty()) w.Text(a.caption);
      w.Gap();
      cairo_surface_t* image = prepared[i].image.get();
      const double iw = cairo_image_surface_get_width(image);
      const double ih = cairo_image_surface_get_height(image);
      const double box_w = kPageWidth - 2 * kMargin;
      const double box_h = kPageHeight - kMargin - w.y();
      const double scale = std::min({box_w / iw, box_h / ih});
      cairo_save(cr.get());
      cairo_translate(cr.get(), kMargin + (box_w - iw * scale) / 2, w.y());
      cairo_scale(cr.get(), scale, scale);
      cairo_set_source_surface(cr.get(), image, 0, 0);
      cairo_paint(cr.get());
      cairo_restore(cr.get());
    }
    cairo_show_page(cr.get());
    if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) part.bytes.clear();
  }
  cairo_surface_finish(surface.get());
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) part.bytes.clear();
  return part;
}

// The cairo part with each selected PDF's pages in their place; qpdf writes the whole.
std::string Assemble(const CairoPart& part, const std::vector<Prepared>& prepared,
                     const std::vector<bool>& selected, int* pages) {
  QPDF out;
  out.setSuppressWarnings(true);
  out.processMemoryFile("summary", part.bytes.data(), part.bytes.size());
  QPDFPageDocumentHelper doc(out);
  const std::vector<QPDFPageObjectHelper> own = doc.getAllPages();
  for (size_t i = static_cast<size_t>(part.summary_pages); i < own.size(); ++i) {
    doc.removePage(own[i]);
  }
  for (size_t i = 0; i < prepared.size(); ++i) {
    if (!selected[i]) continue;
    if (part.image_pages[i] >= 0) {
      doc.addPage(own.at(static_cast<size_t>(part.image_pages[i])), false);
    } else if (prepared[i].pdf) {
      for (const QPDFPageObjectHelper& page :
           QPDFPageDocumentHelper(*prepared[i].pdf).getAllPages()) {
        doc.addPage(page, false);
      }
    }
  }
  *pages = static_cast<int>(doc.getAllPages().size());
  QPDFWriter writer(out);
  writer.setOutputMemory();
  writer.setDeterministicID(true);
  writer.setObjectStreamMode(qpdf_o_generate);
  writer.setCompressStreams(true);
  writer.write();
  const std::shared_ptr<Buffer> buffer = writer.getBufferSharedPointer();
  // NOLINTNEXTLINE(*-reinterpret-cast)
  return {reinterpret_cast<const char*>(buffer->getBuffer()), buffer->getSize()};
}

}  // namespace

EvidencePdf RenderEvidencePdf(const EvidencePdfInput& input) {
  EvidencePdf result;
  std::vector<Prepared> prepared;
  prepared.reserve(input.attachments.size());
  for (const PdfAttachment& a : input.attachments) prepared.push_back(Prepare(a));

  // First guess, in order: what fits beside a summary of ~2 pages and ~150 KB.
  constexpr size_t kSummaryReserve = 150'000;
  constexpr int kSummaryPages = 2;
  std::vector<bool> selected(prepared.size(), false);
  std::vector<NotAttached> not_attached;
  std::vector<std::string> reasons(prepared.size());
  size_t bytes = kSummaryReserve;
  int pages = kSummaryPages;
  for (size_t i = 0; i < prepared.size(); ++i) {
    const Prepared& p = prepared[i];
    if (!p.why.empty()) {
      reasons[i] = p.why;
    } else if (pages + p.pages > input.max_pages) {
      reasons[i] = "over the page limit of one evidence file (" + std::to_string(input.max_pages) +
                   " pages)";
    } else if (bytes + p.cost > input.max_bytes) {
      reasons[i] = "over the size limit of a dispute's evidence (" +
                   std::to_string(input.max_bytes) + " bytes)";
    } else {
      selected[i] = true;
      bytes += p.cost;
      pages += p.pages;
    }
  }
  // Then render; while the whole does not fit, the last attachment taken gives way.
  while (true) {
    not_attached.clear();
    for (size_t i = 0; i < prepared.size(); ++i) {
      if (!selected[i]) {
        not_attached.push_back({prepared[i].source->id, prepared[i].source->filename, reasons[i]});
      }
    }
    try {
      const CairoPart part = RenderCairo(input, prepared, selected, not_attached);
      if (part.bytes.empty()) {
        result.error = "cairo could not draw the summary";
        return result;
      }
      int total_pages = 0;
      std::string pdf = Assemble(part, prepared, selected, &total_pages);
      if ((pdf.size() <= input.max_bytes && total_pages <= input.max_pages) ||
          std::none_of(selected.begin(), selected.end(), [](bool b) { return b; })) {
        result.bytes = std::move(pdf);
        result.pages = total_pages;
        break;
      }
    } catch (const std::exception& e) {
      result.error = std::string("qpdf: ") + e.what();
      return result;
    }
    const auto last = std::find(selected.rbegin(), selected.rend(), true);
    const size_t index = static_cast<size_t>(selected.rend() - last) - 1;
    selected[index] = false;
    reasons[index] = "the combined file would exceed the evidence limits (" +
                     std::to_string(input.max_bytes) + " bytes, " +
                     std::to_string(input.max_pages) + " pages)";
  }
  for (size_t i = 0; i < prepared.size(); ++i) {
    if (selected[i]) result.attached.push_back(prepared[i].source->id);
  }
  result.not_attached = std::move(not_attached);
  if (result.bytes.size() > input.max_bytes || result.pages > input.max_pages) {
    result.error = "the summary alone exceeds the evidence limits";
    result.bytes.clear();
  }
  return result;
}

}  // namespace cc::claims
