// The outbox relay's cursor policy: while events keep coming, the cursor is saved at most once
// per cursor_save_interval (each save is a commit that costs the writer its page cache), and
// once the events stop, the last cursor is still saved without waiting for Stop(). And its
// metrics: the backlog (committed, not acknowledged) and the oldest event not acknowledged
// stay while the sink fails and go to 0 / none once it recovers.
#include "events/relay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

namespace fs::events {
namespace {

using namespace std::chrono_literals;

// The writer's side of the outbox, in memory: events 1..produced_ are committed.
struct Outbox {
  std::mutex mutex;
  std::int64_t produced = 0;
  std::int64_t saved_cursor = 0;
  int save_count = 0;
};

class MemorySource : public store::OutboxSource {
 public:
  explicit MemorySource(Outbox& outbox) : outbox_(outbox) {}
  base::Result<std::int64_t> LoadCursor(const std::string&) override {
    std::lock_guard lock(outbox_.mutex);
    return outbox_.saved_cursor;
  }
  base::Result<std::vector<store::StoredEvent>> ReadAfter(std::int64_t after_id,
                                                          std::size_t count_max) override {
    std::lock_guard lock(outbox_.mutex);
    std::vector<store::StoredEvent> events;
    for (std::int64_t id = after_id + 1; id <= outbox_.produced && events.size() < count_max;
         ++id) {
      store::StoredEvent event;
      event.id = id;
      event.event.sku_id = "sku";
      event.event.sequence = id;
      event.event.occurred_at = base::TimeFromMillis(1'000'000 + id);
      events.push_back(std::move(event));
    }
    return events;
  }
  base::Result<std::int64_t> LastId() override {
    std::lock_guard lock(outbox_.mutex);
    return outbox_.produced;
  }
  base::Status SaveCursor(const std::string&, std::int64_t last_id) override {
    std::lock_guard lock(outbox_.mutex);
    outbox_.saved_cursor = last_id;
    ++outbox_.save_count;
    return base::Status::Ok();
  }

 private:
  Outbox& outbox_;
};

class CountingSink : public EventSink {
 public:
  std::string_view name() const override { return "count"; }
  base::Status Publish(const std::vector<store::StoredEvent>&, std::string_view) override {
    return base::Status::Ok();
  }
};

// A sink that refuses until told otherwise.
class SwitchableSink : public EventSink {
 public:
  explicit SwitchableSink(std::atomic<bool>& up) : up_(up) {}
  std::string_view name() const override { return "switchable"; }
  base::Status Publish(const std::vector<store::StoredEvent>&, std::string_view) override {
    if (!up_.load()) return base::Unavailable("sink down");
    return base::Status::Ok();
  }

 private:
  std::atomic<bool>& up_;
};

// Polls `done` (bounded): the relay's thread sets what the tests read.
template <typename Done>
bool WaitFor(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  return done();
}

TEST(RelayTest, BacklogAndOldestUnpublishedFollowTheSink) {
  Outbox outbox;
  outbox.produced = 10;
  std::atomic<bool> sink_up{false};
  RelayOptions options;
  options.batch_size_max = 4;  // smaller than the backlog: LastId() names the head
  options.backoff_initial = 5ms;
  options.backoff_max = 20ms;
  Relay relay(options, std::make_unique<MemorySource>(outbox),
              std::make_unique<SwitchableSink>(sink_up));
  EXPECT_EQ(relay.sink_name(), "switchable");
  relay.Start();
  ASSERT_TRUE(WaitFor([&] { return relay.failure_count() > 0; }));
  EXPECT_EQ(relay.backlog(), 10);
  ASSERT_TRUE(relay.oldest_unpublished().has_value());
  EXPECT_EQ(base::ToMillis(*relay.oldest_unpublished()), 1'000'001);  // event 1

  sink_up.store(true);
  relay.Notify();
  ASSERT_TRUE(WaitFor([&] { return relay.published_count() == 10; }));
  ASSERT_TRUE(WaitFor([&] { return !relay.oldest_unpublished().has_value(); }));
  EXPECT_EQ(relay.backlog(), 0);
  relay.Stop();
}

TEST(RelayTest, SavesTheCursorOncePerIntervalUnderLoadAndAgainWhenEventsStop) {
  Outbox outbox;
  RelayOptions options;
  options.cursor_save_interval = 250ms;
  options.poll_interval = 1000ms;
  Relay relay(options, std::make_unique<MemorySource>(outbox), std::make_unique<CountingSink>());
  relay.Start();

  // A busy writer: one commit every millisecond for a second, each one notifying the relay,
  // which catches up (goes idle) after every commit.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 1s) {
    {
      std::lock_guard lock(outbox.mutex);
      ++outbox.produced;
    }
    relay.Notify();
    std::this_thread::sleep_for(1ms);
  }
  std::int64_t produced = 0;
  int saves_under_load = 0;
  {
    std::lock_guard lock(outbox.mutex);
    produced = outbox.produced;
    saves_under_load = outbox.save_count;
  }
  ASSERT_GT(produced, 100);
  EXPECT_GE(saves_under_load, 1);
  // One save per 250 ms interval, plus the first: saving on every catch-up made hundreds.
  EXPECT_LE(saves_under_load, 6) << "of " << produced << " commits";

  // The events stop: the last cursor is saved within an interval, before any Stop().
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::int64_t saved = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(outbox.mutex);
      saved = outbox.saved_cursor;
    }
    if (saved == produced) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(saved, produced);
  EXPECT_EQ(relay.published_count(), static_cast<std::uint64_t>(produced));
  relay.Stop();
}

}  // namespace
}  // namespace fs::events
