// Goal: the web pages through the real server: the storefront, a sale's page and the console
// are HTML built into the binary with a strict Content-Security-Policy and an ETag (304 on
// If-None-Match); their files carry the right type; an unknown file is a JSON 404; /admin
// redirects to /admin/; the demo sign-in exists only with --demo and signs a token the API
// accepts for the user asked for.
#include <gtest/gtest.h>

#include <string>

#include "support/server_test.h"

namespace fs::itest {
namespace {

using PagesTest = ServerTest;

TEST_F(PagesTest, PagesAreHtmlWithAStrictPolicyAndRevalidate) {
  for (const std::string path : {"/", "/sales/demo-sku", "/sales/any-sku-at-all", "/admin/"}) {
    const HttpResponse page = client().Get(path);
    ASSERT_EQ(page.status, 200) << path << ": " << page.Describe();
    EXPECT_EQ(page.Header("Content-Type").value_or(""), "text/html; charset=utf-8") << path;
    EXPECT_NE(page.body.find("<!doctype html>"), std::string::npos) << path;
    const std::string policy = page.Header("Content-Security-Policy").value_or("");
    EXPECT_NE(policy.find("default-src 'self'"), std::string::npos) << path;
    EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos) << path;
    EXPECT_EQ(page.Header("X-Content-Type-Options").value_or(""), "nosniff") << path;
    EXPECT_EQ(page.Header("Cache-Control").value_or(""), "no-cache") << path;
    const std::string etag = page.Header("ETag").value_or("");
    ASSERT_FALSE(etag.empty()) << path;
    const HttpResponse again = client().Get(path, {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304) << path;
    EXPECT_TRUE(again.body.empty()) << path;
    EXPECT_EQ(client().Get(path, {{"If-None-Match", "\"other\""}}).status, 200) << path;
  }
  // The two sale pages are one file: the page reads its SKU from its own address.
  EXPECT_EQ(client().Get("/sales/a").body, client().Get("/sales/b").body);
  EXPECT_NE(client().Get("/").body, client().Get("/admin/").body);
}

TEST_F(PagesTest, FilesCarryTheirTypeAndUnknownOnesAreJson404) {
  const HttpResponse css = client().Get("/assets/app.css");
  ASSERT_EQ(css.status, 200) << css.Describe();
  EXPECT_EQ(css.Header("Content-Type").value_or(""), "text/css; charset=utf-8");
  EXPECT_FALSE(css.body.empty());
  for (const std::string path :
       {"/assets/nope.css", "/assets/app", "/assets/..%2Findex.html", "/assets/app.css.bak"}) {
    EXPECT_TRUE(IsError(client().Get(path), 404, "NOT_FOUND")) << path;
  }
  EXPECT_TRUE(IsError(client().Get("/assets/a/b.css"), 404, "NOT_FOUND"));
  EXPECT_TRUE(IsError(client().Get("/index.html"), 404, "NOT_FOUND"));
}

TEST_F(PagesTest, TheConsoleAddressWithoutASlashRedirects) {
  const HttpResponse redirect = client().Get("/admin");
  EXPECT_EQ(redirect.status, 308) << redirect.Describe();
  EXPECT_EQ(redirect.Header("Location").value_or(""), "/admin/");
}

TEST_F(PagesTest, TheDemoSignInDoesNotExistWithoutDemo) {
  EXPECT_TRUE(
      IsError(client().Post("/demo/v1/token", R"({"user_id":"mallory"})"), 404, "NOT_FOUND"));
}

ServerOptions DemoOptions() {
  ServerOptions options;
  options.extra_args = {"--demo"};
  return options;
}

class DemoPagesTest : public ServerTest {
 protected:
  DemoPagesTest() : ServerTest(DemoOptions()) {}
};

TEST_F(DemoPagesTest, TheDemoSignInSignsATokenTheApiAccepts) {
  const HttpResponse signed_in = client().Post("/demo/v1/token", R"({"user_id":"buyer-7"})");
  ASSERT_EQ(signed_in.status, 200) << signed_in.Describe();
  auto json = ParseJson(signed_in.body);
  ASSERT_TRUE(json && json->IsObject()) << signed_in.body;
  EXPECT_EQ(StringField(*json, "user_id").value_or(""), "buyer-7");
  EXPECT_TRUE(StringField(*json, "expires_at").has_value());
  const std::string token = StringField(*json, "token").value_or("");
  ASSERT_FALSE(token.empty());
  const HttpResponse reserved =
      client().Post("/api/v1/products/demo-sku/reserve", R"({"quantity":1})",
                    {{"Authorization", "Bearer " + token}, {"Idempotency-Key", "demo-page-1"}});
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  auto reservation = ParseJson(reserved.body);
  ASSERT_TRUE(reservation && reservation->IsObject());
  EXPECT_EQ(StringField(*reservation, "user_id").value_or(""), "buyer-7");

  for (const std::string body :
       {R"({"user_id":""})", R"({})", R"({"user_id":7})", "not json", R"({"user_id":"a\nb"})"}) {
    EXPECT_TRUE(IsError(client().Post("/demo/v1/token", body), 400, "INVALID_REQUEST")) << body;
  }
}

}  // namespace
}  // namespace fs::itest
