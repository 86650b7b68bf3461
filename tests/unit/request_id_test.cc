// Goal: a client's X-Request-Id is kept only when it is 1-128 visible ASCII characters
// (0x21-0x7E): the boundaries (1 and 128 characters, '!' and '~') pass, and empty, 129
// characters, a space, control characters, DEL and bytes outside ASCII are refused (the
// server then generates an id). An error body gains error.request_id, escaped.
#include "base/request_id.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "http/json_render.h"

namespace fs::base {
namespace {

TEST(RequestIdTest, AcceptsOneToOneHundredTwentyEightVisibleAsciiCharacters) {
  std::string every_visible;
  for (char c = 0x21; c <= 0x7E; ++c) every_visible += c;
  for (const std::string& good :
       {std::string("a"), std::string("abc"), std::string(128, 'x'), std::string("!"),
        std::string("~"), std::string("6f1c2a9e-4d1b-4c3e-8f00-0123456789ab"),
        std::string("\"quoted\\backslash\""), every_visible}) {
    EXPECT_TRUE(IsValidRequestId(good)) << good;
  }
}

TEST(RequestIdTest, RefusesEmptyTooLongAndInvisibleCharacters) {
  for (const std::string& bad :
       {std::string(), std::string(129, 'x'), std::string("a b"), std::string(" "),
        std::string("tab\there"), std::string("new\nline"), std::string("cr\r"),
        std::string("nul\0x", 5), std::string("del\x7f"), std::string("caf\xc3\xa9"),
        std::string("\x80"), std::string("\xff")}) {
    EXPECT_FALSE(IsValidRequestId(bad)) << bad;
  }
}

TEST(RequestIdTest, ErrorBodiesCarryTheIdEscaped) {
  const std::string body =
      http::WithErrorRequestId(http::RenderError("NOT_FOUND", "no such route"), "a\"b\\c");
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  ASSERT_FALSE(document.HasParseError()) << body;
  const auto& error = document["error"];
  EXPECT_STREQ(error["code"].GetString(), "NOT_FOUND");
  EXPECT_STREQ(error["message"].GetString(), "no such route");
  EXPECT_STREQ(error["request_id"].GetString(), "a\"b\\c");
  EXPECT_EQ(document.MemberCount(), 1u);
  EXPECT_EQ(error.MemberCount(), 3u);
}

TEST(RequestIdTest, OtherBodiesAreLeftAlone) {
  for (const std::string& body :
       {std::string("{\"status\":\"ok\"}"), std::string("<html></html>"), std::string()}) {
    EXPECT_EQ(http::WithErrorRequestId(body, "abc"), body);
  }
}

}  // namespace
}  // namespace fs::base
