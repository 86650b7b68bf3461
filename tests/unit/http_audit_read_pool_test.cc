// Goal: the audit reader threads reuse one source per thread instead of opening one per read,
// open a fresh source after a failed read (and retry a read that failed on a reused source
// once), answer every job exactly once (through `failed` when the source cannot be opened or
// the pool stops first), and refuse work beyond their bounded queue instead of growing.

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/audit_read_pool.h"

namespace fs::http {
namespace {

// A source whose reads are never called: jobs here only look at which source they got.
class FakeSource final : public audit::AuditSource {
 public:
  explicit FakeSource(int serial) : serial_(serial) {}
  int serial() const { return serial_; }
  base::Result<audit::VerifyReport> Verify() override { return audit::VerifyReport{}; }
  base::Result<audit::AuditPage> Query(const audit::AuditQuery&) override {
    return audit::AuditPage{};
  }
  base::Status ForEachEvent(const std::function<base::Status(const core::AuditEvent&)>&) override {
    return base::Status::Ok();
  }
  base::Result<audit::ReconciliationReport> Reconcile(const std::optional<std::string>&) override {
    return audit::ReconciliationReport{};
  }
  base::Result<std::optional<core::Reservation>> ReadReservation(const std::string&) override {
    return std::optional<core::Reservation>();
  }
  base::Result<std::optional<core::Order>> ReadOrder(const std::string&) override {
    return std::optional<core::Order>();
  }
  base::Result<std::vector<core::Order>> ReadOrdersWithStatus(core::OrderStatus,
                                                              std::size_t) override {
    return std::vector<core::Order>();
  }
  base::Result<std::vector<audit::OrderTotals>> ReadOrderTotals(
      const std::optional<std::string>&) override {
    return std::vector<audit::OrderTotals>();
  }

 private:
  int serial_;
};

// Counts the sources it opens; serials start at 1.
struct CountingOpener {
  std::shared_ptr<std::atomic<int>> opened = std::make_shared<std::atomic<int>>(0);
  AuditReadPool::Opener opener() const {
    return [opened = opened]() -> base::Result<std::unique_ptr<audit::AuditSource>> {
      return std::unique_ptr<audit::AuditSource>(new FakeSource(++*opened));
    };
  }
};

AuditReadPoolOptions OneThread() {
  AuditReadPoolOptions options;
  options.threads = 1;
  options.queue_max = 2;
  return options;
}

int SerialOf(audit::AuditSource& source) { return dynamic_cast<FakeSource&>(source).serial(); }

// Runs one job and returns the serial of the source it read from (0: `failed` ran instead).
int RunOne(AuditReadPool& pool, std::function<base::Status(audit::AuditSource&)> read = {}) {
  auto answer = std::make_shared<std::promise<int>>();
  std::future<int> serial = answer->get_future();
  AuditReadPool::Job job;
  job.read = [answer, read](audit::AuditSource& source) {
    if (read) {
      base::Status status = read(source);
      if (!status.ok()) return status;
    }
    answer->set_value(SerialOf(source));
    return base::Status::Ok();
  };
  job.failed = [answer](const base::Status&) { answer->set_value(0); };
  EXPECT_TRUE(pool.Submit(std::move(job)));
  return serial.get();
}

TEST(AuditReadPoolTest, ReadsReuseTheThreadsSource) {
  CountingOpener counting;
  AuditReadPool pool(counting.opener(), OneThread());
  EXPECT_EQ(RunOne(pool), 1);
  EXPECT_EQ(RunOne(pool), 1);
  EXPECT_EQ(RunOne(pool), 1);
  EXPECT_EQ(counting.opened->load(), 1);
}

TEST(AuditReadPoolTest, AReadThatFailsOnAReusedSourceIsRetriedOnceOnAFreshOne) {
  CountingOpener counting;
  AuditReadPool pool(counting.opener(), OneThread());
  EXPECT_EQ(RunOne(pool), 1);
  // Fails on source 1 (reused), succeeds on source 2.
  EXPECT_EQ(RunOne(pool,
                   [](audit::AuditSource& source) {
                     return SerialOf(source) == 1 ? base::Unavailable("connection lost")
                                                  : base::Status::Ok();
                   }),
            2);
  // A read that fails on a fresh source is not retried, and the source is dropped.
  EXPECT_EQ(RunOne(pool, [](audit::AuditSource&) { return base::DataLoss("unreadable"); }), 0);
  EXPECT_EQ(counting.opened->load(), 3);
  EXPECT_EQ(RunOne(pool), 4);
}

TEST(AuditReadPoolTest, ASourceThatCannotBeOpenedAnswersThroughFailed) {
  AuditReadPool pool(
      []() -> base::Result<std::unique_ptr<audit::AuditSource>> {
        return base::Unavailable("no database path");
      },
      OneThread());
  EXPECT_EQ(RunOne(pool), 0);
}

TEST(AuditReadPoolTest, AFullQueueRefusesAndStopAnswersWhatWaits) {
  CountingOpener counting;
  AuditReadPool pool(counting.opener(), OneThread());
  // Hold the only reader inside a read until released.
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  AuditReadPool::Job blocker;
  blocker.read = [&entered, released](audit::AuditSource&) {
    entered.set_value();
    released.wait();
    return base::Status::Ok();
  };
  blocker.failed = [](const base::Status&) { ADD_FAILURE() << "the blocker must be read"; };
  ASSERT_TRUE(pool.Submit(std::move(blocker)));
  entered.get_future().wait();

  // Stop answers the waiting jobs (from the stopping thread) before it waits for the reader.
  std::vector<base::StatusCode> failures;  // written by the stopping thread only
  std::promise<void> both_answered;
  auto waiting = [&] {
    AuditReadPool::Job job;
    job.read = [](audit::AuditSource&) {
      ADD_FAILURE() << "a queued job must not be read after Stop";
      return base::Status::Ok();
    };
    job.failed = [&](const base::Status& status) {
      failures.push_back(status.code());
      if (failures.size() == 2) both_answered.set_value();
    };
    return job;
  };
  EXPECT_TRUE(pool.Submit(waiting()));
  EXPECT_TRUE(pool.Submit(waiting()));
  EXPECT_FALSE(pool.Submit(waiting()));  // queue_max is 2

  std::thread stopper([&pool] { pool.Stop(); });
  both_answered.get_future().wait();
  release.set_value();
  stopper.join();
  EXPECT_EQ(failures, (std::vector<base::StatusCode>{base::StatusCode::kUnavailable,
                                                     base::StatusCode::kUnavailable}));
  EXPECT_FALSE(pool.Submit(waiting()));  // stopped
}

}  // namespace
}  // namespace fs::http
