// Goal (fair processing): the writer serves requests in arrival order (the
// first N requests to arrive get the N units, whatever their batch boundaries), a waiting-room
// sale's reserves go through the same single writer in that order, and the per-user limit
// counts held and bought units together: a purchase still uses up the user's allowance, and a
// release gives back only what was held.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <mutex>

#include "common/temp_database_test.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::engine {
namespace {

using core::ReserveOutcome;

class FairProcessingTest : public test_common::TempDatabaseTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    auto store = store::SqliteStore::Open(path_, {});
    ASSERT_TRUE(store.has_value());
    Options options;
    options.seed = 11;
    options.batch_size_max = 7;  // many small batches: order must hold across them
    auto engine = Engine::Open(std::move(options), std::move(*store), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.status().ToString();
    engine_ = std::move(*engine);
  }
  void TearDown() override {
    engine_.reset();
    TempDatabaseTest::TearDown();
  }
  void CreateSale(const std::string& sku, std::int64_t stock, std::int32_t limit) {
    core::Sale sale;
    sale.sku_id = sku;
    sale.name = "Sale";
    sale.currency = "EUR";
    sale.price_cents = 100;
    sale.total_stock = stock;
    sale.per_user_limit = limit;
    std::promise<engine::ReplyOf<engine::CreateSale>> promise;
    engine_->Submit(engine::CreateSale{sale}, [&](engine::ReplyOf<engine::CreateSale> r) {
      promise.set_value(std::move(r));
    });
    ASSERT_EQ(promise.get_future().get().value.outcome, core::CreateSaleOutcome::kCreated);
  }
  engine::ReplyOf<engine::Reserve> Reserve(const std::string& sku, const std::string& user,
                                           std::int32_t quantity) {
    std::promise<engine::ReplyOf<engine::Reserve>> promise;
    engine_->Submit(engine::Reserve{{sku, user, quantity, ""}},
                    [&](engine::ReplyOf<engine::Reserve> r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  }
  std::string Buy(const std::string& sku, const std::string& user, std::int32_t quantity) {
    const engine::ReplyOf<engine::Reserve> reserved = Reserve(sku, user, quantity);
    EXPECT_EQ(reserved.value.outcome, ReserveOutcome::kReserved);
    if (!reserved.value.reservation) return "";
    std::promise<engine::ReplyOf<engine::Checkout>> checkout;
    engine_->Submit(
        engine::Checkout{{reserved.value.reservation->reservation_id, user, "pm_card_visa", ""}},
        [&](engine::ReplyOf<engine::Checkout> r) { checkout.set_value(std::move(r)); });
    const engine::ReplyOf<engine::Checkout> order = checkout.get_future().get();
    EXPECT_EQ(order.value.outcome, core::CheckoutOutcome::kCreated);
    std::promise<engine::ReplyOf<engine::RecordPayment>> paid;
    engine_->Submit(
        engine::RecordPayment{
            {order.value.order->order_id, 1, core::ChargeOutcome::kSucceeded, ""}},
        [&](engine::ReplyOf<engine::RecordPayment> r) { paid.set_value(std::move(r)); });
    EXPECT_EQ(paid.get_future().get().value.outcome, core::PaymentReportOutcome::kPaid);
    return reserved.value.reservation->reservation_id;
  }

  base::ManualClock clock_{base::TimeFromMillis(1'800'000'000'000)};
  std::unique_ptr<Engine> engine_;
};

TEST_F(FairProcessingTest, TheFirstRequestsToArriveGetTheUnits) {
  CreateSale("fair", 50, 1);
  constexpr int kRequests = 200;
  std::vector<std::promise<engine::ReplyOf<engine::Reserve>>> replies(kRequests);
  // Enqueued back to back from one thread: arrival order is enqueue order.
  for (int i = 0; i < kRequests; ++i) {
    engine_->Submit(
        engine::Reserve{{"fair", "user-" + std::to_string(i), 1, ""}},
        [&replies, i](engine::ReplyOf<engine::Reserve> r) { replies[i].set_value(std::move(r)); });
  }
  for (int i = 0; i < kRequests; ++i) {
    const engine::ReplyOf<engine::Reserve> reply = replies[i].get_future().get();
    ASSERT_TRUE(reply.status.ok());
    EXPECT_EQ(reply.value.outcome, i < 50 ? ReserveOutcome::kReserved : ReserveOutcome::kSoldOut)
        << "request " << i;
  }
}

TEST_F(FairProcessingTest, ThePerUserLimitCountsHeldAndBoughtUnitsTogether) {
  CreateSale("limit", 100, 3);
  Buy("limit", "alice", 2);  // 2 bought
  EXPECT_EQ(Reserve("limit", "alice", 2).value.outcome, ReserveOutcome::kLimitExceeded);
  const engine::ReplyOf<engine::Reserve> held =
      Reserve("limit", "alice", 1);  // 2 bought + 1 held = 3
  ASSERT_EQ(held.value.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Reserve("limit", "alice", 1).value.outcome, ReserveOutcome::kLimitExceeded);
  // Releasing gives back the held unit only; the bought ones still count.
  std::promise<engine::ReplyOf<engine::Release>> released;
  engine_->Submit(engine::Release{held.value.reservation->reservation_id, "alice"},
                  [&](engine::ReplyOf<engine::Release> r) { released.set_value(std::move(r)); });
  ASSERT_EQ(released.get_future().get().value.outcome, core::ReleaseOutcome::kReleased);
  EXPECT_EQ(Reserve("limit", "alice", 2).value.outcome, ReserveOutcome::kLimitExceeded);
  EXPECT_EQ(Reserve("limit", "alice", 1).value.outcome, ReserveOutcome::kReserved);
  // Another user is not affected by alice's units.
  EXPECT_EQ(Reserve("limit", "bob", 3).value.outcome, ReserveOutcome::kReserved);
  EXPECT_TRUE(engine_->CheckConsistency().ok());
}

}  // namespace
}  // namespace fs::engine
