// Goal: OrderWaiters wakes each held read exactly once: with the order when a commit moves it
// out of PENDING, with nothing when its wait runs out or the server releases every read; it
// refuses reads beyond its capacity, and answers at once a read of an order that changed in
// the batch that read it. Timers run on a real io_context; Hold and Notify come from another
// thread, as from the writer.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "http/order_waiters.h"

namespace fs::http {
namespace {

using std::chrono::milliseconds;

core::Order OrderWithStatus(const std::string& id, core::OrderStatus status) {
  core::Order order;
  order.order_id = id;
  order.status = status;
  return order;
}

class OrderWaitersTest : public ::testing::Test {
 protected:
  OrderWaitersTest() : guard_(boost::asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~OrderWaitersTest() override {
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  // Holds a read of `id` whose wake-up is recorded in `woken` (on the I/O thread).
  OrderWaiters::HoldOutcome Hold(OrderWaiters& waiters, const std::string& id, milliseconds wait,
                                 std::vector<std::optional<core::Order>>& woken) {
    return waiters.Hold(id, io_.get_executor(), wait, [this, &woken](std::optional<core::Order> o) {
      std::lock_guard lock(mutex_);
      woken.push_back(std::move(o));
    });
  }

  // Waits until `woken` has `count` entries (or 5 s), then returns how many it has.
  std::size_t WaitFor(const std::vector<std::optional<core::Order>>& woken, std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (woken.size() >= count || std::chrono::steady_clock::now() > deadline) {
          return woken.size();
        }
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::mutex mutex_;
};

TEST_F(OrderWaitersTest, AReadWakesWithTheOrderWhenItLeavesPending) {
  OrderWaiters waiters(10);
  std::vector<std::optional<core::Order>> woken;
  ASSERT_EQ(Hold(waiters, "o1", milliseconds(10'000), woken), OrderWaiters::HoldOutcome::kHeld);
  EXPECT_EQ(waiters.held(), 1u);
  // A change that stays PENDING (a retry scheduled) and another order's change wake nothing.
  waiters.Notify({OrderWithStatus("o1", core::OrderStatus::kPending),
                  OrderWithStatus("o2", core::OrderStatus::kPaid)});
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(waiters.held(), 1u);
  waiters.Notify({OrderWithStatus("o1", core::OrderStatus::kFailed)});
  ASSERT_EQ(WaitFor(woken, 1), 1u);
  ASSERT_TRUE(woken[0].has_value());
  EXPECT_EQ(woken[0]->status, core::OrderStatus::kFailed);
  EXPECT_EQ(waiters.held(), 0u);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(WaitFor(woken, 2), 1u);  // once only
}

TEST_F(OrderWaitersTest, AReadWakesEmptyWhenItsWaitRunsOut) {
  OrderWaiters waiters(10);
  std::vector<std::optional<core::Order>> woken;
  ASSERT_EQ(Hold(waiters, "o1", milliseconds(20), woken), OrderWaiters::HoldOutcome::kHeld);
  ASSERT_EQ(WaitFor(woken, 1), 1u);
  EXPECT_FALSE(woken[0].has_value());
  EXPECT_EQ(waiters.held(), 0u);
  // A change after the wait ran out finds nobody.
  waiters.Notify({OrderWithStatus("o1", core::OrderStatus::kPaid)});
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(WaitFor(woken, 2), 1u);
}

TEST_F(OrderWaitersTest, SeveralReadsOfOneOrderAllWake) {
  OrderWaiters waiters(10);
  std::vector<std::optional<core::Order>> woken;
  for (int i = 0; i < 3; ++i) Hold(waiters, "o1", milliseconds(10'000), woken);
  waiters.Notify({OrderWithStatus("o1", core::OrderStatus::kPaid)});
  ASSERT_EQ(WaitFor(woken, 3), 3u);
  for (const auto& order : woken) EXPECT_TRUE(order.has_value());
}

TEST_F(OrderWaitersTest, ReadsBeyondTheCapacityAreRefused) {
  OrderWaiters waiters(2);
  std::vector<std::optional<core::Order>> woken;
  EXPECT_EQ(Hold(waiters, "a", milliseconds(10'000), woken), OrderWaiters::HoldOutcome::kHeld);
  EXPECT_EQ(Hold(waiters, "b", milliseconds(10'000), woken), OrderWaiters::HoldOutcome::kHeld);
  EXPECT_EQ(Hold(waiters, "c", milliseconds(10'000), woken), OrderWaiters::HoldOutcome::kFull);
  waiters.Notify({OrderWithStatus("a", core::OrderStatus::kPaid)});
  ASSERT_EQ(WaitFor(woken, 1), 1u);
  EXPECT_EQ(Hold(waiters, "c", milliseconds(10'000), woken), OrderWaiters::HoldOutcome::kHeld);
  waiters.ReleaseAll();
  EXPECT_EQ(WaitFor(woken, 3), 3u);
}

TEST_F(OrderWaitersTest, AnOrderThatChangedInTheReadsBatchIsAnsweredAtOnce) {
  OrderWaiters waiters(10);
  std::vector<std::optional<core::Order>> woken;
  waiters.Notify({OrderWithStatus("o1", core::OrderStatus::kPaid)});
  EXPECT_EQ(Hold(waiters, "o1", milliseconds(10'000), woken),
            OrderWaiters::HoldOutcome::kAnswerNow);
  EXPECT_EQ(Hold(waiters, "o2", milliseconds(10'000), woken), OrderWaiters::HoldOutcome::kHeld);
}

TEST_F(OrderWaitersTest, ReleaseWakesEveryReadAndHoldsNoneAfter) {
  OrderWaiters waiters(10);
  std::vector<std::optional<core::Order>> woken;
  Hold(waiters, "a", milliseconds(10'000), woken);
  Hold(waiters, "b", milliseconds(10'000), woken);
  waiters.ReleaseAll();
  ASSERT_EQ(WaitFor(woken, 2), 2u);
  EXPECT_FALSE(woken[0].has_value());
  EXPECT_FALSE(woken[1].has_value());
  EXPECT_EQ(Hold(waiters, "c", milliseconds(10'000), woken), OrderWaiters::HoldOutcome::kAnswerNow);
}

}  // namespace
}  // namespace fs::http
