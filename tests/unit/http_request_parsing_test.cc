// Goal: what clients send is validated before it reaches the engine. Table tests of the reserve
// body, the sale body, idempotency keys, bearer tokens and reservation ids: every malformed
// input is an InvalidArgument with a client-safe message, unknown fields are ignored, defaults
// apply only when a field is absent, and boundary values (1, kQuantityMax, 255-byte keys) pass.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/time_format.h"
#include "core/rules.h"
#include "http/admin_parsing.h"
#include "http/request_parsing.h"

namespace fs::http {
namespace {

struct BadCase {
  std::string name;
  std::string body;
  std::string message_part;  // expected in the error message
};

TEST(HttpRequestParsingTest, ReserveBodyDefaultsAndValidValues) {
  auto empty = ParseReserveBody("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->quantity, 1);
  EXPECT_FALSE(empty->sku_id.has_value());
  EXPECT_FALSE(empty->idempotency_key.has_value());

  auto object = ParseReserveBody(R"({"color":"red","nested":{"a":[1,{"b":null}]}})");
  ASSERT_TRUE(object.has_value());
  EXPECT_EQ(object->quantity, 1);

  auto max = ParseReserveBody(R"({"quantity":1000,"sku_id":"a.b-c_d","idempotency_key":"k"})");
  ASSERT_TRUE(max.has_value());
  EXPECT_EQ(max->quantity, core::kQuantityMax);
  EXPECT_EQ(max->sku_id, "a.b-c_d");
  EXPECT_EQ(max->idempotency_key, "k");

  auto nulls = ParseReserveBody(R"({"quantity":3,"sku_id":null,"idempotency_key":null})");
  ASSERT_TRUE(nulls.has_value());
  EXPECT_EQ(nulls->quantity, 3);
  EXPECT_FALSE(nulls->sku_id.has_value());
  EXPECT_FALSE(nulls->idempotency_key.has_value());
}

TEST(HttpRequestParsingTest, ReserveBodyRejectsMalformedInput) {
  const std::string range = "quantity must be an integer between 1 and 1000";
  const std::vector<BadCase> cases = {
      {"truncated", R"({"quantity":1)", "not valid JSON"},
      {"not json", "quantity=1", "not valid JSON"},
      {"trailing", R"({"quantity":1} x)", "not valid JSON"},
      {"invalid utf-8", "{\"quantity\":1,\"x\":\"\xff\"}", "not valid JSON"},
      {"nan", R"({"quantity":NaN})", "not valid JSON"},
      {"array", "[1]", "JSON object"},
      {"number", "1", "JSON object"},
      {"null", "null", "JSON object"},
      {"string", R"("x")", "JSON object"},
      {"zero", R"({"quantity":0})", range},
      {"negative", R"({"quantity":-1})", range},
      {"above max", R"({"quantity":1001})", range},
      {"beyond int32", R"({"quantity":4294967297})", range},
      {"beyond int64", R"({"quantity":99999999999999999999999})", range},
      {"float", R"({"quantity":1.5})", range},
      {"integral float", R"({"quantity":1.0})", range},
      {"exponent", R"({"quantity":1e2})", range},
      {"string quantity", R"({"quantity":"1"})", range},
      {"bool quantity", R"({"quantity":true})", range},
      {"null quantity", R"({"quantity":null})", range},
      {"object quantity", R"({"quantity":{}})", range},
      {"sku number", R"({"sku_id":5})", "sku_id must be a string"},
      {"sku empty", R"({"sku_id":""})", "sku_id must be 1-64"},
      {"sku slash", R"({"sku_id":"a/b"})", "sku_id must be 1-64"},
      {"sku too long", R"({"sku_id":")" + std::string(65, 's') + "\"}", "sku_id must be 1-64"},
      {"key number", R"({"idempotency_key":7})", "idempotency_key must be a string"},
      {"key empty", R"({"idempotency_key":""})", "1-255 bytes"},
      {"key too long", R"({"idempotency_key":")" + std::string(256, 'k') + "\"}", "1-255 bytes"},
      {"key control", R"({"idempotency_key":"a\u0007"})", "control characters"},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.name);
    auto parsed = ParseReserveBody(bad.body);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code(), base::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message().find(bad.message_part), std::string::npos)
        << parsed.error().message();
  }
}

// {"quantity":1,"quantity":999}: RapidJSON would read the first, another reader perhaps the
// last. Refused, at any depth, and the key is named.
TEST(HttpRequestParsingTest, DuplicateKeysAreRefused) {
  for (const char* body :
       {R"({"quantity":1,"quantity":999})", R"({"quantity":1,"x":{"a":1,"b":2,"a":3}})",
        R"({"quantity":1,"x":[{"k":1},{"k":2,"k":2}]})"}) {
    SCOPED_TRACE(body);
    auto parsed = ParseReserveBody(body);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code(), base::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message().find("more than once"), std::string::npos);
  }
  EXPECT_NE(ParseReserveBody(R"({"quantity":1,"quantity":2})").error().message().find("quantity"),
            std::string::npos);
  EXPECT_TRUE(ParseReserveBody(R"({"quantity":1,"x":[{"k":1},{"k":2}]})").has_value());
  EXPECT_FALSE(ParseStockBody(R"({"delta":1,"delta":-5})").has_value());
  EXPECT_TRUE(ParseStockBody(R"({"delta":1})").has_value());
}

TEST(HttpRequestParsingTest, DeeplyNestedJsonDoesNotExhaustTheStack) {
  // 16 KiB of '[' is the worst a client can send within the body limit.
  const std::string deep(16 * 1024, '[');
  EXPECT_FALSE(ParseReserveBody(deep).has_value());
  const std::string balanced = R"({"x":)" + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_TRUE(ParseReserveBody(balanced).has_value());
}

TEST(HttpRequestParsingTest, IdempotencyKeyFromHeaderOrBody) {
  EXPECT_EQ(*ResolveIdempotencyKey(std::nullopt, std::nullopt), "");
  EXPECT_EQ(*ResolveIdempotencyKey(std::string_view("h"), std::nullopt), "h");
  EXPECT_EQ(*ResolveIdempotencyKey(std::nullopt, std::string("b")), "b");
  EXPECT_EQ(*ResolveIdempotencyKey(std::string_view("same"), std::string("same")), "same");
  EXPECT_FALSE(ResolveIdempotencyKey(std::string_view("a"), std::string("b")).has_value());
  EXPECT_FALSE(ResolveIdempotencyKey(std::string_view(""), std::nullopt).has_value());
  const std::string longest(core::kIdempotencyKeyBytesMax, 'k');
  EXPECT_TRUE(ResolveIdempotencyKey(std::string_view(longest), std::nullopt).has_value());
  const std::string too_long(core::kIdempotencyKeyBytesMax + 1, 'k');
  EXPECT_FALSE(ResolveIdempotencyKey(std::string_view(too_long), std::nullopt).has_value());
}

// Keys are stored by both stores and the audit trail: visible ASCII only, so no byte a
// database refuses as text (0xFF, Latin-1) can reach a batch.
TEST(HttpRequestParsingTest, IdempotencyKeyCharacters) {
  EXPECT_TRUE(ValidateIdempotencyKey("order-123_retry#2!~", "Idempotency-Key").ok());
  for (const std::string& bad :
       {std::string("a\tb"), std::string("a\nb"), std::string("a\x7f"), std::string("a\0b", 3),
        std::string(), std::string("a b"), std::string("\xff"), std::string("caf\xe9"),
        std::string("caf\xc3\xa9"), std::string("\x80")}) {
    const base::Status status = ValidateIdempotencyKey(bad, "Idempotency-Key");
    EXPECT_EQ(status.code(), base::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("Idempotency-Key"), std::string::npos) << status.message();
  }
  // The body field is named as the body names it.
  auto parsed = ParseReserveBody(R"({"idempotency_key":"caf\u00e9"})");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_NE(parsed.error().message().find("idempotency_key"), std::string::npos);
}

const std::string kValidSale =
    R"({"sku_id":"cap","name":"Cap","price_cents":100,"currency":"EUR","total_stock":5)";

TEST(HttpRequestParsingTest, SaleBodyWithDefaultsAndTimes) {
  auto minimal = ParseSaleBody(kValidSale + "}");
  ASSERT_TRUE(minimal.has_value()) << minimal.error().message();
  EXPECT_EQ(minimal->sku_id, "cap");
  EXPECT_EQ(minimal->name, "Cap");
  EXPECT_EQ(minimal->price_cents, 100);
  EXPECT_EQ(minimal->currency, "EUR");
  EXPECT_EQ(minimal->total_stock, 5);
  EXPECT_EQ(minimal->per_user_limit, core::kDefaultPerUserLimit);
  EXPECT_EQ(minimal->reservation_ttl_seconds, core::kDefaultReservationTtlSeconds);
  EXPECT_FALSE(minimal->starts_at.has_value());
  EXPECT_FALSE(minimal->ends_at.has_value());

  auto full =
      ParseSaleBody(kValidSale + R"(,"per_user_limit":3,"reservation_ttl_seconds":60,)"
                                 R"("starts_at":"2030-01-01T10:00:00+02:00","ends_at":null,)"
                                 R"("status":"WHATEVER","created_at":5,"extra":[1]})");
  ASSERT_TRUE(full.has_value()) << full.error().message();
  EXPECT_EQ(full->per_user_limit, 3);
  EXPECT_EQ(full->reservation_ttl_seconds, 60);
  ASSERT_TRUE(full->starts_at.has_value());
  EXPECT_EQ(base::FormatRfc3339(*full->starts_at), "2030-01-01T08:00:00.000Z");
  EXPECT_FALSE(full->ends_at.has_value());
}

TEST(HttpRequestParsingTest, SaleBodyRejectsInvalidDefinitions) {
  const std::string tail = R"("name":"Cap","price_cents":100,"currency":"EUR","total_stock":5)";
  const std::vector<BadCase> cases = {
      {"malformed", R"({"sku_id":"x",)", "not valid JSON"},
      {"array", "[]", "JSON object"},
      {"missing sku", "{" + tail + "}", "sku_id is required"},
      {"missing name", R"({"sku_id":"x","price_cents":1,"currency":"EUR","total_stock":5})",
       "name is required"},
      {"missing price", R"({"sku_id":"x","name":"n","currency":"EUR","total_stock":5})",
       "price_cents is required"},
      {"missing stock", R"({"sku_id":"x","name":"n","price_cents":1,"currency":"EUR"})",
       "total_stock is required"},
      {"sku space", R"({"sku_id":"a b",)" + tail + "}", "sku_id"},
      {"sku number", R"({"sku_id":12,)" + tail + "}", "sku_id must be a string"},
      {"price string",
       R"({"sku_id":"x","name":"n","price_cents":"1","currency":"EUR",)"
       R"("total_stock":5})",
       "price_cents must be an integer"},
      {"price float",
       R"({"sku_id":"x","name":"n","price_cents":1.5,"currency":"EUR",)"
       R"("total_stock":5})",
       "price_cents must be an integer"},
      {"negative stock",
       R"({"sku_id":"x","name":"n","price_cents":1,"currency":"EUR",)"
       R"("total_stock":-1})",
       "total_stock"},
      {"lower currency",
       R"({"sku_id":"x","name":"n","price_cents":1,"currency":"eur",)"
       R"("total_stock":1})",
       "currency"},
      {"limit zero", kValidSale + R"(,"per_user_limit":0})", "per_user_limit"},
      {"limit beyond int32", kValidSale + R"(,"per_user_limit":4294967297})", "per_user_limit"},
      {"ttl zero", kValidSale + R"(,"reservation_ttl_seconds":0})", "reservation_ttl_seconds"},
      {"ttl string", kValidSale + R"(,"reservation_ttl_seconds":"60"})", "must be an integer"},
      {"starts not a date", kValidSale + R"(,"starts_at":"tomorrow"})", "starts_at must be"},
      {"starts number", kValidSale + R"(,"starts_at":1700000000})", "starts_at must be a string"},
      {"ends before starts",
       kValidSale + R"(,"starts_at":"2030-01-02T00:00:00Z",)"
                    R"("ends_at":"2030-01-01T00:00:00Z"})",
       "ends_at must be after"},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.name);
    auto parsed = ParseSaleBody(bad.body);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code(), base::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message().find(bad.message_part), std::string::npos)
        << parsed.error().message();
  }
}

TEST(HttpRequestParsingTest, BearerToken) {
  EXPECT_EQ(BearerToken(std::string_view("Bearer abc")), "abc");
  EXPECT_EQ(BearerToken(std::string_view("bearer abc")), "abc");
  EXPECT_EQ(BearerToken(std::string_view("BEARER   abc  ")), "abc");
  EXPECT_FALSE(BearerToken(std::nullopt).has_value());
  EXPECT_FALSE(BearerToken(std::string_view("")).has_value());
  EXPECT_FALSE(BearerToken(std::string_view("Bearer")).has_value());
  EXPECT_FALSE(BearerToken(std::string_view("Bearer ")).has_value());
  EXPECT_FALSE(BearerToken(std::string_view("Bearer    ")).has_value());
  EXPECT_FALSE(BearerToken(std::string_view("Basic dXNlcjpwYXNz")).has_value());
  EXPECT_FALSE(BearerToken(std::string_view("Bearerabc")).has_value());
}

TEST(HttpRequestParsingTest, ReservationIds) {
  EXPECT_TRUE(IsPlausibleReservationId("6f1c8a2e-0b7d-4c1e-9a55-0d5a8e2b1c3f"));
  EXPECT_TRUE(IsPlausibleReservationId(std::string(kReservationIdBytesMax, 'a')));
  EXPECT_FALSE(IsPlausibleReservationId(std::string(kReservationIdBytesMax + 1, 'a')));
  EXPECT_FALSE(IsPlausibleReservationId(""));
  EXPECT_FALSE(IsPlausibleReservationId("a b"));
  EXPECT_FALSE(IsPlausibleReservationId("a\x01"));
  EXPECT_FALSE(IsPlausibleReservationId("\xc3\xa9"));
}

}  // namespace
}  // namespace fs::http
