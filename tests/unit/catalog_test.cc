// Goal: the catalog's search folds case and accents (Latin-1 and Latin Extended-A), matches
// every query word as a word prefix, ranks by relevance then status, start and sku, filters by
// status, price and start, and pages with signed keyset cursors: walking every page returns
// each match exactly once, a forged or tampered cursor is refused, and a catalog that changes
// between pages repeats nothing already returned. Runs on a real engine (in-memory store).
#include "http/catalog.h"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <string>
#include <vector>

#include "base/text_fold.h"
#include "core/rules.h"
#include "store/memory/memory_store.h"

namespace fs::http {
namespace {

using base::FoldedWords;

TEST(TextFoldTest, FoldsCaseAndAccentsOfLatinLetters) {
  EXPECT_EQ(FoldedWords("Café Crème"), (std::vector<std::string>{"cafe", "creme"}));
  EXPECT_EQ(FoldedWords("CAFÉ"), (std::vector<std::string>{"cafe"}));
  EXPECT_EQ(FoldedWords("Straße Æsir Þór"), (std::vector<std::string>{"strasse", "aesir", "thor"}));
  EXPECT_EQ(FoldedWords("Łódź Œuvre ĲSSEL ſ"),
            (std::vector<std::string>{"lodz", "oeuvre", "ijssel", "s"}));
  EXPECT_EQ(FoldedWords("Ångström ÿ Ÿ"), (std::vector<std::string>{"angstrom", "y", "y"}));
  EXPECT_EQ(base::FoldedText("  Running--Shoes "), "running shoes");
}

TEST(TextFoldTest, SplitsOnPunctuationSymbolsAndBadBytes) {
  EXPECT_EQ(FoldedWords("air-max 90, 2×3 «new»"),
            (std::vector<std::string>{"air", "max", "90", "2", "3", "new"}));
  EXPECT_EQ(FoldedWords("a\xff"
                        "b"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(FoldedWords("東京 tokyo"), (std::vector<std::string>{"東京", "tokyo"}));
  EXPECT_TRUE(FoldedWords(" ,.;!? ").empty());
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::Options options;
    // As the app wires it: the engine tells the catalog what it published.
    options.on_published = [this](const std::vector<std::string>& skus) {
      catalog_.MarkChanged(skus);
    };
    auto engine =
        engine::Engine::Open(std::move(options), std::make_unique<store::MemoryStore>(), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.error().ToString();
    engine_ = std::move(*engine);
  }

  void Create(const std::string& sku, const std::string& name, std::int64_t price,
              std::optional<base::Time> starts_at = std::nullopt, std::int64_t stock = 10,
              core::SaleDetails details = {}) {
    core::Sale sale;
    sale.details = std::move(details);
    sale.sku_id = sku;
    sale.name = name;
    sale.price_cents = price;
    sale.currency = "EUR";
    sale.total_stock = stock;
    sale.starts_at = starts_at;
    std::promise<engine::ReplyOf<engine::CreateSale>> promise;
    engine_->Submit(engine::CreateSale{sale}, [&](engine::ReplyOf<engine::CreateSale> r) {
      promise.set_value(std::move(r));
    });
    const auto reply = promise.get_future().get();
    ASSERT_TRUE(reply.status.ok());
    ASSERT_EQ(reply.value.outcome, core::CreateSaleOutcome::kCreated) << sku;
  }

  std::vector<std::string> Skus(const CatalogQuery& query) {
    std::vector<std::string> skus;
    for (const auto& item : catalog_.Search(*engine_, query).items) {
      skus.push_back(item->sale.sku_id);
    }
    return skus;
  }

  static CatalogQuery Words(const std::string& q) {
    CatalogQuery query;
    query.words = FoldedWords(q);
    query.sort = CatalogSort::kRelevance;
    return query;
  }

  base::ManualClock clock_{base::TimeFromMillis(1'800'000'000'000)};
  Catalog catalog_{"catalog-test-secret-0123456789abcdef"};  // outlives the engine
  std::unique_ptr<engine::Engine> engine_;
};

TEST_F(CatalogTest, EveryWordMustPrefixAWordCaseAndAccentsAside) {
  Create("a", "Café Crème Sneaker", 1200);
  Create("b", "Red sneaker", 900);
  Create("c", "Blue Hoodie", 3000);
  EXPECT_EQ(Skus(Words("cafe")), (std::vector<std::string>{"a"}));
  EXPECT_EQ(Skus(Words("CRÈME")), (std::vector<std::string>{"a"}));
  EXPECT_EQ(Skus(Words("sneak")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Skus(Words("red sneak")), (std::vector<std::string>{"b"}));  // AND
  EXPECT_TRUE(Skus(Words("sneakers")).empty());                          // a prefix, not a stem
  EXPECT_TRUE(Skus(Words("eaker")).empty());                             // prefixes only
  EXPECT_EQ(Skus(Words("hood blue")), (std::vector<std::string>{"c"}));
}

TEST_F(CatalogTest, RelevanceTiesGoByStatusThenStartThenSku) {
  const base::Time now = clock_.Now();
  Create("later", "Limited drop", 100, now + std::chrono::hours(2));
  Create("sooner", "Limited drop", 100, now + std::chrono::hours(1));
  Create("open-b", "Limited drop", 100);
  Create("open-a", "Limited drop", 100);
  Create("gone", "Limited drop", 100, std::nullopt, 0);  // SOLD_OUT (no stock)
  EXPECT_EQ(Skus(Words("limited")),
            (std::vector<std::string>{"open-a", "open-b", "sooner", "later", "gone"}));
  CatalogQuery by_start;
  by_start.sort = CatalogSort::kStartsAt;  // sales without starts_at first, then by sku
  EXPECT_EQ(Skus(by_start),
            (std::vector<std::string>{"gone", "open-a", "open-b", "sooner", "later"}));
}

TEST_F(CatalogTest, FiltersByStatusPriceAndStart) {
  const base::Time now = clock_.Now();
  Create("cheap", "Socks", 100);
  Create("dear", "Coat", 90'000);
  Create("soon", "Hat", 5'000, now + std::chrono::hours(1));
  Create("empty", "Gloves", 700, std::nullopt, 0);
  CatalogQuery open;
  open.statuses = {core::SaleStatus::kOpen};
  EXPECT_EQ(Skus(open), (std::vector<std::string>{"cheap", "dear"}));
  CatalogQuery priced;
  priced.sort = CatalogSort::kPrice;
  priced.min_price_cents = 500;
  priced.max_price_cents = 10'000;
  EXPECT_EQ(Skus(priced), (std::vector<std::string>{"empty", "soon"}));
  priced.sort = CatalogSort::kPriceDescending;
  EXPECT_EQ(Skus(priced), (std::vector<std::string>{"soon", "empty"}));
  CatalogQuery starting;
  starting.starts_after = now;
  EXPECT_EQ(Skus(starting), (std::vector<std::string>{"soon"}));
  CatalogQuery closed;
  closed.statuses = {core::SaleStatus::kClosed};
  EXPECT_TRUE(Skus(closed).empty());
  CatalogQuery all;  // the default leaves CLOSED out, keeps SOLD_OUT
  EXPECT_EQ(Skus(all).size(), 4u);
}

TEST_F(CatalogTest, CursorsWalkEveryMatchOnceAndAreSigned) {
  for (int i = 0; i < 23; ++i) {
    Create("sku-" + std::to_string(100 + i), "Item " + std::to_string(i), 100 + (i * 37) % 11);
  }
  for (const CatalogSort sort :
       {CatalogSort::kStartsAt, CatalogSort::kPrice, CatalogSort::kPriceDescending}) {
    CatalogQuery query;
    query.sort = sort;
    query.limit = 5;
    std::vector<std::string> seen;
    for (int pages = 0; pages < 10; ++pages) {
      const CatalogPage page = catalog_.Search(*engine_, query);
      for (const auto& item : page.items) seen.push_back(item->sale.sku_id);
      if (!page.next) break;
      const std::string cursor = catalog_.EncodeCursor(*page.next);
      query.after = catalog_.DecodeCursor(cursor);
      ASSERT_TRUE(query.after.has_value()) << cursor;
    }
    EXPECT_EQ(seen.size(), 23u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 23u);
  }
  CatalogKey key;
  key.sku_id = "sku-100";
  const std::string cursor = catalog_.EncodeCursor(key);
  EXPECT_TRUE(catalog_.DecodeCursor(cursor).has_value());
  std::string tampered = cursor;
  tampered[2] = tampered[2] == '1' ? '2' : '1';
  EXPECT_FALSE(catalog_.DecodeCursor(tampered).has_value());
  EXPECT_FALSE(catalog_.DecodeCursor("garbage").has_value());
  Catalog other("another-secret-0123456789abcdef0123");
  EXPECT_FALSE(other.DecodeCursor(cursor).has_value());
}

TEST_F(CatalogTest, AChangingCatalogRepeatsNothingAlreadyReturned) {
  for (int i = 0; i < 10; ++i) Create("s" + std::to_string(10 + i), "Thing", 100);
  CatalogQuery query;
  query.limit = 4;
  CatalogPage page = catalog_.Search(*engine_, query);
  std::vector<std::string> seen;
  for (const auto& item : page.items) seen.push_back(item->sale.sku_id);
  // Sales arrive before and after the cursor's position between the pages.
  Create("s00", "Thing", 100);
  Create("s99", "Thing", 100);
  while (page.next) {
    query.after = catalog_.DecodeCursor(catalog_.EncodeCursor(*page.next));
    page = catalog_.Search(*engine_, query);
    for (const auto& item : page.items) seen.push_back(item->sale.sku_id);
  }
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
  EXPECT_EQ(seen.size(), 11u);  // the ten, and the one after the cursor (s99), not s00
  EXPECT_EQ(seen.back(), "s99");
}

TEST_F(CatalogTest, NameOutranksCategoryAndTagsWhichOutrankDescription) {
  Create("in-description", "Plain", 100, std::nullopt, 10, {"A warm wool scarf", "", "", {}});
  Create("in-tag", "Plain", 100, std::nullopt, 10, {"", "", "", {"wool"}});
  Create("in-category", "Plain", 100, std::nullopt, 10, {"", "", "Wool goods", {}});
  Create("in-name", "Wool Hat", 100);
  EXPECT_EQ(Skus(Words("wool")),
            (std::vector<std::string>{"in-name", "in-category", "in-tag", "in-description"}));
  CatalogQuery by_category;
  by_category.category = base::FoldedText("WOOL goods");
  EXPECT_EQ(Skus(by_category), (std::vector<std::string>{"in-category"}));
  CatalogQuery by_tag;
  by_tag.tags = {"wool"};
  EXPECT_EQ(Skus(by_tag), (std::vector<std::string>{"in-tag"}));
  by_tag.tags = {"wool", "other"};
  EXPECT_TRUE(Skus(by_tag).empty());  // all tags must be present
}

TEST(SaleDetailsRulesTest, RefusesWhatBreaksAFieldsRule) {
  EXPECT_EQ(core::ValidateSaleDetails({}), "");
  EXPECT_EQ(core::ValidateSaleDetails({"line one\nline two\ttab", "/img/a.png", "Hats", {"a-1"}}),
            "");
  EXPECT_NE(core::ValidateSaleDetails({std::string(4001, 'x'), "", "", {}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"bell \a", "", "", {}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"caf\xe9", "", "", {}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "http://insecure/a.png", "", {}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "//host/a.png", "", {}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "https://a b", "", {}}), "");
  EXPECT_EQ(core::ValidateSaleDetails({"", "https://cdn.example/a.png", "", {}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "https://" + std::string(2041, 'a'), "", {}}), "");
  EXPECT_EQ(core::ValidateSaleDetails({"", "", std::string(64, 'c'), {}}), "");
  EXPECT_EQ(core::ValidateSaleDetails({"", "", "Équipement", {}}), "");  // characters, not bytes
  EXPECT_NE(core::ValidateSaleDetails({"", "", std::string(65, 'c'), {}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "", "", {"Upper"}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "", "", {""}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "", "", {std::string(33, 'a')}}), "");
  EXPECT_NE(core::ValidateSaleDetails({"", "", "", std::vector<std::string>(17, "t")}), "");
  EXPECT_EQ(core::SplitTags(core::JoinTags({"a", "b-2"})), (std::vector<std::string>{"a", "b-2"}));
  EXPECT_TRUE(core::SplitTags("").empty());
}

TEST_F(CatalogTest, LiveCountersShowInTheItems) {
  Create("hot", "Hot drop", 100, std::nullopt, 1);
  ASSERT_EQ(catalog_.Search(*engine_, Words("hot")).items.at(0)->counters.available(), 1);
  std::promise<engine::ReplyOf<engine::Reserve>> reserved;
  engine_->Submit(engine::Reserve{{"hot", "alice", 1, ""}},
                  [&](engine::ReplyOf<engine::Reserve> r) { reserved.set_value(std::move(r)); });
  ASSERT_EQ(reserved.get_future().get().value.outcome, core::ReserveOutcome::kReserved);
  const CatalogPage page = catalog_.Search(*engine_, Words("hot"));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0]->counters.available(), 0);  // SOLD_OUT is in the default statuses
}

}  // namespace
}  // namespace fs::http
