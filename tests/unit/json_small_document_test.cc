// json::SmallDocument parses within its stack buffers and, past them, still parses correctly
// from the heap.
#include <gtest/gtest.h>

#include <string>

#include "json/small_document.h"

namespace fs::json {
namespace {

TEST(SmallDocumentTest, ParsesSmallAndLargeInputs) {
  SmallDocument<> small;
  const auto& object = small.Parse(R"({"quantity":2,"sku_id":"a-b","nested":{"x":[1,2,3]}})");
  ASSERT_FALSE(object.HasParseError());
  ASSERT_TRUE(object.IsObject());
  EXPECT_EQ(object["quantity"].GetInt(), 2);
  EXPECT_STREQ(object["sku_id"].GetString(), "a-b");
  EXPECT_EQ(object["nested"]["x"].Size(), 3u);

  // Far beyond both buffers: 5,000 members and a deep array.
  std::string large = "{";
  for (int i = 0; i < 5000; ++i) {
    if (i > 0) large += ',';
    large += "\"k" + std::to_string(i) + "\":\"" + std::string(20, 'v') + "\"";
  }
  large += R"(,"deep":)" + std::string(200, '[') + std::string(200, ']') + "}";
  SmallDocument<> big;
  const auto& parsed = big.Parse<rapidjson::kParseIterativeFlag>(large);
  ASSERT_FALSE(parsed.HasParseError());
  EXPECT_EQ(parsed.MemberCount(), 5001u);
  EXPECT_STREQ(parsed["k4999"].GetString(), std::string(20, 'v').c_str());

  SmallDocument<> broken;
  EXPECT_TRUE(broken.Parse(R"({"quantity":)").HasParseError());
}

}  // namespace
}  // namespace fs::json
