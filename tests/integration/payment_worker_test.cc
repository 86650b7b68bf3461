// Goal: the payment worker calls the gateway once per order when nothing fails, even while its
// dispatcher re-reads the due orders every millisecond: a read decided before an order's
// report committed still shows the order PENDING, and must not hand it out again (a second
// call with the same key would be answered from the gateway's idempotency record, so nobody
// is charged twice, but it is a call too many and a stale attempt number). The engine runs on
// a real SQLite file; the gateway is the test's real HTTP server (support/fake_gateway.h).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_reader.h"
#include "common/temp_database_test.h"
#include "engine/engine.h"
#include "payment/gateway.h"
#include "payment/worker.h"
#include "store/sqlite/sqlite_store.h"
#include "support/fake_gateway.h"

namespace fs::itest {
namespace {

class PaymentWorkerTest : public test_common::TempDatabaseTest {
 protected:
  void TearDown() override {
    engine_.reset();
    TempDatabaseTest::TearDown();
  }

  template <typename Reply, typename Call>
  Reply Await(Call&& call) {
    std::promise<Reply> promise;
    call([&](Reply reply) { promise.set_value(std::move(reply)); });
    return promise.get_future().get();
  }

  // The engine on a fresh SQLite file (engine_).
  void OpenEngine() {
    auto store = store::SqliteStore::Open(path_, {});
    ASSERT_TRUE(store.has_value()) << store.status().ToString();
    auto engine = engine::Engine::Open({}, std::move(store).value(), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }

  static auto HttpGatewayTo(const itest::FakeGateway& gateway) {
    payment::HttpGatewayOptions options;
    options.url = gateway.url();
    return payment::NewHttpGateway(options);
  }

  base::SystemClock clock_;
  std::unique_ptr<engine::Engine> engine_;
};

// Threads of this process (Linux: one entry per thread in /proc/self/task).
std::size_t ThreadCount() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++count;
  }
  return count;
}

// The charging threads start as the work needs them: a node with nothing to charge does not
// hold `concurrency` threads (a container's process limit would refuse them), and a burst
// grows the pool (the test below charges 300 orders).
TEST_F(PaymentWorkerTest, AnIdleWorkerStartsNoChargingThreads) {
  OpenEngine();
  if (HasFatalFailure()) return;
  itest::FakeGateway gateway({});
  auto http = HttpGatewayTo(gateway);
  ASSERT_TRUE(http.has_value()) << http.status().ToString();
  payment::WorkerOptions options;
  options.concurrency = 512;
  options.poll_interval = std::chrono::milliseconds(1);
  const std::size_t before = ThreadCount();
  payment::PaymentWorker worker(options, *engine_, **http);
  worker.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // ~100 dispatch rounds
  const std::size_t during = ThreadCount();
  worker.Stop();
  EXPECT_LE(during, before + 1) << "only the dispatcher";
}

TEST_F(PaymentWorkerTest, EachOrderIsChargedWithOneCallWhileTheDispatcherPollsHard) {
  OpenEngine();
  if (HasFatalFailure()) return;

  constexpr int kOrders = 300;
  core::Sale sale;
  sale.sku_id = "pw";
  sale.name = "Payment worker";
  sale.price_cents = 500;
  sale.currency = "EUR";
  sale.total_stock = kOrders;
  ASSERT_TRUE((Await<engine::ReplyOf<engine::CreateSale>>([&](auto done) {
                engine_->Submit(engine::CreateSale{sale}, std::move(done));
              })).status.ok());
  std::vector<std::pair<std::string, std::string>> orders;  // order id, user
  for (int i = 0; i < kOrders; ++i) {
    const std::string user = "buyer-" + std::to_string(i);
    const auto reserved = Await<engine::ReplyOf<engine::Reserve>>([&](auto done) {
      engine_->Submit(engine::Reserve{{"pw", user, 1, ""}}, std::move(done));
    });
    ASSERT_TRUE(reserved.status.ok() && reserved.value.reservation.has_value());
    const auto checked_out = Await<engine::ReplyOf<engine::Checkout>>([&](auto done) {
      engine_->Submit(
          engine::Checkout{{reserved.value.reservation->reservation_id, user, "pm_card_visa", ""}},
          std::move(done));
    });
    ASSERT_TRUE(checked_out.status.ok() && checked_out.value.order.has_value());
    orders.emplace_back(checked_out.value.order->order_id, user);
  }

  itest::FakeGateway gateway({});
  auto http = HttpGatewayTo(gateway);
  ASSERT_TRUE(http.has_value()) << http.status().ToString();
  payment::WorkerOptions options;
  options.concurrency = 8;
  options.poll_interval = std::chrono::milliseconds(1);  // reads race the reports
  payment::PaymentWorker worker(options, *engine_, **http);
  worker.Start();
  // All orders are due at once; wait until every one is PAID (a final order leaves the
  // writer's memory, so the count is the engine's, and each is checked in the store below).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const auto paid = [&] { return engine_->stats().orders_paid.load(); };
  while (paid() < orders.size() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // A little longer: a stale read would send its extra call now.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  worker.Stop();
  ASSERT_EQ(paid(), orders.size());
  auto reader = audit::AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  for (const auto& [order_id, user] : orders) {
    auto stored = (*reader)->ReadOrder(order_id);
    ASSERT_TRUE(stored.has_value() && stored->has_value()) << order_id;
    EXPECT_EQ((*stored)->status, core::OrderStatus::kPaid) << order_id;
    EXPECT_EQ((*stored)->user_id, user);
  }
  const auto requests = gateway.RequestsByKey();
  const auto charges = gateway.ChargesByKey();
  int extra_calls = 0;
  for (const auto& [order_id, user] : orders) {
    EXPECT_EQ(charges.count(order_id) == 1 ? charges.at(order_id) : 0, 1) << order_id;
    const int calls = requests.count(order_id) == 1 ? requests.at(order_id) : 0;
    if (calls != 1) ++extra_calls;
  }
  EXPECT_EQ(extra_calls, 0) << "orders called more than once";
}

}  // namespace
}  // namespace fs::itest
