// Goal: user authentication refuses every bad bearer token with 401 UNAUTHENTICATED and the
// error shape, before anything is reserved: a missing or non-Bearer header, garbage, alg
// "none" and other algorithms (a downgrade attempt), a wrong signature, an expired or missing
// exp, and a missing or empty sub. A valid token on the same server works, so the refusals are
// the server's judgement and not a misconfigured test.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::system_clock;

class AuthTest : public ServerTest {};

std::int64_t UnixSeconds(system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

struct BadAuthCase {
  std::string name;
  std::optional<std::string> authorization;  // nullopt: no header at all
};

std::vector<BadAuthCase> BadAuthCases() {
  const std::string hs256 = R"({"alg":"HS256","typ":"JWT"})";
  const std::int64_t future = UnixSeconds(system_clock::now() + std::chrono::hours(1));
  const std::int64_t past = UnixSeconds(system_clock::now() - std::chrono::hours(1));
  const std::string good_payload = R"({"sub":"mallory","exp":)" + std::to_string(future) + "}";
  const std::string valid = MintToken("mallory");
  // Over the 4 KiB token limit, under the 8 KiB header limit: refused as a token.
  const std::string long_token = CraftToken(
      hs256, R"({"sub":")" + std::string(4200, 'a') + R"(","exp":)" + std::to_string(future) + "}",
      kJwtSecret);

  // The valid token's header and signature around a payload that claims another user.
  const std::string admin_payload =
      CraftToken(hs256, R"({"sub":"admin","exp":)" + std::to_string(future) + "}", "");
  const std::string tampered =
      valid.substr(0, valid.find('.')) +
      admin_payload.substr(admin_payload.find('.'),
                           admin_payload.rfind('.') - admin_payload.find('.')) +
      valid.substr(valid.rfind('.'));

  return {
      {"no header", std::nullopt},
      {"empty header", ""},
      {"basic scheme", "Basic bWFsbG9yeTpwYXNzd29yZA=="},
      {"token without scheme", valid},
      {"bearer without token", "Bearer "},
      {"bearer garbage", "Bearer garbage"},
      {"two parts", "Bearer " + valid.substr(0, valid.rfind('.'))},
      {"four parts", "Bearer " + valid + ".x"},
      {"base64 of non-json", "Bearer bm90IGpzb24.bm90IGpzb24.c2ln"},
      {"alg none, empty signature",
       "Bearer " + CraftToken(R"({"alg":"none","typ":"JWT"})", good_payload, "")},
      {"alg None, empty signature",
       "Bearer " + CraftToken(R"({"alg":"None","typ":"JWT"})", good_payload, "")},
      {"alg none with an HS256 signature",
       "Bearer " + CraftToken(R"({"alg":"none","typ":"JWT"})", good_payload, kJwtSecret)},
      {"alg HS512 (signed with the HS256 key)",
       "Bearer " + CraftToken(R"({"alg":"HS512","typ":"JWT"})", good_payload, kJwtSecret)},
      {"alg RS256 (signed with the HS256 key)",
       "Bearer " + CraftToken(R"({"alg":"RS256","typ":"JWT"})", good_payload, kJwtSecret)},
      {"no alg", "Bearer " + CraftToken(R"({"typ":"JWT"})", good_payload, kJwtSecret)},
      {"wrong secret", "Bearer " + CraftToken(hs256, good_payload, "not-the-secret")},
      {"tampered payload", "Bearer " + tampered},
      {"expired",
       "Bearer " + CraftToken(hs256, R"({"sub":"mallory","exp":)" + std::to_string(past) + "}",
                              kJwtSecret)},
      {"missing exp", "Bearer " + CraftToken(hs256, R"({"sub":"mallory"})", kJwtSecret)},
      {"exp as string",
       "Bearer " + CraftToken(hs256, R"({"sub":"mallory","exp":")" + std::to_string(future) + "\"}",
                              kJwtSecret)},
      {"missing sub",
       "Bearer " + CraftToken(hs256, R"({"exp":)" + std::to_string(future) + "}", kJwtSecret)},
      {"empty sub",
       "Bearer " +
           CraftToken(hs256, R"({"sub":"","exp":)" + std::to_string(future) + "}", kJwtSecret)},
      {"numeric sub",
       "Bearer " +
           CraftToken(hs256, R"({"sub":42,"exp":)" + std::to_string(future) + "}", kJwtSecret)},
      {"payload is an array", "Bearer " + CraftToken(hs256, "[1,2]", kJwtSecret)},
      {"oversized token", "Bearer " + long_token},
      {"the admin token", std::string("Bearer ") + kAdminToken},
  };
}

TEST_F(AuthTest, BadTokensAreRefusedAndReserveNothing) {
  SaleSpec sale;
  sale.sku_id = "guarded";
  sale.total_stock = 5;
  ASSERT_TRUE(CreateSaleOk(client(), sale));

  for (const BadAuthCase& bad : BadAuthCases()) {
    SCOPED_TRACE(bad.name);
    HttpHeaders headers;
    if (bad.authorization) headers.push_back({"Authorization", *bad.authorization});
    EXPECT_TRUE(
        IsError(client().Post("/api/v1/products/guarded/reserve", R"({"quantity":1})", headers),
                401, "UNAUTHENTICATED"));
    EXPECT_TRUE(
        IsError(client().Post("/api/v1/reserve", R"({"sku_id":"guarded","quantity":1})", headers),
                401, "UNAUTHENTICATED"));
    EXPECT_TRUE(
        IsError(client().Get("/api/v1/reservations/some-id", headers), 401, "UNAUTHENTICATED"));
    EXPECT_TRUE(
        IsError(client().Delete("/api/v1/reservations/some-id", headers), 401, "UNAUTHENTICATED"));
  }

  EXPECT_EQ(AvailableUnits(client(), "guarded"), 5);
  const auto counters = GetAdminCounters(client(), "guarded");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->reserved, 0);
  const SkuSnapshot rows = ReadSku("guarded");
  EXPECT_TRUE(rows.sku_found);
  EXPECT_EQ(rows.held, 0);
  EXPECT_TRUE(rows.rows.empty());

  // The same server accepts a valid token: the refusals above were about the tokens.
  const HttpResponse valid = Reserve(client(), ReserveRequest().Sku("guarded").User("mallory"));
  ASSERT_EQ(valid.status, 201) << valid.Describe();
  const auto reservation = ParseReservation(valid.body);
  ASSERT_TRUE(reservation);
  EXPECT_EQ(reservation->user_id, "mallory");
  EXPECT_EQ(AvailableUnits(client(), "guarded"), 4);
}

TEST_F(AuthTest, SubjectIsTheUserId) {
  SaleSpec sale;
  sale.sku_id = "subject";
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  // Characters JSON must escape, and non-ASCII text, survive the round trip.
  const std::string user = "user:42@example.com \"quoted\" back\\slash \xc3\xa9\xe2\x82\xac";
  const HttpResponse reserved = Reserve(client(), ReserveRequest().Sku("subject").User(user));
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  const auto reservation = ParseReservation(reserved.body);
  ASSERT_TRUE(reservation);
  EXPECT_EQ(reservation->user_id, user);
  const SkuSnapshot rows = ReadSku("subject");
  ASSERT_TRUE(rows.rows.contains(reservation->reservation_id));
  EXPECT_EQ(rows.rows.at(reservation->reservation_id).user_id, user);
  const HttpResponse read = GetReservation(client(), reservation->reservation_id, user);
  ASSERT_EQ(read.status, 200) << read.Describe();
  EXPECT_EQ(ParseReservation(read.body).value_or(ReservationBody{}).user_id, user);
}

}  // namespace
}  // namespace fs::itest
