// Goal: graceful shutdown. SIGTERM (and SIGINT) during a reservation load make the server
// stop accepting, drain in-flight batches and exit with code 0, and every reservation that got
// a 201 is in the database afterwards, with counters equal to the rows. Idle keep-alive or
// silent connections must not hold the shutdown hostage. With --shutdown-delay-seconds, SIGTERM
// first turns readiness off (/readyz 503) while the node keeps serving new connections for the
// delay, so a balancer takes it out before its listener closes; a second signal cuts the delay
// short.

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support/reserve_load.h"
#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSku[] = "drain";
constexpr std::int64_t kStock = 100'000;

ServerOptions QuickStopOptions() {
  ServerOptions options;
  // Far below the default 30 s idle timeout: shutdown must not wait for idle clients.
  options.stop_timeout = milliseconds(10'000);
  return options;
}

class ShutdownTest : public ServerTest {
 protected:
  ShutdownTest() : ServerTest(QuickStopOptions()) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    SaleSpec sale;
    sale.sku_id = kSku;
    sale.total_stock = kStock;
    sale.reservation_ttl_seconds = 3600;
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }

  void StopDuringLoad(int signal_number) {
    LoadOptions options;
    options.sku_id = kSku;
    options.user_prefix = "drain";
    options.thread_count = 16;
    ReserveLoad load(server_.port(), options);
    ASSERT_TRUE(load.WaitForAcknowledged(50, seconds(10))) << "the load did not get going";
    client_.reset();  // our own idle keep-alive connection stays open until here
    ASSERT_TRUE(server_.Stop(signal_number));
    const LoadResult result = load.Join();
    std::cout << result.acknowledged.size() << " acknowledged before signal " << signal_number
              << "\n";

    for (const std::string& problem : result.problems) ADD_FAILURE() << problem;
    for (const auto& [status, count] : result.status_counts) {
      // In-flight requests are answered; late ones may be refused with 503 or see the
      // connection close. Nothing else.
      EXPECT_TRUE(status == 201 || status == 503 || status == 0)
          << count << " responses with status " << status;
    }

    // The database after a clean exit holds every acknowledged reservation.
    const SkuSnapshot rows = ReadSku(kSku);
    std::size_t missing = 0;
    for (const Acknowledged& ack : result.acknowledged) {
      const auto row = rows.rows.find(ack.reservation_id);
      const bool ok = row != rows.rows.end() && row->second.status == kStatusReserved &&
                      row->second.user_id == ack.user_id;
      if (!ok && ++missing <= 10) {
        ADD_FAILURE() << "acknowledged reservation " << ack.reservation_id << " is not durable";
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << result.acknowledged.size();
    EXPECT_EQ(rows.held, rows.QuantitySum(kStatusReserved));

    // And the restarted server agrees with the rows.
    ASSERT_TRUE(server_.Start());
    Reconnect();
    const auto counters = GetAdminCounters(client(), kSku);
    ASSERT_TRUE(counters);
    EXPECT_EQ(counters->reserved, rows.held);
    EXPECT_EQ(counters->available, kStock - rows.held);
    EXPECT_GE(static_cast<std::size_t>(counters->reserved), result.acknowledged.size());
  }
};

TEST_F(ShutdownTest, SigtermDuringLoadExitsZeroAndKeepsEveryAcknowledgedReservation) {
  ASSERT_NO_FATAL_FAILURE(StopDuringLoad(SIGTERM));
}

TEST_F(ShutdownTest, SigintDuringLoadExitsZeroAndKeepsEveryAcknowledgedReservation) {
  ASSERT_NO_FATAL_FAILURE(StopDuringLoad(SIGINT));
}

TEST_F(ShutdownTest, IdleConnectionsDoNotBlockShutdown) {
  ASSERT_EQ(client().Get("/healthz").status, 200);  // an idle keep-alive connection
  RawConnection silent(server_.port());             // a connection that never sends a byte
  ASSERT_TRUE(silent.connected());
  RawConnection partial(server_.port());  // a connection stuck in the middle of a request
  ASSERT_TRUE(partial.connected());
  ASSERT_TRUE(partial.Send("POST /api/v1/reserve HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"));
  ASSERT_TRUE(server_.Stop()) << "SIGTERM must not wait for idle clients";
}

TEST_F(ShutdownTest, RestartAfterShutdownKeepsSales) {
  ASSERT_EQ(Reserve(client(), ReserveRequest().Sku(kSku).User("alice")).status, 201);
  ASSERT_TRUE(server_.Stop());
  ASSERT_TRUE(server_.Start());
  Reconnect();
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
  EXPECT_TRUE(
      IsError(Reserve(client(), ReserveRequest().Sku(kSku).User("alice")), 409, "LIMIT_EXCEEDED"));
  // Twice in a row: a clean shutdown leaves a database that opens cleanly again.
  ASSERT_TRUE(server_.Restart());
  Reconnect();
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
}

ServerOptions DelayedStop(std::chrono::seconds delay) {
  ServerOptions options;
  options.extra_args = {"--shutdown-delay-seconds", std::to_string(delay.count())};
  options.stop_timeout = milliseconds(20'000);
  return options;
}

// Polls /readyz on new connections until it answers `status` (bounded).
bool ReadyzBecomes(const ServerProcess& server, int status) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (HttpClient(server.port()).Get("/readyz").status == status) return true;
    std::this_thread::sleep_for(milliseconds(10));  // the signal arrives asynchronously
  }
  return false;
}

TEST(ShutdownDelayTest, ReadinessGoesFirstThenTheNodeServesForTheDelayAndExitsZero) {
  ServerProcess server(DelayedStop(seconds(2)));
  ASSERT_TRUE(server.Start());
  {
    HttpClient http(server.port());
    SaleSpec sale;
    sale.sku_id = kSku;
    ASSERT_TRUE(CreateSaleOk(http, sale));
    ASSERT_EQ(http.Get("/readyz").status, 200);
  }
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(ReadyzBecomes(server, 503));
  // Not ready, still serving, on new connections: live, reads, and a reservation.
  HttpClient late(server.port());
  EXPECT_EQ(late.Get("/healthz").status, 200);
  EXPECT_EQ(late.Get(std::string("/api/v1/products/") + kSku).status, 200);
  EXPECT_EQ(Reserve(late, ReserveRequest().Sku(kSku).User("late")).status, 201);
  EXPECT_TRUE(IsError(late.Get("/readyz"), 503, "UNAVAILABLE"));
  // Then it stops by itself, cleanly (signal 0: only wait for the exit).
  ASSERT_TRUE(server.Stop(0));
  // The reservation made during the delay is durable.
  ASSERT_TRUE(server.Start());
  HttpClient again(server.port());
  EXPECT_EQ(AvailableUnits(again, kSku), SaleSpec{}.total_stock - 1);
  ASSERT_TRUE(server.Stop());
}

TEST(ShutdownDelayTest, ASecondSignalCutsTheDelayShort) {
  ServerProcess server(DelayedStop(seconds(600)));  // far beyond the 20 s stop bound
  ASSERT_TRUE(server.Start());
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(ReadyzBecomes(server, 503));
  ASSERT_TRUE(server.Stop(SIGINT)) << "the second signal must end the delay";
}

}  // namespace
}  // namespace fs::itest
