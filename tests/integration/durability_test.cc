// Goal: no acknowledged change is ever lost. Several rounds of: reservations from 16 threads
// (every 4th one released again at once) on a long-lived sale plus reservations with a 1 s TTL
// on a second sale (so expiries commit while we crash), kill -9 at a random moment while
// requests are in flight, restart on the same data dir, then check that
//   - every reservation that got a 201 (in any round so far) exists as its owner reads it and
//     as a row, and every release that got a 200 is RELEASED;
//   - reservations whose expires_at passed before the restart were expired by recovery;
//   - the counters (skus.held, the admin endpoint) equal the rows.
// The seed is printed; set FLASHSALE_ITEST_SEED to replay the same kill delays.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/reserve_load.h"
#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kLongSku[] = "durable";
constexpr char kShortSku[] = "durable-short";
constexpr std::int64_t kStock = 100'000;
constexpr int kRounds = 5;
constexpr int kLongLoadThreads = 12;
constexpr int kShortLoadThreads = 4;
constexpr std::int32_t kPerUserLimit = 3;

std::uint64_t TestSeed() {
  const char* fixed = std::getenv("FLASHSALE_ITEST_SEED");
  if (fixed != nullptr && *fixed != '\0') return std::strtoull(fixed, nullptr, 10);
  return std::random_device{}();
}

// Everything the client side knows about one SKU across rounds.
struct Ledger {
  std::vector<Acknowledged> acknowledged;
  std::set<std::string> released;           // acknowledged releases
  std::set<std::string> release_requested;  // any release sent

  void Add(const LoadResult& result) {
    acknowledged.insert(acknowledged.end(), result.acknowledged.begin(), result.acknowledged.end());
    for (const Acknowledged& ack : result.released) released.insert(ack.reservation_id);
    release_requested.insert(result.release_requested.begin(), result.release_requested.end());
  }
};

enum class Expiry : std::uint8_t { kNotExpected, kPossible };

// The statuses an acknowledged reservation may have now.
std::set<std::string> AllowedStatuses(const Ledger& ledger, const std::string& id, Expiry expiry) {
  if (ledger.released.contains(id)) return {"RELEASED"};
  std::set<std::string> allowed = {"RESERVED"};
  if (ledger.release_requested.contains(id)) allowed.insert("RELEASED");
  if (expiry == Expiry::kPossible) allowed.insert("EXPIRED");
  return allowed;
}

int StatusCode(const std::string& name) {
  if (name == "RESERVED") return kStatusReserved;
  if (name == "EXPIRED") return kStatusExpired;
  if (name == "RELEASED") return kStatusReleased;
  return 0;
}

class DurabilityTest : public ServerTest {
 protected:
  void CreateSales() {
    SaleSpec long_sale;
    long_sale.sku_id = kLongSku;
    long_sale.total_stock = kStock;
    long_sale.per_user_limit = kPerUserLimit;
    long_sale.reservation_ttl_seconds = 3600;
    ASSERT_TRUE(CreateSaleOk(client(), long_sale));
    SaleSpec short_sale = long_sale;
    short_sale.sku_id = kShortSku;
    short_sale.reservation_ttl_seconds = 1;
    ASSERT_TRUE(CreateSaleOk(client(), short_sale));
  }

  // Every acknowledged reservation of `acks` reads back through the API as its owner, with an
  // allowed status.
  void ExpectReadableByOwners(const std::vector<Acknowledged>& acks, const Ledger& ledger,
                              Expiry expiry) {
    constexpr std::size_t kReaders = 8;
    std::vector<std::vector<std::string>> failures(kReaders);
    std::vector<std::thread> readers;
    for (std::size_t r = 0; r < kReaders; ++r) {
      readers.emplace_back([&, r] {
        HttpClient reader(server_.port());
        for (std::size_t i = r; i < acks.size(); i += kReaders) {
          const Acknowledged& ack = acks[i];
          const HttpResponse response = GetReservation(reader, ack.reservation_id, ack.user_id);
          const auto body = ParseReservation(response.body);
          const bool ok =
              response.status == 200 && body &&
              AllowedStatuses(ledger, ack.reservation_id, expiry).contains(body->status) &&
              body->quantity == ack.quantity && body->user_id == ack.user_id;
          if (!ok) failures[r].push_back(ack.reservation_id + ": " + response.Describe());
        }
      });
    }
    for (std::thread& reader : readers) reader.join();
    std::size_t failure_count = 0;
    for (const auto& list : failures) {
      for (const std::string& failure : list) {
        if (++failure_count <= 10) ADD_FAILURE() << "acknowledged but wrong: " << failure;
      }
    }
    EXPECT_EQ(failure_count, 0u) << "of " << acks.size();
  }

  // The rows hold every acknowledged change and agree with skus.held. Returns the snapshot.
  SkuSnapshot ExpectRowsMatchLedger(const std::string& sku_id, const Ledger& ledger,
                                    Expiry expiry) {
    SkuSnapshot rows = ReadSku(sku_id);
    EXPECT_TRUE(rows.sku_found) << sku_id;
    std::size_t wrong = 0;
    for (const Acknowledged& ack : ledger.acknowledged) {
      const auto row = rows.rows.find(ack.reservation_id);
      bool ok = row != rows.rows.end() && row->second.user_id == ack.user_id &&
                row->second.quantity == ack.quantity;
      if (ok) {
        ok = false;
        for (const std::string& status : AllowedStatuses(ledger, ack.reservation_id, expiry)) {
          if (row->second.status == StatusCode(status)) ok = true;
        }
      }
      if (!ok && ++wrong <= 10) {
        ADD_FAILURE() << sku_id << ": acknowledged reservation " << ack.reservation_id << " of "
                      << ack.user_id << " is missing or wrong in the database (status "
                      << (row == rows.rows.end() ? -1 : row->second.status) << ")";
      }
    }
    EXPECT_EQ(wrong, 0u) << sku_id << ": of " << ledger.acknowledged.size() << " acknowledged";
    EXPECT_GE(rows.rows.size(), ledger.acknowledged.size());

    const std::int64_t held_rows =
        rows.QuantitySum(kStatusReserved) + rows.QuantitySum(kStatusCheckoutPending);
    EXPECT_EQ(rows.held, held_rows) << sku_id << ": skus.held differs from the RESERVED rows";
    EXPECT_EQ(rows.sold, rows.QuantitySum(kStatusPurchased)) << sku_id;
    EXPECT_EQ(rows.total_stock, kStock) << sku_id;
    EXPECT_LE(rows.held + rows.sold, rows.total_stock) << sku_id;
    for (const auto& [user, units] : rows.UnitsByUser()) {
      EXPECT_LE(units, kPerUserLimit) << sku_id << " " << user;
    }
    return rows;
  }

  void ExpectAdminCountersEqual(const std::string& sku_id, const SkuSnapshot& rows) {
    const auto counters = GetAdminCounters(client(), sku_id);
    ASSERT_TRUE(counters);
    EXPECT_EQ(counters->reserved, rows.held) << sku_id;
    EXPECT_EQ(counters->sold, rows.sold) << sku_id;
    EXPECT_EQ(counters->available, kStock - rows.held - rows.sold) << sku_id;
    EXPECT_EQ(AvailableUnits(client(), sku_id), counters->available) << sku_id;
  }
};

TEST_F(DurabilityTest, AcknowledgedChangesSurviveKill9) {
  const std::uint64_t seed = TestSeed();
  std::cout << "durability seed: " << seed << " (FLASHSALE_ITEST_SEED=" << seed
            << " replays the kill delays)\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> kill_delay_ms(100, 400);
  ASSERT_NO_FATAL_FAILURE(CreateSales());

  Ledger long_ledger;
  Ledger short_ledger;
  for (int round = 0; round < kRounds; ++round) {
    const int delay_ms = kill_delay_ms(rng);
    SCOPED_TRACE("round " + std::to_string(round) + ", kill after " + std::to_string(delay_ms) +
                 " ms, seed " + std::to_string(seed));
    LoadOptions long_options;
    long_options.sku_id = kLongSku;
    long_options.user_prefix = "long" + std::to_string(round);
    long_options.thread_count = kLongLoadThreads;
    long_options.quantity_max = kPerUserLimit;
    long_options.release_every = 4;
    LoadOptions short_options = long_options;
    short_options.sku_id = kShortSku;
    short_options.user_prefix = "short" + std::to_string(round);
    short_options.thread_count = kShortLoadThreads;
    short_options.release_every = 0;

    LoadResult long_result;
    LoadResult short_result;
    {
      ReserveLoad long_load(server_.port(), long_options);
      ReserveLoad short_load(server_.port(), short_options);
      // Requests are flowing before the clock for the kill starts.
      ASSERT_TRUE(long_load.WaitForAcknowledged(1, seconds(10))) << "no reservation succeeded";
      ASSERT_TRUE(short_load.WaitForAcknowledged(1, seconds(10))) << "no reservation succeeded";
      std::this_thread::sleep_for(milliseconds(delay_ms));
      server_.Kill9();
      long_result = long_load.Join();
      short_result = short_load.Join();
    }
    for (const LoadResult* result : {&long_result, &short_result}) {
      for (const std::string& problem : result->problems) ADD_FAILURE() << problem;
      for (const auto& [status, count] : result->status_counts) {
        // Only answers (201) or broken connections (0): nothing else is refused.
        EXPECT_TRUE(status == 201 || status == 0) << count << " responses with status " << status;
      }
      EXPECT_GT(result->acknowledged.size(), 0u);
    }
    std::cout << "round " << round << ": kill -9 after " << delay_ms << " ms; acknowledged "
              << long_result.acknowledged.size() << " + " << short_result.acknowledged.size()
              << " reservations and " << long_result.released.size() << " releases\n";
    long_ledger.Add(long_result);
    short_ledger.Add(short_result);

    const auto restarted_at = std::chrono::system_clock::now();
    ASSERT_TRUE(server_.Start());
    Reconnect();

    const SkuSnapshot long_rows =
        ExpectRowsMatchLedger(kLongSku, long_ledger, Expiry::kNotExpected);
    ASSERT_NO_FATAL_FAILURE(ExpectAdminCountersEqual(kLongSku, long_rows));
    const SkuSnapshot short_rows =
        ExpectRowsMatchLedger(kShortSku, short_ledger, Expiry::kPossible);
    // Recovery expired everything whose time had come before the restart.
    std::size_t overdue = 0;
    for (const auto& [id, row] : short_rows.rows) {
      const bool due = row.expires_at_ms <= ToUnixMillis(restarted_at);
      if (due && row.status == kStatusReserved && ++overdue <= 5) {
        ADD_FAILURE() << id << " expired " << ToUnixMillis(restarted_at) - row.expires_at_ms
                      << " ms before the restart but is still RESERVED after recovery";
      }
    }
    EXPECT_EQ(overdue, 0u);

    ASSERT_NO_FATAL_FAILURE(
        ExpectReadableByOwners(long_result.acknowledged, long_ledger, Expiry::kNotExpected));
    ASSERT_NO_FATAL_FAILURE(
        ExpectReadableByOwners(short_result.acknowledged, short_ledger, Expiry::kPossible));
  }
}

}  // namespace
}  // namespace fs::itest
