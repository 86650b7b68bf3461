// Goal: the Stripe-style gateway through the real server and a real HTTPS endpoint. A fake
// gateway behind a TLS terminator (HAProxy) with a certificate from a CA the test makes:
// with that CA trusted (--tls-ca-file) an order is paid and the API key arrives as a bearer
// token; without it the certificate does not verify, the call is refused and retried and the
// order is never paid. Over plain HTTP, the PaymentIntent's status decides: processing is asked
// again (the retry's POST replays the first answer, a GET of the intent tells) until it
// succeeds, requires_payment_method fails the order with the provider's reason,
// requires_action never settles and ends NEEDS_ATTENTION; a 429's Retry-After is waited for.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "common/temp_dir.h"
#include "support/fake_gateway.h"
#include "support/haproxy_server.h"
#include "support/server_test.h"
#include "support/tls_certificates.h"

namespace fs::itest {
namespace {

constexpr char kSku[] = "gw-sku";
constexpr char kApiKey[] = "sk_test_0123456789abcdef";

ServerOptions GatewayServer(const std::string& url, const std::vector<std::string>& extra) {
  ServerOptions options;
  options.extra_args = {
      "--payment-gateway",        "http",           "--payment-gateway-url", url,
      "--payment-retry-schedule", "30ms,30ms,30ms", "--payment-timeout-ms",  "2000"};
  options.extra_args.insert(options.extra_args.end(), extra.begin(), extra.end());
  return options;
}

// Reserves and checks out one unit for `user` with `card`; returns the order id.
std::string Order(HttpClient& http, const std::string& user, const std::string& card) {
  const HttpResponse reserved = Reserve(http, ReserveRequest().Sku(kSku).User(user));
  EXPECT_EQ(reserved.status, 201) << reserved.Describe();
  const std::string body =
      "{\"reservation_id\":" + JsonQuote(BodyField(reserved, "reservation_id")) +
      ",\"payment_method_id\":" + JsonQuote(card) + "}";
  const HttpResponse order = http.Post("/api/v1/checkout", body, UserAuth(user));
  EXPECT_EQ(order.status, 202) << order.Describe();
  return BodyField(order, "order_id");
}

// The order once it left PENDING (held reads), or PENDING after `bound`.
HttpResponse Settled(HttpClient& http, const std::string& id, const std::string& user,
                     std::chrono::seconds bound = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  HttpResponse read;
  do {
    read = http.Get("/api/v1/orders/" + id + "?wait_seconds=2", UserAuth(user));
  } while (read.status == 200 && BodyField(read, "status") == "PENDING" &&
           std::chrono::steady_clock::now() < deadline);
  return read;
}

class HttpsGatewayTest : public ::testing::Test {
 protected:
  ~HttpsGatewayTest() override {
    tls_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void SetUp() override {
    ASSERT_TRUE(MakeCertificates(dir_, certificates_));
    HaproxyOptions options;
    options.health_checks = false;
    options.tls_certificate = certificates_.server.string();
    std::string error;
    tls_ = HaproxyServer::Create({fake_.port()}, error, options);
    ASSERT_NE(tls_, nullptr) << error;
    std::ofstream(dir_ / "api.key") << kApiKey << "\n";
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(tls_->port()); }

  // Starts `server` and creates the sale on it.
  static ::testing::AssertionResult StartWithSale(ServerProcess& server) {
    ::testing::AssertionResult started = server.Start();
    if (!started) return started;
    HttpClient http(server.port());
    SaleSpec sale;
    sale.sku_id = kSku;
    return CreateSaleOk(http, sale);
  }

  const std::filesystem::path dir_ = test_common::MakeTempDirOrAbort("flashsale-tls");
  Certificates certificates_;
  FakeGateway fake_{FakeGatewayOptions{}};
  std::unique_ptr<HaproxyServer> tls_;
};

TEST_F(HttpsGatewayTest, ATrustedCertificatePaysWithTheApiKey) {
  ServerProcess server(
      GatewayServer(url(), {"--tls-ca-file", certificates_.ca.string(),
                            "--payment-gateway-key-file", (dir_ / "api.key").string()}));
  ASSERT_TRUE(StartWithSale(server));
  HttpClient http(server.port());
  const std::string id = Order(http, "alice", "pm_card_visa");
  const HttpResponse paid = Settled(http, id, "alice");
  EXPECT_EQ(BodyField(paid, "status"), "PAID") << paid.Describe() << server.StderrLog();
  EXPECT_EQ(fake_.ChargesByKey().size(), 1u);
  EXPECT_EQ(fake_.last_authorization(), std::string("Bearer ") + kApiKey);
  EXPECT_TRUE(server.Stop());
}

TEST_F(HttpsGatewayTest, AnUntrustedCertificateIsRefusedRetriedAndNeverPaid) {
  ServerProcess server(GatewayServer(url(), {}));  // the system's CAs do not know the test CA
  ASSERT_TRUE(StartWithSale(server));
  HttpClient http(server.port());
  const std::string id = Order(http, "bob", "pm_card_visa");
  const HttpResponse settled = Settled(http, id, "bob");
  // Every attempt failed before a byte reached the gateway: retried, then left to an operator.
  EXPECT_EQ(BodyField(settled, "status"), "NEEDS_ATTENTION") << settled.Describe();
  EXPECT_TRUE(fake_.ChargesByKey().empty());
  EXPECT_TRUE(fake_.RequestsByKey().empty());
  EXPECT_TRUE(server.WaitForStderr("certificate")) << server.StderrLog();
  EXPECT_TRUE(server.Stop());
}

// The fake first (a base is built before the server that is given its URL).
struct WithFakeGateway {
  FakeGateway fake_{FakeGatewayOptions{}};
};

class IntentStatusTest : protected WithFakeGateway, public ServerTest {
 protected:
  IntentStatusTest() : ServerTest(GatewayServer(fake_.url(), {})) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    SaleSpec sale;
    sale.sku_id = kSku;
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }
};

TEST_F(IntentStatusTest, TheIntentsStatusDecidesTheOrder) {
  const std::string processing = Order(client(), "carol", "pm_card_processing");
  const std::string declined = Order(client(), "dave", "pm_card_requiresPaymentMethod");
  const std::string action = Order(client(), "erin", "pm_card_requiresAction");
  EXPECT_EQ(BodyField(Settled(client(), processing, "carol"), "status"), "PAID");
  const HttpResponse failed = Settled(client(), declined, "dave");
  EXPECT_EQ(BodyField(failed, "status"), "FAILED") << failed.Describe();
  EXPECT_EQ(BodyField(failed, "failure_reason"), "generic_decline") << failed.Describe();
  EXPECT_EQ(BodyField(Settled(client(), action, "erin"), "status"), "NEEDS_ATTENTION");
  EXPECT_EQ(fake_.ChargesByKey().count(processing), 1u);
  // The retry's POST replayed "processing"; the intent itself (GET) said it had succeeded.
  EXPECT_EQ(fake_.RequestsByKey().at(processing), 2);
  EXPECT_EQ(fake_.IntentReadsByKey().at(processing), 1);
  // requires_action was asked again on every retry (schedule: three), by POST and GET.
  EXPECT_EQ(fake_.RequestsByKey().at(action), 4);
  EXPECT_EQ(fake_.IntentReadsByKey().at(action), 3);
}

TEST_F(IntentStatusTest, A429IsRetriedNoSoonerThanItsRetryAfter) {
  // The schedule says 30 ms; the gateway's Retry-After: 1 says a second.
  const auto started = std::chrono::steady_clock::now();
  const std::string limited = Order(client(), "frank", "pm_card_rateLimited");
  EXPECT_EQ(BodyField(Settled(client(), limited, "frank"), "status"), "PAID");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  EXPECT_EQ(fake_.RequestsByKey().at(limited), 2);
}

}  // namespace
}  // namespace fs::itest
