// The two log line formats of --log-format (docs/operations.md, "Logs"):
//   json: one JSON object per line: "ts" (RFC 3339 UTC with microseconds), "level", "module",
//         "msg", then "request_id", "trace_id", "span_id" when the line was written inside a
//         request's log context, then the record's own fields (the access log's).
//   text: the same fields for a terminal: `TS LEVEL MODULE msg="..." key=value ...`.
// Every value is escaped (JSON: RapidJSON's writer over valid UTF-8; text: quoted, with control
// characters and bytes that are not UTF-8 as \xNN), so no value can add or change a field or
// split the line.
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "log/log_context.h"

namespace fs::log {

enum class LogFormat : std::uint8_t { kJson, kText };

// A field of a record beyond the fixed ones. Keys are the program's own names (not escaped in
// text lines); values may be anything.
struct LogField {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double> value;
};

struct LogRecord {
  std::chrono::system_clock::time_point time{};
  std::string_view level;  // "trace", "debug", "info", "warn", "error", "critical"
  std::string_view module;
  std::string_view message;
  const LogContext* context = nullptr;  // nullptr: outside any request
  std::span<const LogField> fields{};
};

// "2026-12-07T18:16:02.123456Z".
std::string FormatMicrosUtc(std::chrono::system_clock::time_point time);

// One line, ending in '\n'.
std::string FormatLogLine(LogFormat format, const LogRecord& record);

}  // namespace fs::log
