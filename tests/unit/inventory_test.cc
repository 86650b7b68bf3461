// Goal: the writer's ledger (sales and reservations) keeps zero oversell and the per-user limit
// under any sequence of reserves, releases, expiries and rolled-back batches, checked against a
// simple model over thousands of random operations; idempotency replays and key reuse behave.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "core/ledger.h"

namespace fs::core {
namespace {

using base::TimeFromMillis;
using std::chrono::seconds;

Sale MakeSale(const std::string& sku_id, std::int64_t stock, std::int32_t limit) {
  Sale sale;
  sale.sku_id = sku_id;
  sale.name = "Sale " + sku_id;
  sale.price_cents = 500;
  sale.currency = "EUR";
  sale.total_stock = stock;
  sale.per_user_limit = limit;
  sale.reservation_ttl_seconds = 10;
  return sale;
}

std::string Body(const Reservation& r) { return "body:" + r.reservation_id; }

// Reserves as the engine's command does: a keyed reserve that was granted stores its reply.
ReserveResult ReserveAndStore(Ledger& ledger, const ReserveCommand& command,
                              const std::string& reservation_id, base::Time now) {
  ReserveResult result = ledger.Reserve(command, {}, reservation_id, now);
  if (result.outcome == ReserveOutcome::kReserved && !command.idempotency_key.empty())
    ledger.StoreReply(command, StoredReply{201, Body(*result.reservation)}, now);
  return result;
}

class InventoryTest : public ::testing::Test {
 protected:
  void CreateSale(const Sale& sale) {
    inventory_.BeginBatch();
    ASSERT_EQ(inventory_.CreateSale(sale, now_).outcome, CreateSaleOutcome::kCreated);
    inventory_.CommitBatch();
  }
  ReserveResult Reserve(const std::string& sku, const std::string& user, int quantity = 1,
                        const std::string& key = "") {
    inventory_.BeginBatch();
    auto result =
        ReserveAndStore(inventory_, {sku, user, quantity, key}, "r" + std::to_string(++ids_), now_);
    inventory_.CommitBatch();
    return result;
  }
  Ledger inventory_;
  base::Time now_ = TimeFromMillis(1'000'000);
  int ids_ = 0;
};

TEST_F(InventoryTest, SellsExactlyTheStock) {
  CreateSale(MakeSale("a", 3, 1));
  int granted = 0;
  for (int u = 0; u < 10; ++u) {
    auto result = Reserve("a", "user" + std::to_string(u));
    if (result.outcome == ReserveOutcome::kReserved)
      ++granted;
    else
      EXPECT_EQ(result.outcome, ReserveOutcome::kSoldOut);
  }
  EXPECT_EQ(granted, 3);
  EXPECT_EQ(inventory_.FindSale("a")->counters.available(), 0);
  inventory_.CheckInvariants();
}

TEST_F(InventoryTest, UnknownSkuAndLimit) {
  CreateSale(MakeSale("a", 10, 1));
  EXPECT_EQ(Reserve("nope", "u").outcome, ReserveOutcome::kSkuNotFound);
  EXPECT_EQ(Reserve("a", "u").outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Reserve("a", "u").outcome, ReserveOutcome::kLimitExceeded);
  EXPECT_EQ(inventory_.UserUnits("a", "u"), 1);
}

TEST_F(InventoryTest, CreateSaleTwiceAndInvalid) {
  CreateSale(MakeSale("a", 10, 1));
  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.CreateSale(MakeSale("a", 5, 1), now_).outcome,
            CreateSaleOutcome::kAlreadyExists);
  auto invalid = inventory_.CreateSale(MakeSale("b", -1, 1), now_);
  EXPECT_EQ(invalid.outcome, CreateSaleOutcome::kInvalid);
  EXPECT_FALSE(invalid.invalid_reason.empty());
  EXPECT_TRUE(inventory_.mutations().empty());
  inventory_.CommitBatch();
  EXPECT_EQ(inventory_.FindSale("a")->sale.total_stock, 10);
}

TEST_F(InventoryTest, ReleaseReturnsStockAndIsOwnerOnly) {
  CreateSale(MakeSale("a", 1, 1));
  auto r = Reserve("a", "alice");
  ASSERT_EQ(r.outcome, ReserveOutcome::kReserved);
  const std::string id = r.reservation->reservation_id;
  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.Release(id, "bob", now_).outcome, ReleaseOutcome::kNotFound);
  EXPECT_EQ(inventory_.Release(id, "alice", now_).outcome, ReleaseOutcome::kReleased);
  EXPECT_EQ(inventory_.Release(id, "alice", now_).outcome, ReleaseOutcome::kAlreadyReleased);
  inventory_.CommitBatch();
  EXPECT_EQ(inventory_.FindSale("a")->counters.available(), 1);
  EXPECT_EQ(Reserve("a", "bob").outcome, ReserveOutcome::kReserved);
}

TEST_F(InventoryTest, ExpiryReturnsStockAtExpiresAt) {
  CreateSale(MakeSale("a", 1, 1));
  auto r = Reserve("a", "alice");
  ASSERT_EQ(r.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(inventory_.NextExpiry(), now_ + seconds(10));
  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.ExpireDue(now_ + seconds(10) - base::Millis(1), 100), 0u);
  EXPECT_EQ(inventory_.ExpireDue(now_ + seconds(10), 100), 1u);
  inventory_.CommitBatch();
  EXPECT_EQ(inventory_.FindReservation(r.reservation->reservation_id)->status,
            ReservationStatus::kExpired);
  EXPECT_EQ(inventory_.FindSale("a")->counters.available(), 1);
  EXPECT_FALSE(inventory_.NextExpiry().has_value());
  // Releasing an expired reservation says so.
  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.Release(r.reservation->reservation_id, "alice", now_).outcome,
            ReleaseOutcome::kExpired);
  inventory_.CommitBatch();
}

TEST_F(InventoryTest, IdempotentReplayAndKeyReuse) {
  CreateSale(MakeSale("a", 5, 2));
  auto first = Reserve("a", "alice", 1, "k1");
  ASSERT_EQ(first.outcome, ReserveOutcome::kReserved);
  auto replay = Reserve("a", "alice", 1, "k1");
  ASSERT_EQ(replay.outcome, ReserveOutcome::kReplayed);
  EXPECT_EQ(replay.replay->response_body, "body:" + first.reservation->reservation_id);
  EXPECT_EQ(replay.replay->http_status, 201);
  EXPECT_EQ(Reserve("a", "alice", 2, "k1").outcome, ReserveOutcome::kIdempotencyKeyReused);
  // Keys are scoped to the user.
  EXPECT_EQ(Reserve("a", "bob", 1, "k1").outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(inventory_.FindSale("a")->counters.held, 2);
}

TEST_F(InventoryTest, RollbackRestoresEverything) {
  CreateSale(MakeSale("a", 2, 1));
  auto kept = Reserve("a", "alice");
  ASSERT_EQ(kept.outcome, ReserveOutcome::kReserved);
  inventory_.BeginBatch();
  ASSERT_EQ(ReserveAndStore(inventory_, {"a", "bob", 1, "kb"}, "x1", now_).outcome,
            ReserveOutcome::kReserved);
  ASSERT_EQ(inventory_.Release(kept.reservation->reservation_id, "alice", now_).outcome,
            ReleaseOutcome::kReleased);
  ASSERT_EQ(inventory_.Reserve({"a", "carol", 1, ""}, {}, "x2", now_).outcome,
            ReserveOutcome::kReserved);
  ASSERT_EQ(inventory_.CreateSale(MakeSale("b", 1, 1), now_).outcome, CreateSaleOutcome::kCreated);
  // 2 creations + their events, 1 release + its event, key, sale
  EXPECT_EQ(inventory_.mutations().size(), 8u);
  inventory_.RollbackBatch();
  EXPECT_EQ(inventory_.FindSale("a")->counters.held, 1);
  EXPECT_FALSE(inventory_.FindSale("b").has_value());
  EXPECT_EQ(inventory_.FindReservation("x1"), nullptr);
  EXPECT_EQ(inventory_.FindReservation(kept.reservation->reservation_id)->status,
            ReservationStatus::kReserved);
  EXPECT_EQ(inventory_.UserUnits("a", "bob"), 0);
  EXPECT_EQ(inventory_.idempotency_count(), 0u);
  inventory_.CheckInvariants();
  // The rolled-back key is free again and the kept reservation still expires.
  EXPECT_EQ(Reserve("a", "bob", 1, "kb").outcome, ReserveOutcome::kReserved);
  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.ExpireDue(now_ + seconds(10), 100), 2u);
  inventory_.RollbackBatch();
  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.ExpireDue(now_ + seconds(10), 100), 2u);  // rescheduled by the undo
  inventory_.CommitBatch();
  inventory_.CheckInvariants();
}

// Model-based: random commands over several sales and users; every batch is committed or
// rolled back at random; the model (a map of live reservations) must match after each batch.
TEST(InventoryModelTest, RandomOperationsMatchModel) {
  for (std::uint32_t seed : {1u, 2u, 3u, 42u, 1234u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Ledger inventory;
    base::Time now = TimeFromMillis(0);
    struct ModelReservation {
      std::string sku, user;
      int quantity;
      base::Time expires_at;
    };
    std::map<std::string, ModelReservation> live;  // reservation id -> reservation
    std::map<std::string, std::int64_t> stock = {{"s0", 5}, {"s1", 20}, {"s2", 1}};
    std::map<std::string, std::int32_t> limit = {{"s0", 1}, {"s1", 3}, {"s2", 1}};
    inventory.BeginBatch();
    for (const auto& [sku, n] : stock) {
      Sale sale = MakeSale(sku, n, limit[sku]);
      sale.reservation_ttl_seconds = 3;
      ASSERT_EQ(inventory.CreateSale(sale, now).outcome, CreateSaleOutcome::kCreated);
    }
    inventory.CommitBatch();
    int next_id = 0;
    for (int step = 0; step < 3000; ++step) {
      now += base::Millis(rng() % 200);
      auto model = live;
      inventory.BeginBatch();
      // Expire in the model exactly what is due.
      for (auto it = model.begin(); it != model.end();) {
        it = it->second.expires_at <= now ? model.erase(it) : std::next(it);
      }
      inventory.ExpireDue(now, SIZE_MAX);
      const int commands = 1 + static_cast<int>(rng() % 8);
      for (int c = 0; c < commands; ++c) {
        const std::string sku = "s" + std::to_string(rng() % 3);
        const std::string user = "u" + std::to_string(rng() % 12);
        if (rng() % 3 != 0 || model.empty()) {
          const int quantity = 1 + static_cast<int>(rng() % 2);
          const std::string id = "id" + std::to_string(next_id++);
          auto result = inventory.Reserve({sku, user, quantity, ""}, {}, id, now);
          std::int64_t held = 0;
          std::int32_t units = 0;
          for (const auto& [rid, r] : model) {
            if (r.sku == sku) held += r.quantity;
            if (r.sku == sku && r.user == user) units += r.quantity;
          }
          const bool over_limit = units + quantity > limit[sku];
          const bool no_stock = held + quantity > stock[sku];
          const bool grant = !over_limit && !no_stock;
          ASSERT_EQ(result.outcome == ReserveOutcome::kReserved, grant);
          if (grant) model[id] = {sku, user, quantity, now + seconds(3)};
        } else {
          auto pick = model.begin();
          std::advance(pick, static_cast<long>(rng() % model.size()));
          const std::string id = pick->first;
          auto result = inventory.Release(id, pick->second.user, now);
          ASSERT_EQ(result.outcome, ReleaseOutcome::kReleased);
          model.erase(id);
        }
      }
      if (rng() % 5 == 0) {
        inventory.RollbackBatch();
      } else {
        inventory.CommitBatch();
        live = model;
      }
      inventory.CheckInvariants();
      for (const auto& [sku, n] : stock) {
        std::int64_t held = 0;
        for (const auto& [rid, r] : live) held += r.sku == sku ? r.quantity : 0;
        ASSERT_EQ(inventory.FindSale(sku)->counters.held, held);
        ASSERT_GE(inventory.FindSale(sku)->counters.available(), 0);
      }
    }
  }
}

}  // namespace
}  // namespace fs::core
