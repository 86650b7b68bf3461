#include "log/log_format.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <ctime>

#include "base/utf8.h"

namespace fs::log {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// RapidJSON escapes quotes, backslashes and control characters; the bytes must be valid UTF-8
// for the line to be valid JSON, so anything else becomes U+FFFD first.
void JsonString(JsonWriter& writer, std::string_view text) {
  if (base::IsValidUtf8(text)) {
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return;
  }
  const std::string valid = base::ValidUtf8(text);
  writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

void JsonField(JsonWriter& writer, std::string_view key, std::string_view value) {
  JsonString(writer, key);
  JsonString(writer, value);
}

void JsonValue(JsonWriter& writer, const LogField& field) {
  JsonString(writer, field.key);
  if (const auto* text = std::get_if<std::string_view>(&field.value)) {
    JsonString(writer, *text);
  } else if (const auto* integer = std::get_if<std::int64_t>(&field.value)) {
    writer.Int64(*integer);
  } else {
    writer.Double(std::get<double>(field.value));
  }
}

std::string JsonLine(const LogRecord& record) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  JsonField(writer, "ts", FormatMicrosUtc(record.time));
  JsonField(writer, "level", record.level);
  JsonField(writer, "module", record.module);
  JsonField(writer, "msg", record.message);
  if (record.context != nullptr) {
    const LogContext& context = *record.context;
    if (!context.request_id.empty()) JsonField(writer, "request_id", context.request_id);
    if (!context.trace_id.empty()) JsonField(writer, "trace_id", context.trace_id);
    if (!context.span_id.empty()) JsonField(writer, "span_id", context.span_id);
  }
  for (const LogField& field : record.fields) JsonValue(writer, field);
  writer.EndObject();
  std::string line(buffer.GetString(), buffer.GetSize());
  line += '\n';
  return line;
}

// A text value: as it is when it holds only safe characters, else quoted (base::QuotedForLog).
void TextValue(std::string& line, std::string_view text) {
  bool plain = !text.empty();
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F || c == '"' || c == '=' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    line += text;
  } else {
    line += base::QuotedForLog(text);
  }
}

void TextField(std::string& line, std::string_view key, std::string_view value) {
  line += ' ';
  line += key;
  line += '=';
  TextValue(line, value);
}

std::string TextLine(const LogRecord& record) {
  std::string line = FormatMicrosUtc(record.time);
  line += ' ';
  TextValue(line, record.level);
  line += ' ';
  TextValue(line, record.module);
  line += " msg=";
  line += base::QuotedForLog(record.message);
  if (record.context != nullptr) {
    const LogContext& context = *record.context;
    if (!context.request_id.empty()) TextField(line, "request_id", context.request_id);
    if (!context.trace_id.empty()) TextField(line, "trace_id", context.trace_id);
    if (!context.span_id.empty()) TextField(line, "span_id", context.span_id);
  }
  for (const LogField& field : record.fields) {
    if (const auto* text = std::get_if<std::string_view>(&field.value)) {
      TextField(line, field.key, *text);
    } else if (const auto* integer = std::get_if<std::int64_t>(&field.value)) {
      TextField(line, field.key, std::to_string(*integer));
    } else {
      char digits[32];
      const int length =
          std::snprintf(digits, sizeof digits, "%.6f", std::get<double>(field.value));
      TextField(line, field.key, std::string_view(digits, static_cast<std::size_t>(length)));
    }
  }
  line += '\n';
  return line;
}

}  // namespace

std::string FormatMicrosUtc(std::chrono::system_clock::time_point time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::int64_t seconds = micros / 1'000'000;
  std::int64_t fraction = micros % 1'000'000;
  if (fraction < 0) {  // before 1970: floor, not truncate
    fraction += 1'000'000;
    seconds -= 1;
  }
  const auto whole = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char text[40];
  const int length = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                   utc.tm_min, utc.tm_sec, static_cast<int>(fraction));
  return std::string(text, static_cast<std::size_t>(length));
}

std::string FormatLogLine(LogFormat format, const LogRecord& record) {
  return format == LogFormat::kJson ? JsonLine(record) : TextLine(record);
}

}  // namespace fs::log
