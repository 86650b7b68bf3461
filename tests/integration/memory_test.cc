// Goal: the writer's memory does not grow with history. 100,000 reserve-then-release cycles
// through the real server (16 clients at once) leave its resident set within kGrowthMax of
// what it was after a warm-up: a finished reservation leaves the writer's memory, and a later
// read of it comes from the store. Before that change each one stayed at ~1.5 KB (about
// 150 MB for these cycles). The figure is printed (docs/operations.md, "Sizing"); nothing here
// is timed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr int kClients = 16;
constexpr int kWarmUpCycles = 10'000;
constexpr int kCycles = 100'000;
constexpr std::int64_t kGrowthMax = 40 * 1024 * 1024;

// The process's resident set in bytes (VmRSS), 0 when unreadable.
std::int64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "N kB"
  }
  return 0;
}

ServerOptions MemoryServer() {
  ServerOptions options;
  // Durability is not under test: without fsync the cycles run in seconds.
  options.extra_args = {"--rate-limit", "off", "--sqlite-synchronous", "off"};
  return options;
}

class MemoryTest : public ServerTest {
 protected:
  MemoryTest() : ServerTest(MemoryServer()) {}

  // `cycles` reserve-then-release cycles from kClients clients; counts the failures.
  int RunCycles(int cycles) {
    std::atomic<int> failures{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        HttpClient http(server_.port());
        const HttpHeaders auth = UserAuth("cycler-" + std::to_string(c));
        for (int i = c; i < cycles; i += kClients) {
          const HttpResponse reserved =
              http.Post("/api/v1/products/mem/reserve", R"({"quantity":1})", auth);
          const auto body = ParseReservation(reserved.body);
          if (reserved.status != 201 || !body) {
            ++failures;
            continue;
          }
          if (http.Delete("/api/v1/reservations/" + body->reservation_id, auth).status != 200) {
            ++failures;
          }
        }
      });
    }
    for (auto& client : clients) client.join();
    return failures.load();
  }
};

TEST_F(MemoryTest, ReserveReleaseCyclesLeaveResidentMemoryBounded) {
  SaleSpec sale;
  sale.sku_id = "mem";
  sale.total_stock = 1000;
  sale.reservation_ttl_seconds = 5;  // released holds leave the expiry queue within 5 s
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  ASSERT_EQ(RunCycles(kWarmUpCycles), 0);
  const std::int64_t before = ResidentBytes(server_.pid());
  ASSERT_GT(before, 0);
  ASSERT_EQ(RunCycles(kCycles), 0);
  std::this_thread::sleep_for(std::chrono::seconds(6));  // the last expiry entries fall due
  const std::int64_t after = ResidentBytes(server_.pid());
  std::printf(
      "[memory] resident set after %d warm-up cycles: %.1f MiB; after %d more: %.1f MiB "
      "(growth %.1f MiB, bound %.0f MiB)\n",
      kWarmUpCycles, before / 1048576.0, kCycles, after / 1048576.0, (after - before) / 1048576.0,
      kGrowthMax / 1048576.0);
  RecordProperty("rss_before_bytes", std::to_string(before));
  RecordProperty("rss_after_bytes", std::to_string(after));
  EXPECT_LT(after - before, kGrowthMax);
  // The store has every cycle; the writer's memory holds none of them.
  Reconnect();  // the fixture's connection sat idle through the cycles
  EXPECT_EQ(AvailableUnits(client(), "mem"), 1000);
  const SkuSnapshot rows = ReadSku("mem");
  EXPECT_EQ(rows.rows.size(), static_cast<std::size_t>(kWarmUpCycles + kCycles));
  // A released reservation is still readable (from the store) by its owner.
  const HttpResponse reserved =
      client().Post("/api/v1/products/mem/reserve", R"({"quantity":1})", UserAuth("reader"));
  const auto body = ParseReservation(reserved.body);
  ASSERT_TRUE(body.has_value()) << reserved.Describe();
  ASSERT_EQ(
      client().Delete("/api/v1/reservations/" + body->reservation_id, UserAuth("reader")).status,
      200);
  const HttpResponse read =
      client().Get("/api/v1/reservations/" + body->reservation_id, UserAuth("reader"));
  ASSERT_EQ(read.status, 200) << read.Describe();
  EXPECT_NE(read.body.find("RELEASED"), std::string::npos) << read.body;
  EXPECT_TRUE(IsError(
      client().Get("/api/v1/reservations/" + body->reservation_id, UserAuth("someone-else")), 404,
      "RESERVATION_NOT_FOUND"));
  // Releasing it again answers as before the writer forgot it.
  const HttpResponse again =
      client().Delete("/api/v1/reservations/" + body->reservation_id, UserAuth("reader"));
  EXPECT_EQ(again.status, 200) << again.Describe();
  EXPECT_NE(again.body.find("RELEASED"), std::string::npos) << again.body;
}

}  // namespace
}  // namespace fs::itest
