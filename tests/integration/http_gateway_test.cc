// Goal: --payment-gateway=http charges exactly once per order. A fake Stripe-style gateway
// (support/fake_gateway.h) answers 500 and stalls past the server's timeout after charging;
// the server retries with the order id as Idempotency-Key until it hears the answer, and a
// kill -9 while a charge is in flight is followed by a retry with the same key after restart.
// Either way every paid order was charged exactly once, and a 402 fails the order with the
// gateway's decline code.

#include <gtest/gtest.h>

#include <thread>

#include "support/fake_gateway.h"
#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr char kSku[] = "gw";

ServerOptions HttpGatewayOptions(const FakeGateway& gateway, std::string timeout_ms) {
  ServerOptions options;
  options.extra_args = {"--payment-gateway",        "http",
                        "--payment-gateway-url",    gateway.url(),
                        "--payment-timeout-ms",     std::move(timeout_ms),
                        "--payment-retry-schedule", "20ms,40ms,80ms"};
  return options;
}

std::string Field(const HttpResponse& response, const char* name) {
  auto json = ParseJson(response.body);
  if (!json || !json->IsObject()) return "";
  return StringField(*json, name).value_or("");
}

class HttpGatewayTest : public ::testing::Test {
 protected:
  HttpGatewayTest(FakeGatewayOptions gateway_options, std::string timeout_ms)
      : gateway_(gateway_options), server_(HttpGatewayOptions(gateway_, std::move(timeout_ms))) {}

  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    client_ = std::make_unique<HttpClient>(server_.port());
    SaleSpec sale;
    sale.sku_id = kSku;
    sale.total_stock = 20;
    ASSERT_TRUE(CreateSaleOk(*client_, sale));
  }

  std::string CheckoutNew(const std::string& user, const std::string& method) {
    const HttpResponse reserved = Reserve(*client_, ReserveRequest().Sku(kSku).User(user));
    EXPECT_EQ(reserved.status, 201) << reserved.Describe();
    const std::string body = "{\"reservation_id\":" + JsonQuote(Field(reserved, "reservation_id")) +
                             ",\"payment_method_id\":" + JsonQuote(method) + "}";
    const HttpResponse response = client_->Post("/api/v1/checkout", body, UserAuth(user));
    EXPECT_EQ(response.status, 202) << response.Describe();
    return Field(response, "order_id");
  }

  HttpResponse WaitSettled(const std::string& order_id, const std::string& user) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    HttpResponse response;
    while (std::chrono::steady_clock::now() < deadline) {
      response = client_->Get("/api/v1/orders/" + order_id, UserAuth(user));
      if (response.status != 200 || Field(response, "status") != "PENDING") return response;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "order " << order_id << " still PENDING";
    return response;
  }

  FakeGateway gateway_;  // before server_: the server's flags name its port
  ServerProcess server_;
  std::unique_ptr<HttpClient> client_;
};

class RetryingGatewayTest : public HttpGatewayTest {
 protected:
  // First request of each key: 500. Second: charged, but the answer comes after 600 ms while
  // the server gives up after 150 ms. Third: the recorded answer again, no new charge.
  RetryingGatewayTest() : HttpGatewayTest({1, 1, std::chrono::milliseconds(600)}, "150") {}
};

TEST_F(RetryingGatewayTest, EveryPaidOrderIsChargedExactlyOnceAcrossRetries) {
  std::vector<std::pair<std::string, std::string>> paid;  // (order, user)
  for (int i = 0; i < 3; ++i) {
    const std::string user = "buyer-" + std::to_string(i);
    paid.emplace_back(CheckoutNew(user, "pm_card_visa"), user);
  }
  const std::string declined = CheckoutNew("dora", "pm_card_chargeDeclined");
  for (const auto& [order_id, user] : paid) {
    EXPECT_EQ(Field(WaitSettled(order_id, user), "status"), "PAID");
  }
  const HttpResponse failed = WaitSettled(declined, "dora");
  EXPECT_EQ(Field(failed, "status"), "FAILED");
  EXPECT_EQ(Field(failed, "failure_reason"), "insufficient_funds");

  const auto charges = gateway_.ChargesByKey();
  const auto requests = gateway_.RequestsByKey();
  for (const auto& [order_id, user] : paid) {
    EXPECT_EQ(charges.count(order_id) == 1 ? charges.at(order_id) : 0, 1) << order_id;
    // 500, a timeout, then the answer: the retries really happened, with the same key.
    EXPECT_GE(requests.count(order_id) == 1 ? requests.at(order_id) : 0, 3) << order_id;
  }
  EXPECT_EQ(charges.count(declined), 0u);
  EXPECT_EQ(gateway_.malformed_count(), 0);
  EXPECT_EQ(GetAdminCounters(*client_, kSku)->sold, 3);
}

class StallingGatewayTest : public HttpGatewayTest {
 protected:
  // The first request of each key is charged and answered only after 1.5 s (within the
  // server's 5 s timeout): time to kill the server while it waits.
  StallingGatewayTest() : HttpGatewayTest({0, 1, std::chrono::milliseconds(1500)}, "5000") {}
};

TEST_F(StallingGatewayTest, AKill9DuringAChargeNeverChargesTwice) {
  const std::string order_id = CheckoutNew("alice", "pm_card_visa");
  // Wait until the gateway has the request (and has charged): then the server dies.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gateway_.ChargesByKey().count(order_id) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(gateway_.ChargesByKey().count(order_id), 1u);
  server_.Kill9();
  ASSERT_TRUE(server_.Start());
  client_ = std::make_unique<HttpClient>(server_.port());
  EXPECT_EQ(Field(WaitSettled(order_id, "alice"), "status"), "PAID");
  EXPECT_EQ(gateway_.ChargesByKey().at(order_id), 1);
  EXPECT_EQ(gateway_.RequestsByKey().at(order_id), 2);  // the lost call, then the retry
  EXPECT_EQ(GetAdminCounters(*client_, kSku)->sold, 1);
}

}  // namespace
}  // namespace fs::itest
