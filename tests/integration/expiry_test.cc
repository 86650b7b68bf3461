// Goal: reservation expiry through the real server. Stock held by a reservation is available
// again within 1 s after its expires_at (never before it), the reservation reads EXPIRED and can
// no longer be released, and its unit no longer counts toward the user's limit. Reservations
// that expire while the server is down (SIGTERM or kill -9) are expired during recovery:
// the stock is back as soon as the server prints its listening line.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

// The contract is "within 1 s"; the rest is slack for scheduling on a loaded 2-core machine.
constexpr milliseconds kExpiryLatencyMax{1'500};
constexpr milliseconds kPollInterval{50};

class ExpiryTest : public ServerTest {
 protected:
  void CreateShortSale(const std::string& sku_id, std::int64_t stock, std::int32_t ttl_seconds) {
    SaleSpec sale;
    sale.sku_id = sku_id;
    sale.total_stock = stock;
    sale.reservation_ttl_seconds = ttl_seconds;
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }

  ReservationBody ReserveOk(const std::string& sku_id, const std::string& user_id) {
    const HttpResponse response = Reserve(client(), ReserveRequest().Sku(sku_id).User(user_id));
    EXPECT_EQ(response.status, 201) << response.Describe();
    return ParseReservation(response.body).value_or(ReservationBody{});
  }

  // Polls availability until it reaches `units` or `bound` passes. Returns the wall time at
  // which the answer showing `units` arrived, or nullopt.
  std::optional<system_clock::time_point> WaitForAvailable(const std::string& sku_id,
                                                           std::int64_t units, milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::int64_t available = AvailableUnits(client(), sku_id);
      const auto received = system_clock::now();
      if (available == units) return received;
      std::this_thread::sleep_for(kPollInterval);
    }
    return std::nullopt;
  }
};

TEST_F(ExpiryTest, StockReturnsWithinOneSecondOfExpiresAt) {
  ASSERT_NO_FATAL_FAILURE(CreateShortSale("flash", 1, 1));
  const ReservationBody reservation = ReserveOk("flash", "alice");
  ASSERT_FALSE(reservation.reservation_id.empty());
  const auto expires_at = ParseTime(reservation.expires_at);
  ASSERT_TRUE(expires_at) << reservation.expires_at;
  EXPECT_EQ(AvailableUnits(client(), "flash"), 0);

  const auto returned = WaitForAvailable("flash", 1, seconds(5));
  ASSERT_TRUE(returned) << "stock did not come back within 5 s";
  const auto late = std::chrono::duration_cast<milliseconds>(*returned - *expires_at);
  EXPECT_GE(late.count(), 0) << "stock came back before expires_at";
  EXPECT_LT(late, kExpiryLatencyMax)
      << "stock came back " << late.count() << " ms after expires_at";

  const HttpResponse read = GetReservation(client(), reservation.reservation_id, "alice");
  ASSERT_EQ(read.status, 200) << read.Describe();
  EXPECT_EQ(ReservationStatusOf(read), "EXPIRED");
  EXPECT_TRUE(IsError(ReleaseReservation(client(), reservation.reservation_id, "alice"), 409,
                      "RESERVATION_EXPIRED"));
  EXPECT_EQ(AvailableUnits(client(), "flash"), 1);

  const auto counters = GetAdminCounters(client(), "flash");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->reserved, 0);
  EXPECT_EQ(counters->available, 1);
  const SkuSnapshot rows = ReadSku("flash");
  EXPECT_EQ(rows.held, 0);
  ASSERT_TRUE(rows.rows.contains(reservation.reservation_id));
  EXPECT_EQ(rows.rows.at(reservation.reservation_id).status, kStatusExpired);

  // The expired unit no longer counts toward alice's limit of 1.
  EXPECT_FALSE(ReserveOk("flash", "alice").reservation_id.empty());
}

TEST_F(ExpiryTest, ManyReservationsExpireTogether) {
  constexpr int kUsers = 50;
  ASSERT_NO_FATAL_FAILURE(CreateShortSale("bulk", kUsers, 1));
  system_clock::time_point last_expiry{};
  for (int u = 0; u < kUsers; ++u) {
    const ReservationBody reservation = ReserveOk("bulk", "user-" + std::to_string(u));
    const auto expires_at = ParseTime(reservation.expires_at);
    ASSERT_TRUE(expires_at) << reservation.expires_at;
    last_expiry = std::max(last_expiry, *expires_at);
  }
  const auto returned = WaitForAvailable("bulk", kUsers, seconds(8));
  ASSERT_TRUE(returned) << "stock did not come back";
  EXPECT_LT(*returned - last_expiry, kExpiryLatencyMax);

  const SkuSnapshot rows = ReadSku("bulk");
  EXPECT_EQ(rows.held, 0);
  EXPECT_EQ(rows.RowCount(kStatusExpired), kUsers);
}

TEST_F(ExpiryTest, ReleasedReservationIsNotFreedTwice) {
  // alice releases before her reservation expires; carol's reservation (same TTL, taken just
  // after) shows when the expiry pass has gone past alice's expires_at. Stock must then be
  // exactly the total: a second release of alice's unit would push it above.
  ASSERT_NO_FATAL_FAILURE(CreateShortSale("release-first", 3, 1));
  const ReservationBody alice = ReserveOk("release-first", "alice");
  const ReservationBody carol = ReserveOk("release-first", "carol");
  ASSERT_FALSE(alice.reservation_id.empty());
  ASSERT_FALSE(carol.reservation_id.empty());
  const HttpResponse released = ReleaseReservation(client(), alice.reservation_id, "alice");
  ASSERT_EQ(released.status, 200) << released.Describe();
  EXPECT_EQ(AvailableUnits(client(), "release-first"), 2);

  ASSERT_TRUE(WaitForAvailable("release-first", 3, seconds(5))) << "carol never expired";
  EXPECT_EQ(AvailableUnits(client(), "release-first"), 3);
  EXPECT_EQ(ReservationStatusOf(GetReservation(client(), alice.reservation_id, "alice")),
            "RELEASED");
  EXPECT_EQ(ReservationStatusOf(GetReservation(client(), carol.reservation_id, "carol")),
            "EXPIRED");
  const SkuSnapshot rows = ReadSku("release-first");
  EXPECT_EQ(rows.held, 0);
  EXPECT_EQ(rows.RowCount(kStatusReleased), 1);
  EXPECT_EQ(rows.RowCount(kStatusExpired), 1);
}

// Stops the server (gracefully or not), waits until `expires_at` has passed, restarts, and
// checks at once that recovery expired the reservation.
class ExpiryRecoveryTest : public ExpiryTest {
 protected:
  enum class Shutdown : std::uint8_t { kSigterm, kKill9 };

  void RunRecovery(Shutdown shutdown) {
    ASSERT_NO_FATAL_FAILURE(CreateShortSale("short", 1, 2));
    ASSERT_NO_FATAL_FAILURE(CreateShortSale("long", 1, 3600));
    const ReservationBody short_lived = ReserveOk("short", "alice");
    const ReservationBody long_lived = ReserveOk("long", "alice");
    ASSERT_FALSE(short_lived.reservation_id.empty());
    ASSERT_FALSE(long_lived.reservation_id.empty());
    const auto expires_at = ParseTime(short_lived.expires_at);
    ASSERT_TRUE(expires_at);

    if (shutdown == Shutdown::kSigterm) {
      ASSERT_TRUE(server_.Stop());
    } else {
      server_.Kill9();
    }
    // Waiting for wall-clock time to pass while the server is down is the point of the test.
    while (system_clock::now() < *expires_at + milliseconds(200)) {
      std::this_thread::sleep_for(kPollInterval);
    }
    ASSERT_TRUE(server_.Start());
    Reconnect();

    // Immediately after the listening line: the expired stock is back...
    EXPECT_EQ(AvailableUnits(client(), "short"), 1);
    const auto counters = GetAdminCounters(client(), "short");
    ASSERT_TRUE(counters);
    EXPECT_EQ(counters->reserved, 0);
    // ...and the unexpired one is still held.
    EXPECT_EQ(AvailableUnits(client(), "long"), 0);

    const SkuSnapshot short_rows = ReadSku("short");
    ASSERT_TRUE(short_rows.rows.contains(short_lived.reservation_id));
    EXPECT_EQ(short_rows.rows.at(short_lived.reservation_id).status, kStatusExpired);
    EXPECT_EQ(short_rows.held, 0);
    const SkuSnapshot long_rows = ReadSku("long");
    ASSERT_TRUE(long_rows.rows.contains(long_lived.reservation_id));
    EXPECT_EQ(long_rows.rows.at(long_lived.reservation_id).status, kStatusReserved);
    EXPECT_EQ(long_rows.held, 1);

    EXPECT_EQ(ReservationStatusOf(GetReservation(client(), short_lived.reservation_id, "alice")),
              "EXPIRED");
    EXPECT_EQ(ReservationStatusOf(GetReservation(client(), long_lived.reservation_id, "alice")),
              "RESERVED");
  }
};

TEST_F(ExpiryRecoveryTest, ExpiredDuringGracefulDowntime) {
  ASSERT_NO_FATAL_FAILURE(RunRecovery(Shutdown::kSigterm));
}

TEST_F(ExpiryRecoveryTest, ExpiredDuringCrashDowntime) {
  ASSERT_NO_FATAL_FAILURE(RunRecovery(Shutdown::kKill9));
}

}  // namespace
}  // namespace fs::itest
