// Goal: `flashsale report --store URL` reads a cluster's PostgreSQL database like the SQLite
// file: after a little traffic on a node (reserves, a refusal, a paid and a declined order) the
// JSON report counts the units sold, the orders by status, the revenue and the refusals, and its
// chain head is the database's last audit event; --sku keeps to one sale.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "pg_environment.h"
#include "support/cli_run.h"
#include "support/flashsale_api.h"
#include "support/http_client.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

constexpr std::int64_t kPrice = 4'200;

class ClusterReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = FreshDatabaseUrl();
    ServerOptions options;
    options.extra_args = {"--store", url_};
    node_ = std::make_unique<ServerProcess>(options);
    ASSERT_TRUE(node_->Start());
    client_ = std::make_unique<HttpClient>(node_->port());
  }

  std::string ReserveOk(const std::string& sku, const std::string& user) {
    return itest::ReserveOk(*client_, ReserveRequest().Sku(sku).User(user));
  }

  // Checks out `reservation_id`; the order's status once settled.
  std::string CheckoutSettled(const std::string& user, const std::string& reservation_id,
                              const std::string& payment_method) {
    const HttpResponse response =
        CheckoutReservation(*client_, user, reservation_id, payment_method);
    EXPECT_EQ(response.status, 202) << response.Describe();
    return SettledOrderStatus(*client_, BodyField(response, "order_id"), user);
  }

  std::string url_;
  std::unique_ptr<ServerProcess> node_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ClusterReportTest, ReportReadsThePostgresStore) {
  SaleSpec sale;
  sale.sku_id = "jacket";
  sale.price_cents = kPrice;
  sale.total_stock = 5;
  ASSERT_TRUE(CreateSaleOk(*client_, sale));
  SaleSpec other;
  other.sku_id = "scarf";
  ASSERT_TRUE(CreateSaleOk(*client_, other));
  EXPECT_EQ(CheckoutSettled("alice", ReserveOk("jacket", "alice"), "pm_card_visa"), "PAID");
  EXPECT_EQ(CheckoutSettled("bob", ReserveOk("jacket", "bob"), "pm_card_chargeDeclined"), "FAILED");
  ReserveOk("jacket", "carol");
  EXPECT_TRUE(IsError(Reserve(*client_, ReserveRequest().Sku("jacket").User("carol")), 409,
                      "LIMIT_EXCEEDED"));
  ReserveOk("scarf", "carol");

  const CliRun run = RunFlashsale({"report", "--store", url_, "--sku", "jacket", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto report = ParseJson(run.out);
  ASSERT_TRUE(report && report->IsObject()) << run.out;
  ASSERT_TRUE((*report)["sales"].IsArray());
  EXPECT_EQ((*report)["sales"].Size(), 1u);
  EXPECT_EQ(IntField(*report, "units_sold"), 1);
  EXPECT_EQ(IntField((*report)["orders_by_status"]["PAID"], "orders"), 1);
  EXPECT_EQ(IntField((*report)["orders_by_status"]["FAILED"], "orders"), 1);
  EXPECT_EQ(IntField((*report)["revenue_cents"], "EUR"), kPrice);
  EXPECT_EQ(IntField(*report, "reserve_attempts"), 4);
  EXPECT_EQ(IntField(*report, "reserve_succeeded"), 3);
  EXPECT_EQ(IntField((*report)["refusals_by_reason"], "LIMIT_EXCEEDED"), 1);
  EXPECT_EQ(StringField((*report)["audit"]["head"], "event_hash"),
            QueryCurrentDatabase("SELECT event_hash FROM audit_events ORDER BY event_id DESC "
                                 "LIMIT 1"));

  const CliRun every = RunFlashsale({"report", "--store", url_, "--json"});
  ASSERT_EQ(every.exit_code, 0) << every.err;
  const auto all = ParseJson(every.out);
  ASSERT_TRUE(all && all->IsObject()) << every.out;
  EXPECT_EQ((*all)["sales"].Size(), 2u);
  EXPECT_EQ(IntField(*all, "reserve_attempts"), 5);
}

}  // namespace
}  // namespace fs::itest
