#include "core/log.h"

#include <unistd.h>

#include "core/json.h"
#include "core/time_util.h"

namespace cc::log {
namespace {

const char* LevelName(Level level) {
  switch (level) {
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void Write(Level level, std::string_view message, const std::vector<Field>& fields) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "ts");
  json::String(w, FormatIso8601(NowSeconds()));
  json::Key(w, "level");
  json::String(w, LevelName(level));
  json::Key(w, "msg");
  json::String(w, message);
  for (const auto& f : fields) {
    json::Key(w, f.key);
    if (f.is_number) {
      w.RawValue(f.value.data(), f.value.size(), rapidjson::kNumberType);
    } else {
      json::String(w, f.value);
    }
  }
  w.EndObject();
  std::string line(buf.GetString(), buf.GetSize());
  line.push_back('\n');
  // One write per line keeps lines whole across threads; a failed log write is dropped.
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace cc::log
