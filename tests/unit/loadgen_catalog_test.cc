// Goal: the search benchmark's catalog is the documented mix (1 % OPEN, 9 % SCHEDULED, the
// rest SOLD_OUT or CLOSED), every generated sale body is a valid create request, the same seed
// gives the same catalog, and every search target is a valid query of GET /api/v1/products.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>
#include <string>

#include "http/request_parsing.h"
#include "tools/loadgen/catalog.h"

namespace fs::loadgen {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

TEST(LoadgenCatalogTest, SalesAreValidAndMixedAsDocumented) {
  constexpr std::uint64_t kCount = 1000;
  int scheduled = 0;
  int sold_out = 0;
  int closed = 0;
  int open = 0;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    const std::string body = CatalogSaleBody(i, kCount, kNow);
    EXPECT_EQ(body, CatalogSaleBody(i, kCount, kNow));  // a fixed seed
    auto sale = http::ParseSaleBody(body);
    ASSERT_TRUE(sale.has_value()) << body << ": " << sale.error().ToString();
    EXPECT_FALSE(sale->details.description.empty());
    EXPECT_FALSE(sale->details.category.empty());
    EXPECT_FALSE(sale->details.tags.empty());
    if (sale->starts_at) {
      ++scheduled;
    } else if (sale->ends_at) {
      ++closed;
    } else if (sale->total_stock == 0) {
      ++sold_out;
    } else {
      ++open;
    }
  }
  EXPECT_EQ(open, 10);
  EXPECT_EQ(scheduled, 90);
  EXPECT_EQ(sold_out + closed, 900);
  EXPECT_EQ(sold_out, closed);
}

TEST(LoadgenCatalogTest, TargetsAreProductListQueries) {
  std::set<std::string> targets;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    const std::string target = SearchTarget(i);
    EXPECT_EQ(target.rfind("/api/v1/products", 0), 0u) << target;
    targets.insert(target);
  }
  EXPECT_GE(targets.size(), 20u);  // the mix is varied
}

}  // namespace
}  // namespace fs::loadgen
