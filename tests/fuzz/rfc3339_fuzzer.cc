// Goal: RFC 3339 times (sale starts_at/ends_at, the audit query's from/to, the catalog's
// starts_after/starts_before) never crash the parser, and parse -> format -> parse gives the
// same instant: the text the API writes for a time it accepted is text it accepts again.
// The formatter's output is canonical (formatting the re-parsed time gives the same text).
//
// Input: a date-time text; its first 8 bytes are also a millisecond count to format.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/clock.h"
#include "base/time_format.h"

namespace fs::base {
namespace {

// The instants the formatter writes as YYYY (years 0000-9999): the only ones the grammar has
// text for.
constexpr std::int64_t kFirstMillis = -62'167'219'200'000;  // 0000-01-01T00:00:00Z
constexpr std::int64_t kLastMillis = 253'402'300'799'999;   // 9999-12-31T23:59:59.999Z

void ParseFormatParse(std::string_view text) {
  const std::optional<Time> parsed = ParseRfc3339(text);
  if (!parsed) return;
  const std::string formatted = FormatRfc3339(*parsed);
  const std::optional<Time> again = ParseRfc3339(formatted);
  FS_CHECK(again.has_value());
  FS_CHECK(*again == *parsed);
  FS_CHECK(FormatRfc3339(*again) == formatted);
}

void FormatParse(std::string_view bytes) {
  std::int64_t millis = 0;
  std::memcpy(&millis, bytes.data(), std::min(bytes.size(), sizeof millis));
  if (millis < kFirstMillis || millis > kLastMillis) return;
  const std::string formatted = FormatRfc3339(TimeFromMillis(millis));
  FS_CHECK(formatted.size() == 24);
  const std::optional<Time> parsed = ParseRfc3339(formatted);
  FS_CHECK(parsed.has_value());
  FS_CHECK(ToMillis(*parsed) == millis);
}

}  // namespace
}  // namespace fs::base

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::base;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ParseFormatParse(bytes);
  FormatParse(bytes);
  return 0;
}
