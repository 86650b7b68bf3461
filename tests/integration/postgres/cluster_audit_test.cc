// Goal: the audit and reconciliation endpoints work in cluster mode. Two real nodes on one
// PostgreSQL database take reserves (some refused SOLD_OUT) and a release; then on each node
// GET /admin/v1/audit/verify is valid with the same event count, the disputes query returns a
// user's events across nodes, the reconciliation is consistent with oversell 0. An attacker
// who disables the append-only trigger and edits one audit row is caught: verify reports that
// event as the first broken one, on both nodes.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "pg_environment.h"
#include "support/flashsale_api.h"
#include "support/http_client.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

constexpr int kNodes = 2;

class ClusterAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = FreshDatabaseUrl();
    for (int i = 0; i < kNodes; ++i) {
      ServerOptions options;
      options.extra_args = {"--store", url, "--threads", "2"};
      nodes_.push_back(std::make_unique<ServerProcess>(options));
    }
    for (auto& node : nodes_) ASSERT_TRUE(node->Start());
    for (auto& node : nodes_) clients_.push_back(std::make_unique<HttpClient>(node->port()));
  }

  HttpClient& client(int i) { return *clients_[static_cast<std::size_t>(i)]; }

  rapidjson::Document GetJson(int node, const std::string& target) {
    const HttpResponse response = client(node).Get(target, AdminAuth());
    EXPECT_EQ(response.status, 200) << target << " on node " << node << ": " << response.Describe();
    auto body = ParseJson(response.body);
    EXPECT_TRUE(body.has_value()) << response.Describe();
    return body ? std::move(*body) : rapidjson::Document();
  }

  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::vector<std::unique_ptr<HttpClient>> clients_;
};

TEST_F(ClusterAuditTest, VerifyDisputesAndReconciliationReadTheSharedDatabase) {
  SaleSpec sale;
  sale.sku_id = "cluster-audit";
  sale.total_stock = 3;
  ASSERT_TRUE(CreateSaleOk(client(0), sale));
  // Users alternate between the nodes: 3 granted, 2 refused SOLD_OUT.
  std::string alice_reservation;
  for (int u = 0; u < 5; ++u) {
    const std::string user = "user-" + std::to_string(u);
    const HttpResponse response =
        Reserve(client(u % kNodes), ReserveRequest().Sku(sale.sku_id).User(user));
    if (u < 3) {
      ASSERT_EQ(response.status, 201) << response.Describe();
      if (u == 0) alice_reservation = ParseReservation(response.body)->reservation_id;
    } else {
      ASSERT_TRUE(IsError(response, 409, "SOLD_OUT"));
    }
  }
  // user-0 reserved on node 0 and releases on node 1.
  ASSERT_EQ(ReleaseReservation(client(1), alice_reservation, "user-0").status, 200);
  // 1 sale created + 5 reserve attempts + 1 release.
  constexpr std::int64_t kEvents = 7;

  std::string head_hash;
  for (int node = 0; node < kNodes; ++node) {
    SCOPED_TRACE(node);
    const auto verify = GetJson(node, "/admin/v1/audit/verify");
    ASSERT_TRUE(verify.IsObject());
    EXPECT_TRUE(verify["valid"].GetBool());
    EXPECT_EQ(verify["events"].GetInt64(), kEvents);
    const std::string hash = verify["head"]["event_hash"].GetString();
    if (node == 0) head_hash = hash;
    EXPECT_EQ(hash, head_hash);
    EXPECT_EQ(hash, QueryCurrentDatabase(
                        "SELECT event_hash FROM audit_events ORDER BY event_id DESC LIMIT 1"));

    // Disputes: user-0's reserve (through node 0) and release (through node 1), in order,
    // also across pages of one event.
    const auto events =
        AuditEvents(client(node), "user_id=user-0&sku_id=" + sale.sku_id, /*limit=*/1);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_STREQ(events[0]["event_type"].GetString(), "RESERVE_ATTEMPT");
    EXPECT_STREQ(events[0]["outcome"].GetString(), "SUCCESS");
    EXPECT_STREQ(events[1]["event_type"].GetString(), "RELEASE");
    EXPECT_LT(events[0]["event_id"].GetInt64(), events[1]["event_id"].GetInt64());
    const auto refused = AuditEvents(client(node), "user_id=user-4");
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_STREQ(refused[0]["failure_reason"].GetString(), "SOLD_OUT");

    const auto books = GetJson(node, "/admin/v1/skus/" + sale.sku_id + "/reconciliation");
    ASSERT_TRUE(books.IsObject());
    EXPECT_TRUE(books["consistent"].GetBool()) << node;
    EXPECT_EQ(books["oversell"].GetInt64(), 0);
    EXPECT_EQ(books["counters"]["held"].GetInt64(), 2);
    EXPECT_EQ(books["recounted"]["held"].GetInt64(), 2);
    EXPECT_EQ(books["recounted"]["reservations"].GetInt64(), 3);
    EXPECT_TRUE(books["orders"]["checked"].GetBool());
    EXPECT_TRUE(books["audit"]["valid"].GetBool());
    EXPECT_EQ(books["mismatches"].Size(), 0u);
    EXPECT_TRUE(IsError(client(node).Get("/admin/v1/skus/nope/reconciliation", AdminAuth()), 404,
                        "SKU_NOT_FOUND"));
  }

  // The attacker: disable the append-only guard and rewrite a refusal as a success.
  const std::string tampered =
      QueryCurrentDatabase("SELECT event_id FROM audit_events WHERE user_id = 'user-4'");
  ASSERT_FALSE(tampered.empty());
  QueryCurrentDatabase("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update");
  QueryCurrentDatabase(
      "UPDATE audit_events SET outcome = 'SUCCESS', failure_reason = NULL"
      " WHERE event_id = " +
      tampered + " RETURNING event_id");
  for (int node = 0; node < kNodes; ++node) {
    SCOPED_TRACE(node);
    const auto verify = GetJson(node, "/admin/v1/audit/verify");
    ASSERT_TRUE(verify.IsObject());
    EXPECT_FALSE(verify["valid"].GetBool());
    ASSERT_TRUE(verify.HasMember("broken_event_id"));
    EXPECT_EQ(std::to_string(verify["broken_event_id"].GetInt64()), tampered);
    EXPECT_EQ(verify["events"].GetInt64() + 1, std::stoll(tampered));
    const auto books = GetJson(node, "/admin/v1/skus/" + sale.sku_id + "/reconciliation");
    ASSERT_TRUE(books.IsObject());
    EXPECT_FALSE(books["consistent"].GetBool());
    EXPECT_FALSE(books["audit"]["valid"].GetBool());
  }
}

}  // namespace
}  // namespace fs::itest
