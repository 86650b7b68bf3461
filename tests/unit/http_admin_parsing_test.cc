// Goal: parsing of the audit and lifecycle admin requests: the stock body, the query string
// (percent-decoding, repeats, malformed escapes), the disputes query's fields and bounds, and
// the device fingerprint's input format.
#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "http/admin_parsing.h"

namespace fs::http {
namespace {

TEST(AdminParsingTest, StockBody) {
  EXPECT_EQ(ParseStockBody(R"({"delta":5})").value(), 5);
  EXPECT_EQ(ParseStockBody(R"({"delta":-3,"note":"x"})").value(), -3);
  for (const char* bad : {"", "[]", "{}", R"({"delta":0})", R"({"delta":1.5})", R"({"delta":"1"})",
                          R"({"delta":null})", "{"}) {
    EXPECT_FALSE(ParseStockBody(bad).has_value()) << bad;
  }
}

TEST(AdminParsingTest, QueryString) {
  auto params = ParseQueryString("/admin/v1/audit?user_id=a%20b&sku_id=x+y&empty=&flag");
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ(params->at("user_id"), "a b");
  EXPECT_EQ(params->at("sku_id"), "x y");
  EXPECT_EQ(params->at("empty"), "");
  EXPECT_EQ(params->at("flag"), "");
  EXPECT_TRUE(ParseQueryString("/admin/v1/audit")->empty());
  EXPECT_FALSE(ParseQueryString("/a?x=1&x=2").has_value());
  EXPECT_FALSE(ParseQueryString("/a?x=%zz").has_value());
  EXPECT_FALSE(ParseQueryString("/a?x=%4").has_value());
}

TEST(AdminParsingTest, AuditQuery) {
  auto query = ParseAuditQuery(
      "/admin/v1/audit?user_id=u&sku_id=s&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
      "&after_id=42&limit=7&unknown=1");
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->user_id, "u");
  EXPECT_EQ(query->sku_id, "s");
  ASSERT_TRUE(query->from && query->to);
  EXPECT_EQ(*query->to - *query->from, std::chrono::hours(24));
  EXPECT_EQ(query->after_id, 42);
  EXPECT_EQ(query->limit, 7);
  auto defaults = ParseAuditQuery("/admin/v1/audit");
  ASSERT_TRUE(defaults.has_value());
  EXPECT_FALSE(defaults->user_id.has_value());
  EXPECT_EQ(defaults->after_id, 0);
  EXPECT_EQ(defaults->limit, audit::kAuditPageDefault);
  for (const char* bad : {"?limit=0", "?limit=1001", "?limit=1x", "?after_id=-1", "?from=nope",
                          "?to=2026-13-01T00:00:00Z"}) {
    EXPECT_FALSE(ParseAuditQuery(std::string("/admin/v1/audit") + bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace fs::http
