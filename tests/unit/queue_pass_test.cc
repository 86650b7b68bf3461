// Goal: queue passes are unforgeable and carry exactly what they were signed for: a signed
// pass verifies to its ticket, user, sale and expiry; a changed byte anywhere, another key, a
// wrong prefix, garbage or an oversized text is unverifiable; header and body passes must
// agree; a sale body's waiting_room flag is parsed strictly.
#include "auth/queue_pass.h"

#include <gtest/gtest.h>

#include "http/request_parsing.h"

namespace fs::auth {
namespace {

core::QueueTicket Ticket() {
  core::QueueTicket ticket;
  ticket.ticket_id = "3f2b9c1e-8a41-4d2e-9b7a-0c5d6e7f8a9b";
  ticket.sku_id = "sneaker-2026";
  ticket.user_id = "alice|with\tspecial chars";
  ticket.pass_expires_at = base::TimeFromMillis(1'800'000'060'000);
  return ticket;
}

TEST(QueuePassTest, ASignedPassVerifiesToItsClaims) {
  const std::string key = QueuePassKey("jwt-secret");
  const std::string pass = SignQueuePass(Ticket(), key);
  const core::PresentedPass verified = VerifyQueuePass(pass, key);
  ASSERT_EQ(verified.kind, core::PresentedPass::Kind::kSigned);
  EXPECT_EQ(verified.ticket_id, Ticket().ticket_id);
  EXPECT_EQ(verified.sku_id, Ticket().sku_id);
  EXPECT_EQ(verified.user_id, Ticket().user_id);
  EXPECT_EQ(verified.expires_at, *Ticket().pass_expires_at);
  EXPECT_EQ(pass, SignQueuePass(Ticket(), key));  // deterministic: every GET shows the same
}

TEST(QueuePassTest, AnythingElseIsUnverifiable) {
  const std::string key = QueuePassKey("jwt-secret");
  const std::string pass = SignQueuePass(Ticket(), key);
  const auto unverifiable = core::PresentedPass::Kind::kUnverifiable;
  for (std::size_t i = 0; i < pass.size(); ++i) {
    std::string changed = pass;
    changed[i] = changed[i] == 'x' ? 'y' : 'x';
    EXPECT_EQ(VerifyQueuePass(changed, key).kind, unverifiable) << "byte " << i;
  }
  EXPECT_EQ(VerifyQueuePass(pass, QueuePassKey("other-secret")).kind, unverifiable);
  EXPECT_EQ(VerifyQueuePass(pass, "jwt-secret").kind, unverifiable);  // not the JWT key itself
  EXPECT_EQ(VerifyQueuePass("", key).kind, unverifiable);
  EXPECT_EQ(VerifyQueuePass("qp1.", key).kind, unverifiable);
  EXPECT_EQ(VerifyQueuePass("qp1..", key).kind, unverifiable);
  EXPECT_EQ(VerifyQueuePass(pass.substr(1), key).kind, unverifiable);
  EXPECT_EQ(VerifyQueuePass(pass + std::string(2000, 'A'), key).kind, unverifiable);
}

TEST(QueuePassTest, HeaderAndBodyPassesMustAgree) {
  EXPECT_FALSE(http::ResolveQueuePass(std::nullopt, std::nullopt).value().has_value());
  EXPECT_EQ(http::ResolveQueuePass("a", std::nullopt).value(), "a");
  EXPECT_EQ(http::ResolveQueuePass(std::nullopt, std::string("b")).value(), "b");
  EXPECT_EQ(http::ResolveQueuePass("a", std::string("a")).value(), "a");
  EXPECT_FALSE(http::ResolveQueuePass("a", std::string("b")).has_value());
  EXPECT_FALSE(http::ParseReserveBody(R"({"queue_pass":1})").has_value());
  EXPECT_EQ(http::ParseReserveBody(R"({"queue_pass":"p"})")->queue_pass, "p");
}

TEST(QueuePassTest, SaleBodiesParseTheWaitingRoomFlag) {
  const std::string base =
      R"({"sku_id":"s","name":"n","price_cents":1,"currency":"EUR","total_stock":1)";
  EXPECT_EQ(http::ParseSaleBody(base + "}")->waiting_room, core::WaitingRoomMode::kOff);
  EXPECT_EQ(http::ParseSaleBody(base + R"(,"waiting_room":true})")->waiting_room,
            core::WaitingRoomMode::kOn);
  EXPECT_EQ(http::ParseSaleBody(base + R"(,"waiting_room":false})")->waiting_room,
            core::WaitingRoomMode::kOff);
  EXPECT_FALSE(http::ParseSaleBody(base + R"(,"waiting_room":"yes"})").has_value());
  EXPECT_FALSE(http::ParseSaleBody(base + R"(,"waiting_room":1})").has_value());
}

}  // namespace
}  // namespace fs::auth
