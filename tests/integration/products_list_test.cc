// Goal: GET /api/v1/products through the real server: search by folded word prefixes, every
// filter and sort, pages by cursor (every sale once), items identical to the single product
// read, ETag with 304 on If-None-Match, Cache-Control, and 400 INVALID_REQUEST naming the
// parameter for every bad value (nothing changes).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

class ProductsListTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    Create("a-cafe", "Café Crème Sneaker", 1200);
    Create("b-red", "Red sneaker", 900);
    Create("c-hood", "Blue Hoodie", 3000);
    Create("d-late", "Winter coat", 20'000, "2099-01-01T00:00:00.000Z");
  }

  void Create(const std::string& sku, const std::string& name, std::int64_t price,
              std::optional<std::string> starts_at = std::nullopt) {
    SaleSpec sale;
    sale.sku_id = sku;
    sale.name = name;
    sale.price_cents = price;
    sale.starts_at = std::move(starts_at);
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }

  // The sku ids of one page, and its next_cursor ("" when null).
  std::pair<std::vector<std::string>, std::string> Page(const std::string& query) {
    const HttpResponse response = client().Get("/api/v1/products" + query);
    EXPECT_EQ(response.status, 200) << query << ": " << response.Describe();
    std::vector<std::string> skus;
    std::string cursor;
    auto json = ParseJson(response.body);
    if (!json || !json->IsObject() || !json->HasMember("items")) return {skus, cursor};
    for (const auto& item : (*json)["items"].GetArray()) {
      skus.push_back(StringField(item, "sku_id").value_or(""));
    }
    if ((*json)["next_cursor"].IsString()) cursor = (*json)["next_cursor"].GetString();
    return {skus, cursor};
  }
};

TEST_F(ProductsListTest, SearchesFoldedWordPrefixesAndFilters) {
  using Skus = std::vector<std::string>;
  EXPECT_EQ(Page("?q=cafe").first, Skus{"a-cafe"});
  EXPECT_EQ(Page("?q=CR%C3%88ME").first, Skus{"a-cafe"});  // CRÈME
  EXPECT_EQ(Page("?q=sneak&sort=price").first, (Skus{"b-red", "a-cafe"}));
  EXPECT_EQ(Page("?q=red+sneak").first, Skus{"b-red"});
  EXPECT_TRUE(Page("?q=sneakers").first.empty());
  EXPECT_EQ(Page("?sort=-price&max_price_cents=3000&min_price_cents=1000").first,
            (Skus{"c-hood", "a-cafe"}));
  EXPECT_EQ(Page("?status=SCHEDULED").first, Skus{"d-late"});
  EXPECT_EQ(Page("?status=OPEN,SCHEDULED&starts_after=2030-01-01T00:00:00Z").first, Skus{"d-late"});
  EXPECT_EQ(Page("?starts_before=2030-01-01T00:00:00Z").first, Skus{});
  EXPECT_TRUE(Page("?status=CLOSED").first.empty());
  EXPECT_EQ(Page("").first, (Skus{"a-cafe", "b-red", "c-hood", "d-late"}));  // starts_at order
  EXPECT_EQ(Page("?unknown=1&q=hood").first, Skus{"c-hood"});                // ignored
}

TEST_F(ProductsListTest, PagesReturnEverySaleOnceAndItemsMatchTheProductRead) {
  std::vector<std::string> seen;
  std::string query = "?limit=1&sort=price";
  for (int i = 0; i < 10; ++i) {
    auto [skus, cursor] = Page(query);
    seen.insert(seen.end(), skus.begin(), skus.end());
    if (cursor.empty()) break;
    query = "?limit=1&sort=price&cursor=" + cursor;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"b-red", "a-cafe", "c-hood", "d-late"}));
  // An item is the single product read, field for field.
  auto list = ParseJson(client().Get("/api/v1/products?q=hood").body);
  ASSERT_TRUE(list.has_value());
  auto single = ParseJson(client().Get("/api/v1/products/c-hood").body);
  ASSERT_TRUE(single.has_value());
  EXPECT_TRUE((*list)["items"][0] == *single);
}

TEST_F(ProductsListTest, EtagAnswers304AndCacheControlIsPublic) {
  const HttpResponse first = client().Get("/api/v1/products?q=sneak");
  ASSERT_EQ(first.status, 200);
  const std::string etag = first.Header("ETag").value_or("");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(first.Header("Cache-Control").value_or(""), "public, max-age=1");
  const HttpResponse same = client().Get("/api/v1/products?q=sneak", {{"If-None-Match", etag}});
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(same.Header("ETag").value_or(""), etag);
  // A change in what the page shows changes the tag.
  ASSERT_EQ(Reserve(client(), ReserveRequest().Sku("b-red").User("alice")).status, 201);
  const HttpResponse changed = client().Get("/api/v1/products?q=sneak", {{"If-None-Match", etag}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.Header("ETag").value_or(""), etag);
}

TEST_F(ProductsListTest, EveryBadValueIs400NamingTheParameter) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"?limit=0", "limit"},
      {"?limit=101", "limit"},
      {"?limit=ten", "limit"},
      {"?q=" + std::string(129, 'a'), "q"},
      {"?q=caf%E9", "q"},  // Latin-1, not UTF-8
      {"?status=OPEN,LATE", "status"},
      {"?sort=newest", "sort"},
      {"?cursor=made-up", "cursor"},
      {"?min_price_cents=cheap", "min_price_cents"},
      {"?max_price_cents=-1", "max_price_cents"},
      {"?min_price_cents=500&max_price_cents=100", "min_price_cents"},
      {"?starts_after=tomorrow", "starts_after"},
      {"?starts_before=2026-13-01T00:00:00Z", "starts_before"},
      {"?q=%zz", "query string"},
  };
  for (const auto& [query, name] : cases) {
    const HttpResponse response = client().Get("/api/v1/products" + query);
    EXPECT_TRUE(IsError(response, 400, "INVALID_REQUEST")) << query;
    EXPECT_NE(response.body.find(name), std::string::npos) << query << ": " << response.body;
  }
  // A cursor of another sort is refused too.
  const std::string cursor = Page("?limit=1&sort=price").second;
  ASSERT_FALSE(cursor.empty());
  EXPECT_TRUE(IsError(client().Get("/api/v1/products?sort=-price&cursor=" + cursor), 400,
                      "INVALID_REQUEST"));
  EXPECT_EQ(AvailableUnits(client(), "b-red"), 100);  // nothing changed
}

// Product details: set at creation, changed by PATCH (only name and details: any other field
// is refused naming it, nothing changes), shown by every read, audited and searched at once.
TEST_F(ProductsListTest, DetailsAreSetPatchedAuditedAndSearched) {
  const HttpResponse created = client().Post(
      "/admin/v1/skus",
      R"({"sku_id":"e-trail","name":"Trail Runner","price_cents":100,"currency":"EUR",)"
      R"("total_stock":10,"description":"Light shoe for muddy paths","category":"Shoes",)"
      R"("tags":["running","trail"],"image_url":"https://img.example/t.png"})",
      AdminAuth());
  ASSERT_EQ(created.status, 201) << created.Describe();
  auto product = ParseJson(client().Get("/api/v1/products/e-trail").body);
  ASSERT_TRUE(product.has_value());
  EXPECT_EQ(StringField(*product, "description").value_or(""), "Light shoe for muddy paths");
  EXPECT_EQ(StringField(*product, "category").value_or(""), "Shoes");
  EXPECT_EQ((*product)["tags"].Size(), 2u);
  // A sale without details shows null and [].
  auto plain = ParseJson(client().Get("/api/v1/products/c-hood").body);
  ASSERT_TRUE(plain.has_value());
  EXPECT_TRUE((*plain)["description"].IsNull());
  EXPECT_TRUE((*plain)["tags"].IsArray() && (*plain)["tags"].Empty());

  EXPECT_EQ(Page("?q=muddy").first, std::vector<std::string>{"e-trail"});  // the description
  EXPECT_EQ(Page("?category=shoes&tag=trail").first, std::vector<std::string>{"e-trail"});

  for (const std::string& body : {std::string(R"({"price_cents":1})"),
                                  std::string(R"({"category":"Équipement","total_stock":5})")}) {
    const HttpResponse refused =
        client().Send({"PATCH", "/admin/v1/skus/e-trail", body, AdminAuth()});
    EXPECT_TRUE(IsError(refused, 400, "INVALID_REQUEST")) << body;
  }
  EXPECT_NE(client()
                .Send({"PATCH", "/admin/v1/skus/e-trail", R"({"sku_id":"x"})", AdminAuth()})
                .body.find("sku_id"),
            std::string::npos);
  EXPECT_TRUE(IsError(
      client().Send({"PATCH", "/admin/v1/skus/e-trail", R"({"tags":["Not Valid"]})", AdminAuth()}),
      400, "INVALID_REQUEST"));
  EXPECT_TRUE(
      IsError(client().Send({"PATCH", "/admin/v1/skus/e-trail",
                             R"json({"image_url":"javascript:alert(1)"})json", AdminAuth()}),
              400, "INVALID_REQUEST"));
  EXPECT_TRUE(IsError(client().Send({"PATCH", "/admin/v1/skus/nope", "{}", AdminAuth()}), 404,
                      "SKU_NOT_FOUND"));
  EXPECT_EQ(client().Send({"PATCH", "/admin/v1/skus/e-trail", "{}", {}}).status, 401);
  EXPECT_EQ(Page("?category=shoes").first, std::vector<std::string>{"e-trail"});  // unchanged

  const HttpResponse patched = client().Send(
      {"PATCH", "/admin/v1/skus/e-trail",
       R"({"category":"Équipement","tags":["run"],"description":null,"name":"Trail Racer"})",
       AdminAuth()});
  ASSERT_EQ(patched.status, 200) << patched.Describe();
  auto after = ParseJson(patched.body);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(StringField(*after, "name").value_or(""), "Trail Racer");
  EXPECT_TRUE((*after)["description"].IsNull());
  EXPECT_EQ(StringField(*after, "image_url").value_or(""), "https://img.example/t.png");
  EXPECT_EQ(AvailableUnits(client(), "e-trail"), 10);  // terms untouched
  EXPECT_EQ(Page("?q=equipement+racer").first, std::vector<std::string>{"e-trail"});
  EXPECT_TRUE(Page("?q=muddy").first.empty());
  EXPECT_TRUE(Page("?tag=trail").first.empty());
  const auto events = AuditEvents(client(), "sku_id=e-trail");
  int updates = 0;
  for (const auto& event : events) {
    if (StringField(event, "event_type").value_or("") != "SALE_UPDATED") continue;
    ++updates;
    EXPECT_NE(StringField(event, "metadata").value_or("").find("name,description,category,tags"),
              std::string::npos);
  }
  EXPECT_EQ(updates, 1);
  // The details survive a restart.
  ASSERT_TRUE(server_.Restart());
  Reconnect();
  EXPECT_EQ(Page("?q=equipement").first, std::vector<std::string>{"e-trail"});
}

}  // namespace
}  // namespace fs::itest
