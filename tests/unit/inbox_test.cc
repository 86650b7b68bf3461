// Goal: the engine's inbox (engine/inbox.h) alone. One producer's items come out in push
// order, also across many laps of the ring; at most `capacity` items are queued and a refused
// push (full or closed) leaves its item with the caller; several producers pushing at once
// deliver every item exactly once, each producer's in order; a consumer that goes to sleep
// whenever the inbox is empty is always woken by the next push (no lost wake-up); after
// Close() every item accepted before is still delivered and nothing else is.
#include "engine/inbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fs::engine {
namespace {

struct Item {
  int producer = 0;
  int sequence = 0;
};

// Pushes until accepted: the consumer frees room. False once the inbox is closed.
bool PushWaiting(Inbox<Item>& inbox, Item item) {
  for (;;) {
    switch (inbox.Push(item)) {
      case PushOutcome::kPushed:
        return true;
      case PushOutcome::kClosed:
        return false;
      case PushOutcome::kFull:
        std::this_thread::yield();
        break;
    }
  }
}

TEST(InboxTest, OneProducersItemsComeOutInPushOrder) {
  Inbox<int> inbox(8);
  for (int i = 0; i < 5; ++i) {
    int item = i;
    ASSERT_EQ(inbox.Push(item), PushOutcome::kPushed);
  }
  EXPECT_EQ(inbox.size(), 5u);
  EXPECT_TRUE(inbox.Ready());
  std::vector<int> batch;
  EXPECT_EQ(inbox.PopInto(batch, 3), 3u);  // at most count_max
  EXPECT_EQ(inbox.PopInto(batch, 100), 2u);
  EXPECT_EQ(batch, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(inbox.size(), 0u);
  EXPECT_FALSE(inbox.Ready());
  EXPECT_EQ(inbox.PopInto(batch, 100), 0u);
}

TEST(InboxTest, OrderHoldsOverManyLapsOfTheRing) {
  Inbox<std::string> inbox(3);
  std::vector<std::string> batch;
  int pushed = 0;
  std::vector<std::string> expected;
  for (int round = 0; round < 400; ++round) {
    // 1 to 3 items per round, so pushes and pops land on every slot at every offset.
    for (int k = 0; k <= round % 3; ++k) {
      std::string item = "item-with-a-heap-allocated-text-" + std::to_string(pushed++);
      expected.push_back(item);
      ASSERT_EQ(inbox.Push(item), PushOutcome::kPushed);
    }
    inbox.PopInto(batch, 3);
  }
  EXPECT_EQ(batch, expected);
}

TEST(InboxTest, HoldsAtMostCapacityAndARefusedItemStaysWithTheCaller) {
  Inbox<std::unique_ptr<int>> inbox(2);
  auto first = std::make_unique<int>(1);
  auto second = std::make_unique<int>(2);
  auto third = std::make_unique<int>(3);
  ASSERT_EQ(inbox.Push(first), PushOutcome::kPushed);
  ASSERT_EQ(inbox.Push(second), PushOutcome::kPushed);
  EXPECT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox.Push(third), PushOutcome::kFull);
  ASSERT_NE(third, nullptr);  // not moved from: the caller can still answer it
  EXPECT_EQ(*third, 3);
  EXPECT_EQ(inbox.size(), 2u);

  std::vector<std::unique_ptr<int>> batch;
  ASSERT_EQ(inbox.PopInto(batch, 1), 1u);
  EXPECT_EQ(*batch[0], 1);
  EXPECT_EQ(inbox.Push(third), PushOutcome::kPushed);  // one slot free again
  EXPECT_EQ(inbox.Push(first), PushOutcome::kFull);    // (first is empty: moved earlier)

  inbox.Close();
  auto late = std::make_unique<int>(4);
  EXPECT_EQ(inbox.Push(late), PushOutcome::kClosed);
  ASSERT_NE(late, nullptr);
  EXPECT_FALSE(inbox.Drained());  // accepted items are still queued
  EXPECT_EQ(inbox.PopInto(batch, 10), 2u);
  EXPECT_EQ(*batch[1], 2);
  EXPECT_EQ(*batch[2], 3);
  EXPECT_TRUE(inbox.Drained());
}

TEST(InboxTest, DestroyingAnInboxDestroysTheItemsStillQueued) {
  auto shared = std::make_shared<int>(7);
  {
    Inbox<std::shared_ptr<int>> inbox(4);
    for (int i = 0; i < 3; ++i) {
      std::shared_ptr<int> copy = shared;
      ASSERT_EQ(inbox.Push(copy), PushOutcome::kPushed);
    }
    std::vector<std::shared_ptr<int>> batch;
    ASSERT_EQ(inbox.PopInto(batch, 1), 1u);
    EXPECT_EQ(shared.use_count(), 4);
  }
  EXPECT_EQ(shared.use_count(), 1);  // the queued copies and the popped one are gone
}

// Producers and the consumer really run at once (started together by a latch), on a ring
// small enough to be full often. Every item arrives exactly once, each producer's in order,
// and the producers' items interleave.
TEST(InboxTest, ConcurrentProducersDeliverEveryItemExactlyOnceInProducerOrder) {
  constexpr int kProducers = 4;
  constexpr int kItemsPerProducer = 100'000;
  Inbox<Item> inbox(64);
  std::latch start(kProducers + 1);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      start.arrive_and_wait();
      for (int i = 0; i < kItemsPerProducer; ++i) ASSERT_TRUE(PushWaiting(inbox, Item{p, i}));
    });
  }
  std::vector<int> next(kProducers, 0);
  int received = 0;
  int producer_switches = 0;
  int previous_producer = -1;
  std::vector<Item> batch;
  start.arrive_and_wait();
  while (received < kProducers * kItemsPerProducer) {
    if (!inbox.Ready()) inbox.WaitFor(std::chrono::seconds(1));
    batch.clear();
    inbox.PopInto(batch, 4096);
    for (const Item& item : batch) {
      ASSERT_GE(item.producer, 0);
      ASSERT_LT(item.producer, kProducers);
      ASSERT_EQ(item.sequence, next[item.producer]) << "producer " << item.producer;
      ++next[item.producer];
      if (item.producer != previous_producer) ++producer_switches;
      previous_producer = item.producer;
      ++received;
    }
  }
  for (auto& producer : producers) producer.join();
  std::vector<Item> rest;
  EXPECT_EQ(inbox.PopInto(rest, 10), 0u);  // nothing more than was pushed
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kItemsPerProducer);
  // One producer after the other would switch kProducers times.
  EXPECT_GT(producer_switches, kProducers);
}

// The consumer sleeps whenever the inbox is empty; the producer pushes one item and waits
// for it to be taken before the next, so every push races with the consumer falling asleep.
// A lost wake-up leaves an item untaken: the producer's bounded wait for it then fails.
TEST(InboxTest, APushAlwaysWakesASleepingConsumer) {
  constexpr int kItems = 20'000;
  Inbox<int> inbox(4);
  std::mutex mutex;
  std::condition_variable taken_changed;
  int taken = 0;  // guarded by mutex
  std::thread consumer([&] {
    std::vector<int> batch;
    for (;;) {
      // Far longer than the test may take: only a push (or Close) ends this wait.
      if (!inbox.Ready()) inbox.WaitFor(std::chrono::hours(1));
      batch.clear();
      inbox.PopInto(batch, 4);
      if (batch.empty() && inbox.Drained()) return;
      std::lock_guard<std::mutex> lock(mutex);
      for (int item : batch) {
        EXPECT_EQ(item, taken);
        ++taken;
      }
      taken_changed.notify_all();
    }
  });
  int pushed = 0;
  for (; pushed < kItems; ++pushed) {
    int item = pushed;
    ASSERT_EQ(inbox.Push(item), PushOutcome::kPushed);
    std::unique_lock<std::mutex> lock(mutex);
    // Generous bound for a loaded machine; a lost wake-up waits an hour.
    if (!taken_changed.wait_for(lock, std::chrono::seconds(20),
                                [&] { return taken == pushed + 1; })) {
      ADD_FAILURE() << "item " << pushed << " was not taken: lost wake-up";
      break;
    }
  }
  inbox.Close();  // also ends a consumer stuck in a lost wake-up
  consumer.join();
  EXPECT_EQ(pushed, kItems);
  EXPECT_EQ(taken, kItems);
}

// Close() while producers push: what was accepted is delivered, exactly once, and nothing
// after it (what Engine::Stop() relies on to answer every command it accepted).
TEST(InboxTest, CloseDuringPushesDeliversExactlyTheAcceptedItems) {
  constexpr int kProducers = 3;
  Inbox<Item> inbox(32);
  std::vector<int> accepted(kProducers, 0);
  std::latch start(kProducers + 1);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      start.arrive_and_wait();
      int i = 0;
      while (PushWaiting(inbox, Item{p, i})) ++i;
      accepted[p] = i;
    });
  }
  start.arrive_and_wait();
  std::vector<int> next(kProducers, 0);
  std::vector<Item> batch;
  int received = 0;
  for (;;) {
    if (!inbox.Ready()) inbox.WaitFor(std::chrono::seconds(1));
    batch.clear();
    inbox.PopInto(batch, 16);
    for (const Item& item : batch) {
      ASSERT_EQ(item.sequence, next[item.producer]);
      ++next[item.producer];
      ++received;
    }
    if (received >= 50'000) inbox.Close();  // idempotent
    if (batch.empty() && inbox.Drained()) break;
  }
  for (auto& producer : producers) producer.join();
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], accepted[p]) << "producer " << p;
  Item late{0, 0};
  EXPECT_EQ(inbox.Push(late), PushOutcome::kClosed);
}

}  // namespace
}  // namespace fs::engine
