// Goal: the bounded side channel that brings throttled reserve attempts and bot detections into
// the audit trail. Below its bounds every attempt is its own event, in arrival order, at most
// K per batch; above them attempts are counted exactly per (identity, reason) and written as
// one aggregate per interval, without identity once too many identities flood at once; the
// counts always add up to what was offered, also with concurrent producers. Through the engine
// the events land in the writer's batch inside a valid chain, survive a failed commit, and
// Stop() writes what is left.
#include "engine/fairness_audit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "common/temp_database_test.h"
#include "crypto/sha256.h"
#include "engine/engine.h"
#include "store/fault/fault_store.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::engine {
namespace {

using base::TimeFromMillis;
using std::chrono::milliseconds;

constexpr std::int64_t kStartMs = 1'800'000'000'000;  // on a second boundary

FairnessEvent Throttled(const std::string& user, std::int64_t at_ms,
                        const std::string& reason = "user_limit") {
  FairnessEvent event;
  event.kind = FairnessEvent::Kind::kThrottled;
  event.user_id = user;
  event.sku_id = "tee";
  event.client_ip = "192.0.2.7";
  event.device_fingerprint = "fp-" + user;
  event.reason = reason;
  event.tier = "normal";
  event.at = TimeFromMillis(at_ms);
  return event;
}

FairnessAuditOptions SmallBounds() {
  FairnessAuditOptions options;
  options.individual_per_second_max = 3;
  options.queue_capacity = 100;
  options.aggregates_max = 2;
  options.events_per_batch_max = 2;
  options.aggregate_interval = milliseconds(1000);
  return options;
}

// Attempts a drain stands for: 1 per individual event, the count of each aggregate.
std::int64_t Attempts(const FairnessDrain& drain) {
  std::int64_t total = static_cast<std::int64_t>(drain.events.size());
  for (const auto& aggregate : drain.aggregates) total += aggregate.count;
  return total;
}

TEST(FairnessAuditChannelTest, BelowTheBoundEveryAttemptIsItsOwnEventInOrderKPerBatch) {
  FairnessAuditChannel channel(SmallBounds());
  for (int i = 0; i < 3; ++i) channel.Offer(Throttled("u" + std::to_string(i), kStartMs + i));
  const auto now = TimeFromMillis(kStartMs + 10);
  const FairnessDrain first = channel.Drain(now, DrainScope::kDue);
  ASSERT_EQ(first.events.size(), 2u);  // events_per_batch_max
  EXPECT_EQ(first.events[0].user_id, "u0");
  EXPECT_EQ(first.events[1].user_id, "u1");
  EXPECT_TRUE(first.aggregates.empty());
  const FairnessDrain second = channel.Drain(now, DrainScope::kDue);
  ASSERT_EQ(second.events.size(), 1u);
  EXPECT_EQ(second.events[0].user_id, "u2");
  EXPECT_TRUE(channel.empty());
  EXPECT_EQ(channel.stats().offered.load(), 3u);
  EXPECT_EQ(channel.stats().aggregated.load(), 0u);
}

TEST(FairnessAuditChannelTest, AboveTheRateAttemptsAreCountedPerIdentityAndReason) {
  FairnessAuditChannel channel(SmallBounds());
  // 3 individual in this second, then 5 for alice (user_limit), 2 for alice (ip_limit).
  for (int i = 0; i < 3; ++i) channel.Offer(Throttled("first", kStartMs + i));
  for (int i = 0; i < 5; ++i) channel.Offer(Throttled("alice", kStartMs + 100 + i));
  for (int i = 0; i < 2; ++i) channel.Offer(Throttled("alice", kStartMs + 200 + i, "ip_limit"));
  EXPECT_EQ(channel.stats().aggregated.load(), 7u);

  // Aggregates wait for their interval.
  FairnessDrain early = channel.Drain(TimeFromMillis(kStartMs + 500), DrainScope::kDue);
  early = channel.Drain(TimeFromMillis(kStartMs + 500), DrainScope::kDue);
  EXPECT_TRUE(early.aggregates.empty());
  const FairnessDrain due = channel.Drain(TimeFromMillis(kStartMs + 1200), DrainScope::kDue);
  ASSERT_EQ(due.aggregates.size(), 2u);
  EXPECT_EQ(due.aggregates[0].sample.user_id, "alice");
  EXPECT_EQ(due.aggregates[0].sample.reason, "user_limit");
  EXPECT_EQ(due.aggregates[0].count, 5);
  EXPECT_EQ(base::ToMillis(due.aggregates[0].first_at), kStartMs + 100);
  EXPECT_EQ(base::ToMillis(due.aggregates[0].last_at), kStartMs + 104);
  EXPECT_EQ(due.aggregates[1].sample.reason, "ip_limit");
  EXPECT_EQ(due.aggregates[1].count, 2);
  EXPECT_TRUE(channel.empty());

  // A new second has a new individual budget.
  channel.Offer(Throttled("bob", kStartMs + 1500));
  EXPECT_EQ(channel.Drain(TimeFromMillis(kStartMs + 1500), DrainScope::kDue).events.size(), 1u);
}

TEST(FairnessAuditChannelTest, TooManyIdentitiesAreStillCountedWithoutIdentity) {
  FairnessAuditOptions options = SmallBounds();
  options.individual_per_second_max = 0;  // everything aggregates
  options.events_per_batch_max = 100;
  FairnessAuditChannel channel(options);
  for (int user = 0; user < 10; ++user) {
    for (int i = 0; i < 3; ++i) channel.Offer(Throttled("u" + std::to_string(user), kStartMs));
  }
  EXPECT_EQ(channel.stats().unattributed.load(), 24u);  // 8 users beyond aggregates_max = 2
  const FairnessDrain drain = channel.Drain(TimeFromMillis(kStartMs), DrainScope::kAll);
  ASSERT_EQ(drain.aggregates.size(), 3u);
  EXPECT_EQ(drain.aggregates[0].count, 3);
  EXPECT_EQ(drain.aggregates[1].count, 3);
  EXPECT_EQ(drain.aggregates[2].count, 24);
  EXPECT_TRUE(drain.aggregates[2].sample.user_id.empty());
  EXPECT_FALSE(drain.aggregates[2].sample.sku_id.has_value());
  EXPECT_EQ(drain.aggregates[2].sample.reason, "user_limit");
  EXPECT_EQ(Attempts(drain), 30);
}

TEST(FairnessAuditChannelTest, ConcurrentProducersAndADrainingWriterLoseNothing) {
  FairnessAuditOptions options;
  options.individual_per_second_max = 500;
  options.queue_capacity = 64;
  options.aggregates_max = 8;
  options.events_per_batch_max = 16;
  options.aggregate_interval = milliseconds(0);
  FairnessAuditChannel channel(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20'000;
  std::atomic<bool> producing{true};
  std::int64_t drained = 0;
  std::thread writer([&] {
    const auto now = TimeFromMillis(kStartMs + 10'000);
    while (producing.load()) drained += Attempts(channel.Drain(now, DrainScope::kDue));
    drained += Attempts(channel.Drain(now, DrainScope::kAll));
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        channel.Offer(Throttled("u" + std::to_string((t * kPerThread + i) % 50), kStartMs + i / 8));
      }
    });
  }
  for (auto& producer : producers) producer.join();
  producing.store(false);
  writer.join();
  EXPECT_EQ(drained, kThreads * kPerThread);
  EXPECT_EQ(channel.stats().offered.load(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_GT(channel.stats().aggregated.load(), 0u);
  EXPECT_TRUE(channel.empty());
}

TEST(FairnessAuditChannelTest, EventsAreThrottledAttemptsAndDetectionsWithTheirReason) {
  FairnessDrain drain;
  drain.events.push_back(Throttled("alice", kStartMs));
  FairnessEvent detected;
  detected.kind = FairnessEvent::Kind::kBotDetected;
  detected.client_ip = "198.51.100.9";
  detected.user_id = "bot-1";
  detected.reason = "bot_ip_rate";
  detected.tier = "bot";
  detected.at = TimeFromMillis(kStartMs + 1);
  drain.events.push_back(detected);
  drain.aggregates.push_back(
      {Throttled("alice", kStartMs), 41, TimeFromMillis(kStartMs), TimeFromMillis(kStartMs + 900)});
  const auto events = FairnessAuditEvents(drain);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, core::AuditEventType::kReserveAttempt);
  EXPECT_EQ(events[0].outcome, core::AuditOutcome::kThrottled);
  EXPECT_EQ(events[0].failure_reason, "RATE_LIMITED");
  EXPECT_EQ(events[0].user_id, "alice");
  EXPECT_EQ(events[0].sku_id, "tee");
  EXPECT_EQ(events[0].client_ip, "192.0.2.7");
  EXPECT_EQ(events[0].device_fingerprint, "fp-alice");
  EXPECT_EQ(events[0].metadata, R"({"reason":"user_limit","tier":"normal"})");
  EXPECT_EQ(events[1].type, core::AuditEventType::kBotDetected);
  EXPECT_EQ(events[1].outcome, core::AuditOutcome::kSuccess);
  EXPECT_FALSE(events[1].failure_reason.has_value());
  EXPECT_FALSE(events[1].sku_id.has_value());
  EXPECT_FALSE(events[1].device_fingerprint.has_value());  // empty: absent
  EXPECT_EQ(events[1].metadata, R"({"reason":"bot_ip_rate","tier":"bot"})");
  EXPECT_EQ(events[2].outcome, core::AuditOutcome::kThrottled);
  EXPECT_EQ(base::ToMillis(events[2].occurred_at), kStartMs + 900);
  EXPECT_EQ(events[2].metadata,
            R"({"reason":"user_limit","tier":"normal","count":41,"first_at_ms":1800000000000,)"
            R"("last_at_ms":1800000000900})");
}

// --- Through the engine ----------------------------------------------------------------------

// Keeps the audit events of every batch the inner store committed.
class RecordingStore final : public store::Store {
 public:
  explicit RecordingStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
  base::Result<store::LoadedState> Load(base::Time since) override { return inner_->Load(since); }
  base::Status Commit(const core::Mutations& mutations) override {
    base::Status status = inner_->Commit(mutations);
    if (!status.ok()) return status;
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& mutation : mutations) {
      if (const auto* audit = std::get_if<core::AuditAppended>(&mutation))
        events_.push_back(audit->event);
    }
    return status;
  }
  base::Result<std::vector<store::StoredCounters>> ReadCounters() override {
    return inner_->ReadCounters();
  }
  std::vector<core::AuditEvent> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

 private:
  std::unique_ptr<store::Store> inner_;
  mutable std::mutex mutex_;
  std::vector<core::AuditEvent> events_;
};

class FairnessAuditEngineTest : public test_common::TempDatabaseTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    auto sqlite = store::SqliteStore::Open(path_, {});
    ASSERT_TRUE(sqlite.has_value()) << sqlite.status().ToString();
    auto fault = std::make_unique<store::FaultStore>(std::move(sqlite).value());
    faults_ = fault.get();
    auto recording = std::make_unique<RecordingStore>(std::move(fault));
    recording_ = recording.get();
    Options options;
    options.seed = 7;
    options.fairness_audit = SmallBounds();
    // The idle wake-up must not write the events before the test's own batch does.
    options.idle_wake = std::chrono::hours(1);
    auto engine = Engine::Open(std::move(options), std::move(recording), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  void TearDown() override {
    engine_.reset();
    TempDatabaseTest::TearDown();
  }
  engine::ReplyOf<engine::Reserve> Reserve(const std::string& sku, const std::string& user) {
    std::promise<engine::ReplyOf<engine::Reserve>> promise;
    engine_->Submit(engine::Reserve{{sku, user, 1, ""}},
                    [&](engine::ReplyOf<engine::Reserve> r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  }
  // Checks the recorded events form one valid chain from event 1.
  void ExpectValidChain() {
    core::AuditChainVerifier verifier(&crypto::Sha256Hex);
    for (const auto& event : recording_->events())
      EXPECT_TRUE(verifier.Next(event)) << verifier.reason();
  }

  base::ManualClock clock_{TimeFromMillis(kStartMs)};
  store::FaultStore* faults_ = nullptr;
  RecordingStore* recording_ = nullptr;
  std::unique_ptr<Engine> engine_;
};

TEST_F(FairnessAuditEngineTest, OfferedEventsAreChainedIntoTheNextBatchBeforeItsCommands) {
  engine_->fairness_audit().Offer(Throttled("alice", kStartMs));
  ASSERT_TRUE(Reserve("nope", "bob").status.ok());
  const auto events = recording_->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].outcome, core::AuditOutcome::kThrottled);
  EXPECT_EQ(events[0].user_id, "alice");
  EXPECT_EQ(events[1].failure_reason, "SKU_NOT_FOUND");
  ExpectValidChain();
  EXPECT_EQ(engine_->audit_head().event_id, 2);
}

TEST_F(FairnessAuditEngineTest, AFailedCommitWritesTheSameEventsWithTheNextBatch) {
  engine_->fairness_audit().Offer(Throttled("alice", kStartMs));
  faults_->FailNextCommits(1);
  EXPECT_FALSE(Reserve("nope", "bob").status.ok());
  EXPECT_TRUE(recording_->events().empty());
  ASSERT_TRUE(Reserve("nope", "carol").status.ok());
  const auto events = recording_->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].user_id, "alice");
  EXPECT_EQ(events[1].user_id, "carol");
  ExpectValidChain();
}

TEST_F(FairnessAuditEngineTest, StopWritesAggregatesThatAreNotDueYet) {
  for (int i = 0; i < 10; ++i) engine_->fairness_audit().Offer(Throttled("alice", kStartMs));
  ASSERT_TRUE(Reserve("nope", "bob").status.ok());  // 2 individual (K), aggregate not due
  EXPECT_EQ(recording_->events().size(), 3u);
  engine_->Stop();
  std::int64_t attempts = 0;
  for (const auto& event : recording_->events()) {
    if (event.outcome != core::AuditOutcome::kThrottled) continue;
    const auto count = event.metadata.find("\"count\":");
    attempts += count == std::string::npos ? 1 : std::stoll(event.metadata.substr(count + 8));
  }
  EXPECT_EQ(attempts, 10);
  EXPECT_TRUE(engine_->fairness_audit().empty());
  ExpectValidChain();
}

}  // namespace
}  // namespace fs::engine
