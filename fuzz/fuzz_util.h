// Helpers shared by the libFuzzer targets in fuzz/: slicing the input into the pieces a
// target needs, and invariant checks that report like a sanitizer.
//
// Inputs are text on purpose, so the seed corpora under fuzz/corpus/ can be read and
// written by hand: lines for small fields, the rest of the input for a body, and a line
// holding only "%%%" between the records of a multi-record input.
// Everything here is a pure function of its arguments; a failed Require() aborts, which
// libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <sanitizer/common_interface_defs.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace cc::fuzz {

inline constexpr std::string_view kRecordSeparator = "\n%%%\n";

inline std::string_view AsView(const uint8_t* data, size_t size) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer hands out bytes
  return {reinterpret_cast<const char*>(data), size};
}

// The first line of *rest (without "\n" or "\r\n"); *rest keeps what follows it.
inline std::string_view TakeLine(std::string_view* rest) {
  const size_t eol = rest->find('\n');
  std::string_view line = rest->substr(0, eol);
  rest->remove_prefix(eol == std::string_view::npos ? rest->size() : eol + 1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

// Splits at every `separator`; empty pieces are kept.
inline std::vector<std::string_view> Split(std::string_view text, std::string_view separator,
                                           size_t max_pieces) {
  std::vector<std::string_view> pieces;
  while (pieces.size() + 1 < max_pieces) {
    const size_t at = text.find(separator);
    if (at == std::string_view::npos) break;
    pieces.push_back(text.substr(0, at));
    text.remove_prefix(at + separator.size());
  }
  pieces.push_back(text);
  return pieces;
}

inline std::vector<std::string> SplitToStrings(std::string_view text, std::string_view separator,
                                               size_t max_pieces) {
  std::vector<std::string> out;
  for (std::string_view piece : Split(text, separator, max_pieces)) out.emplace_back(piece);
  return out;
}

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// An invariant of the code under test: reported through the sanitizer's channel (which
// libFuzzer keeps open even with -close_fd_mask) with a stack, then abort.
inline void Require(bool ok, const char* what) {
  if (ok) return;
  const std::string summary = std::string("fuzz invariant failed: ") + what;
  __sanitizer_report_error_summary(summary.c_str());
  __sanitizer_print_stack_trace();
  std::abort();
}

}  // namespace cc::fuzz
