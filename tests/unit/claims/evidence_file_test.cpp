#include "claims/evidence_file.h"

#include <boost/test/unit_test.hpp>

#include "test_util.h"

namespace cc::claims {
namespace {

const std::string kJpeg("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", 11);
const std::string kPng("\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR", 16);
const std::string kPdf = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n";

// `size` bytes that start with `signature`.
std::string Sized(const std::string& signature, size_t size) {
  std::string out = signature;
  out.resize(size, 'x');
  return out;
}

void ExpectError(const Result<EvidenceUpload>& r, const char* code, const char* param,
                 int status = 400) {
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == code);
  BOOST_TEST(r.error().param == param);
  BOOST_TEST(HttpStatus(r.error().kind) == status);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(claims_evidence_file)

BOOST_AUTO_TEST_CASE(sniffs_the_three_signatures) {
  BOOST_TEST((SniffType(kJpeg) == EvidenceType::kJpeg));
  BOOST_TEST((SniffType(kPng) == EvidenceType::kPng));
  BOOST_TEST((SniffType(kPdf) == EvidenceType::kPdf));
  BOOST_TEST((SniffType("%PDF-") == EvidenceType::kPdf));
  BOOST_TEST((SniffType(std::string("\xFF\xD8\xFF", 3)) == EvidenceType::kJpeg));
}

BOOST_AUTO_TEST_CASE(anything_else_is_no_type) {
  for (const std::string& bad :
       {std::string(), std::string("\xFF\xD8", 2), std::string("\xFF\xD8\xFE", 3),
        std::string("\x89PNG\r\n\x1A", 7), std::string("\x89PNG\n\n\x1A\n", 8), std::string("%PDF"),
        std::string("%pdf-1.4"), std::string(" %PDF-1.4"), std::string("GIF89a"),
        std::string("<html>"), std::string("\x00\xFF\xD8\xFF", 4)}) {
    BOOST_TEST(!SniffType(bad).has_value());
  }
}

BOOST_AUTO_TEST_CASE(reads_the_content_type_ignoring_case_and_parameters) {
  BOOST_TEST((ParseContentType("image/jpeg") == EvidenceType::kJpeg));
  BOOST_TEST((ParseContentType("IMAGE/JPEG") == EvidenceType::kJpeg));
  BOOST_TEST((ParseContentType("Image/Png; charset=binary") == EvidenceType::kPng));
  BOOST_TEST((ParseContentType(" application/pdf ;name=\"a.pdf\"") == EvidenceType::kPdf));
  BOOST_TEST((ParseContentType("application/pdf\t") == EvidenceType::kPdf));
  for (const char* bad :
       {"", "image/jpg", "image/pjpeg", "image/gif", "application/pdfx", "application/octet-stream",
        "text/plain", "image/jpeg,image/png", "image /jpeg", "multipart/form-data; boundary=x"}) {
    BOOST_TEST(!ParseContentType(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(accepts_each_type_with_its_bytes) {
  for (const auto& [type, bytes] : {std::pair{"image/jpeg", kJpeg}, std::pair{"image/png", kPng},
                                    std::pair{"application/pdf; charset=binary", kPdf}}) {
    auto r = CheckEvidenceUpload(type, "photo 1.jpg", bytes);
    REQUIRE_OK(r);
    BOOST_TEST(r->size == bytes.size());
    BOOST_TEST(r->filename == "photo 1.jpg");
    BOOST_TEST(MimeType(r->type) == std::string_view(type).substr(0, MimeType(r->type).size()));
  }
}

BOOST_AUTO_TEST_CASE(the_bytes_must_match_the_declared_type) {
  ExpectError(CheckEvidenceUpload("image/png", "a.png", kJpeg), "invalid_request", "file");
  ExpectError(CheckEvidenceUpload("image/jpeg", "a.jpg", kPdf), "invalid_request", "file");
  ExpectError(CheckEvidenceUpload("application/pdf", "a.pdf", "<html>%PDF-"), "invalid_request",
              "file");
  ExpectError(CheckEvidenceUpload("image/jpeg", "a.jpg", "not an image"), "invalid_request",
              "file");
}

BOOST_AUTO_TEST_CASE(an_unsupported_content_type_is_refused) {
  ExpectError(CheckEvidenceUpload("", "a.jpg", kJpeg), "invalid_request", "file");
  ExpectError(CheckEvidenceUpload("image/gif", "a.gif", "GIF89a"), "invalid_request", "file");
  ExpectError(CheckEvidenceUpload("application/octet-stream", "a.pdf", kPdf), "invalid_request",
              "file");
}

BOOST_AUTO_TEST_CASE(size_from_one_byte_to_5_mib) {
  ExpectError(CheckEvidenceUpload("image/jpeg", "a.jpg", ""), "invalid_request", "file");
  const std::string at_limit = Sized(kPdf, 5 * 1024 * 1024);
  auto ok = CheckEvidenceUpload("application/pdf", "big.pdf", at_limit);
  REQUIRE_OK(ok);
  BOOST_TEST(ok->size == 5U * 1024U * 1024U);
  ExpectError(CheckEvidenceUpload("application/pdf", "big.pdf", Sized(kPdf, 5 * 1024 * 1024 + 1)),
              "payload_too_large", "file", 413);
  // One byte is enough size-wise; it is the signature that refuses it.
  ExpectError(CheckEvidenceUpload("image/jpeg", "a.jpg", "\xFF"), "invalid_request", "file");
}

BOOST_AUTO_TEST_CASE(the_content_type_is_checked_before_the_size_and_the_name_last) {
  ExpectError(CheckEvidenceUpload("text/plain", "", ""), "invalid_request", "file");
  ExpectError(CheckEvidenceUpload("image/png", "", kJpeg), "invalid_request", "file");
  ExpectError(CheckEvidenceUpload("image/png", "", kPng), "invalid_request", "filename");
}

BOOST_AUTO_TEST_CASE(filenames_are_trimmed_of_spaces_and_otherwise_kept) {
  auto r = CheckFilename("  Kitchen – before (1).JPG ");
  REQUIRE_OK(r);
  BOOST_TEST(*r == "Kitchen – before (1).JPG");
  REQUIRE_OK(CheckFilename("a"));
  REQUIRE_OK(CheckFilename("..."));
  REQUIRE_OK(CheckFilename(".hidden"));
  REQUIRE_OK(CheckFilename("Zürich 🏨 receipt.pdf"));
  REQUIRE_OK(CheckFilename("it's.png"));
}

BOOST_AUTO_TEST_CASE(filename_length_is_1_to_200_characters) {
  REQUIRE_OK(CheckFilename(std::string(200, 'f')));
  auto wide = CheckFilename(std::string(100, 'f') + [] {
    std::string s;
    for (int i = 0; i < 100; ++i) s += "é";
    return s;
  }());  // 200 characters, 300 bytes
  REQUIRE_OK(wide);
  for (const std::string& bad : {std::string(), std::string("   "), std::string(201, 'f')}) {
    auto r = CheckFilename(bad);
    REQUIRE_ERROR(r);
    BOOST_TEST(r.error().param == "filename");
    BOOST_TEST(r.error().code == "invalid_request");
  }
}

BOOST_AUTO_TEST_CASE(filenames_without_paths_controls_or_quotes) {
  for (const std::string& bad :
       {std::string("a/b.jpg"), std::string("../etc/passwd"), std::string("C:\\photo.jpg"),
        std::string("/"), std::string("."), std::string(".."), std::string("a\nb.jpg"),
        std::string("a\rb"), std::string("tab\there"), std::string("nul\0x", 5),
        std::string("del\x7F"), std::string("c1\xC2\x85"), std::string("quote\".jpg"),
        std::string("line\xE2\x80\xA8sep"), std::string("rlo\xE2\x80\xAEgpj.exe"),
        std::string("isolate\xE2\x81\xA6x"), std::string("bad\xC3\x28utf8"),
        std::string("\xFF\xFE")}) {
    auto r = CheckFilename(bad);
    REQUIRE_ERROR(r);
    BOOST_TEST(r.error().param == "filename");
    BOOST_TEST(HttpStatus(r.error().kind) == 400);
  }
}

BOOST_AUTO_TEST_CASE(renders_the_201_answer) {
  const EvidenceFile file{"file_1Abc", "kitchen \"before\".jpg", 48213, EvidenceType::kJpeg,
                          1767225600};
  BOOST_TEST(RenderEvidenceFile(file) ==
             R"({"id":"file_1Abc","filename":"kitchen \"before\".jpg","size":48213,)"
             R"("type":"image/jpeg","created_at":"2026-01-01T00:00:00Z"})");
  BOOST_TEST(MimeType(EvidenceType::kPng) == "image/png");
  BOOST_TEST(MimeType(EvidenceType::kPdf) == "application/pdf");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::claims
