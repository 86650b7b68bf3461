// Goal: the JSON log line is one valid JSON object per line with exactly the documented fields
// (ts in RFC 3339 UTC with microseconds, level, module, msg, the request's ids when known, the
// record's own fields), and no value, however hostile (quotes, newlines, control characters,
// bytes that are not UTF-8, a forged `"level":...`), can add, change or split a field, in JSON
// or in text. Each JSON line is parsed back with RapidJSON.
#include "log/log_format.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "log/log_output.h"

namespace fs::log {
namespace {

using std::chrono::system_clock;

// 2026-12-07T18:16:02.123456Z.
system_clock::time_point SampleTime() {
  using namespace std::chrono;
  return sys_days{year{2026} / December / 7} + hours(18) + minutes(16) + seconds(2) +
         microseconds(123456);
}

std::set<std::string> MemberNames(const rapidjson::Document& document) {
  std::set<std::string> names;
  for (const auto& member : document.GetObject()) names.insert(member.name.GetString());
  return names;
}

// Parses `line` (one JSON object and its '\n') and checks it is exactly one line.
rapidjson::Document ParseLine(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "a raw newline inside the line: " << line;
  rapidjson::Document document;
  document.Parse(line.data(), line.size() - 1);
  EXPECT_FALSE(document.HasParseError()) << line;
  EXPECT_TRUE(document.IsObject()) << line;
  return document;
}

TEST(LogFormatTest, TimestampIsRfc3339UtcWithMicroseconds) {
  EXPECT_EQ(FormatMicrosUtc(SampleTime()), "2026-12-07T18:16:02.123456Z");
  EXPECT_EQ(FormatMicrosUtc(system_clock::time_point{}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatMicrosUtc(system_clock::time_point{} - std::chrono::microseconds(1)),
            "1969-12-31T23:59:59.999999Z");
}

TEST(LogFormatTest, JsonLineHasTheFixedFieldsOutsideARequest) {
  LogRecord record;
  record.time = SampleTime();
  record.level = "info";
  record.module = "app";
  record.message = "listening";
  const rapidjson::Document line = ParseLine(FormatLogLine(LogFormat::kJson, record));
  EXPECT_EQ(MemberNames(line), (std::set<std::string>{"ts", "level", "module", "msg"}));
  EXPECT_STREQ(line["ts"].GetString(), "2026-12-07T18:16:02.123456Z");
  EXPECT_STREQ(line["level"].GetString(), "info");
  EXPECT_STREQ(line["module"].GetString(), "app");
  EXPECT_STREQ(line["msg"].GetString(), "listening");
}

TEST(LogFormatTest, JsonLineCarriesTheRequestContextAndFields) {
  const LogContext context{"req-1", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"};
  const LogField fields[] = {{"route", std::string_view("/api/v1/reserve")},
                             {"status", std::int64_t{503}},
                             {"duration_ms", 1.5}};
  LogRecord record;
  record.time = SampleTime();
  record.level = "error";
  record.module = "access";
  record.message = "request";
  record.context = &context;
  record.fields = fields;
  const rapidjson::Document line = ParseLine(FormatLogLine(LogFormat::kJson, record));
  EXPECT_EQ(MemberNames(line),
            (std::set<std::string>{"ts", "level", "module", "msg", "request_id", "trace_id",
                                   "span_id", "route", "status", "duration_ms"}));
  EXPECT_STREQ(line["request_id"].GetString(), "req-1");
  EXPECT_STREQ(line["trace_id"].GetString(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_STREQ(line["span_id"].GetString(), "00f067aa0ba902b7");
  EXPECT_STREQ(line["route"].GetString(), "/api/v1/reserve");
  ASSERT_TRUE(line["status"].IsInt64());
  EXPECT_EQ(line["status"].GetInt64(), 503);
  ASSERT_TRUE(line["duration_ms"].IsNumber());
  EXPECT_DOUBLE_EQ(line["duration_ms"].GetDouble(), 1.5);
}

TEST(LogFormatTest, JsonLineLeavesUnknownIdsOut) {
  const LogContext context{"only-the-request-id", {}, {}};
  LogRecord record;
  record.level = "warn";
  record.module = "http";
  record.message = "m";
  record.context = &context;
  const rapidjson::Document line = ParseLine(FormatLogLine(LogFormat::kJson, record));
  EXPECT_EQ(MemberNames(line),
            (std::set<std::string>{"ts", "level", "module", "msg", "request_id"}));
}

// Values an attacker controls (a user id, a path, a header) in every position.
const std::vector<std::string>& HostileValues() {
  static const std::vector<std::string> values = {
      "\",\"level\":\"critical",       "line one\nline two\r\n{\"msg\":\"forged\"}",
      "tab\there\x01\x1f\x7f",         "back\\slash\\\"",
      std::string("nul\0inside", 10),  "not utf-8: \xff\xfe \xc3",
      " request_id=forged status=200", "caf\xc3\xa9 \xe2\x82\xac",
  };
  return values;
}

// The line of a record with `hostile` as its message and its one field, in `format`.
std::string HostileLine(LogFormat format, const std::string& hostile) {
  const LogContext context{"id", {}, {}};
  const LogField fields[] = {{"user_id", std::string_view(hostile)}};
  LogRecord record;
  record.time = SampleTime();
  record.level = "info";
  record.module = "access";
  record.message = hostile;
  record.context = &context;
  record.fields = fields;
  return FormatLogLine(format, record);
}

TEST(LogFormatTest, HostileValuesCannotAddOrChangeJsonFields) {
  for (const std::string& hostile : HostileValues()) {
    const rapidjson::Document line = ParseLine(HostileLine(LogFormat::kJson, hostile));
    EXPECT_EQ(MemberNames(line),
              (std::set<std::string>{"ts", "level", "module", "msg", "request_id", "user_id"}))
        << hostile;
    EXPECT_STREQ(line["level"].GetString(), "info");
    EXPECT_STREQ(line["request_id"].GetString(), "id");
    const std::string msg(line["msg"].GetString(), line["msg"].GetStringLength());
    const std::string user_id(line["user_id"].GetString(), line["user_id"].GetStringLength());
    EXPECT_EQ(msg, user_id);
    // Valid UTF-8 comes back byte for byte; anything else is replaced, never passed through.
    if (hostile.find('\xff') == std::string::npos) {
      EXPECT_EQ(msg, hostile);
    } else {
      EXPECT_EQ(msg.find('\xff'), std::string::npos);
    }
  }
}

TEST(LogFormatTest, HostileValuesCannotAddOrSplitTextFields) {
  for (const std::string& hostile : HostileValues()) {
    const std::string line = HostileLine(LogFormat::kText, hostile);
    ASSERT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    for (const char c : line.substr(0, line.size() - 1)) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_TRUE(byte >= 0x20 && byte != 0x7f) << "control byte " << int{byte} << " in " << line;
    }
    EXPECT_TRUE(line.starts_with("2026-12-07T18:16:02.123456Z info access msg=\"")) << line;
    // The one real request_id field comes after the quoted message, unquoted.
    EXPECT_NE(line.find("\" request_id=id user_id=\""), std::string::npos) << line;
  }
}

TEST(LogFormatTest, TextLineShowsPlainValuesUnquoted) {
  const LogContext context{"abc", {}, {}};
  const LogField fields[] = {{"status", std::int64_t{200}}, {"route", std::string_view("/x")}};
  LogRecord record;
  record.time = SampleTime();
  record.level = "info";
  record.module = "access";
  record.message = "request";
  record.context = &context;
  record.fields = fields;
  EXPECT_EQ(FormatLogLine(LogFormat::kText, record),
            "2026-12-07T18:16:02.123456Z info access msg=\"request\" request_id=abc status=200 "
            "route=/x\n");
}

TEST(LogFormatTest, DefaultFormatFollowsTheTerminal) {
  EXPECT_EQ(DefaultLogFormat(true), LogFormat::kText);
  EXPECT_EQ(DefaultLogFormat(false), LogFormat::kJson);
}

}  // namespace
}  // namespace fs::log
