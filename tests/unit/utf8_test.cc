// Goal: the strict UTF-8 check accepts every well-formed sequence (1 to 4 bytes, the edges of
// each range) and refuses truncated, overlong, surrogate and out-of-range forms; the printable
// check also refuses C0, DEL and C1 controls.
#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace fs::base {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  for (const std::string& good :
       {std::string(), std::string("plain ascii"), std::string("caf\xc3\xa9"),
        std::string("\xe2\x82\xac"), std::string("\xf0\x9f\x98\x80"), std::string("\x7f"),
        std::string("\xc2\x80"), std::string("\xef\xbf\xbf"), std::string("\xf4\x8f\xbf\xbf"),
        std::string("\xed\x9f\xbf"), std::string("\xee\x80\x80")}) {
    EXPECT_TRUE(IsValidUtf8(good)) << good;
  }
}

TEST(Utf8Test, RefusesMalformedText) {
  for (const std::string& bad : {std::string("\xff"),              // never a UTF-8 byte
                                 std::string("caf\xe9"),           // Latin-1
                                 std::string("\x80"),              // a continuation byte alone
                                 std::string("\xc3"),              // truncated
                                 std::string("\xe2\x82"),          // truncated
                                 std::string("\xc0\xaf"),          // overlong '/'
                                 std::string("\xe0\x80\xaf"),      // overlong '/'
                                 std::string("\xf0\x80\x80\xaf"),  // overlong '/'
                                 std::string("\xed\xa0\x80"),      // surrogate U+D800
                                 std::string("\xed\xbf\xbf"),      // surrogate U+DFFF
                                 std::string("\xf4\x90\x80\x80"),  // U+110000
                                 std::string("\xf8\x88\x80\x80\x80"),
                                 std::string("ok\xc3(")}) {  // a lead byte followed by ASCII
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
    EXPECT_FALSE(IsPrintableUtf8(bad)) << bad;
  }
}

TEST(Utf8Test, PrintableRefusesControls) {
  EXPECT_TRUE(IsPrintableUtf8("user-1 jos\xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_TRUE(IsPrintableUtf8("\xc2\xa0"));  // U+00A0, the first after C1
  for (const std::string& control :
       {std::string("a\0b", 3), std::string("a\nb"), std::string("\x1f"), std::string("\x7f"),
        std::string("\xc2\x80"), std::string("\xc2\x85"), std::string("\xc2\x9f")}) {
    EXPECT_TRUE(IsValidUtf8(control));
    EXPECT_FALSE(IsPrintableUtf8(control));
  }
}

// A log value cannot add or change a field: quotes and backslashes are escaped, controls and
// bytes that are not UTF-8 become \xNN, and the value stays in one pair of quotes.
TEST(Utf8Test, ValidUtf8ReplacesEachBadByteAndKeepsGoodText) {
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ValidUtf8("caf\xe9"), "caf\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("\xff\xfe!"), "\xef\xbf\xbd\xef\xbf\xbd!");
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  for (const std::string bad : {"\xc0\xaf", "a\xe2\x82", "\xf5\x80\x80\x80", "\x80"}) {
    EXPECT_TRUE(IsValidUtf8(ValidUtf8(bad))) << bad;
  }
}

TEST(Utf8Test, QuotedForLogKeepsAValueOneField) {
  EXPECT_EQ(QuotedForLog("alice"), "\"alice\"");
  EXPECT_EQ(QuotedForLog("jos\xc3\xa9"), "\"jos\xc3\xa9\"");
  EXPECT_EQ(QuotedForLog("x\" client_ip=6.6.6.6"), "\"x\\\" client_ip=6.6.6.6\"");
  EXPECT_EQ(QuotedForLog("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(QuotedForLog("a\nlevel=error"), "\"a\\x0alevel=error\"");
  EXPECT_EQ(QuotedForLog("\xff\xc2\x85"), "\"\\xff\\xc2\\x85\"");
}

}  // namespace
}  // namespace fs::base
