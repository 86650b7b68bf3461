// Goal: the single-writer engine on a real SQLite store answers only after commit, never
// oversells under real concurrent callers, answers 503 and keeps memory unchanged when a commit
// fails, refuses at once when its inbox is full, expires reservations on time (clock driven),
// and rebuilds the same state after a reopen, expiring what expired while it was closed.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "audit/audit_reader.h"
#include "common/gate_store.h"
#include "common/temp_database_test.h"
#include "store/fault/fault_store.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::engine {
namespace {

using base::StatusCode;
using base::TimeFromMillis;
using core::ReserveOutcome;

using test_common::GateStore;

class EngineTest : public test_common::TempDatabaseTest {
 protected:
  void TearDown() override {
    engine_.reset();
    TempDatabaseTest::TearDown();
  }
  std::unique_ptr<store::Store> OpenStore() {
    auto store = store::SqliteStore::Open(path_, {});
    EXPECT_TRUE(store.has_value()) << store.status().ToString();
    return std::move(store).value();
  }
  void OpenEngine(std::unique_ptr<store::Store> store, Options options = {}) {
    options.seed = 7;
    auto engine = Engine::Open(std::move(options), std::move(store), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  engine::ReplyOf<engine::CreateSale> CreateSale(const std::string& sku, std::int64_t stock,
                                                 int ttl_seconds = 120, int limit = 1) {
    core::Sale sale;
    sale.sku_id = sku;
    sale.name = "Sale " + sku;
    sale.price_cents = 100;
    sale.currency = "USD";
    sale.total_stock = stock;
    sale.per_user_limit = limit;
    sale.reservation_ttl_seconds = ttl_seconds;
    std::promise<engine::ReplyOf<engine::CreateSale>> promise;
    engine_->Submit(engine::CreateSale{sale}, [&](engine::ReplyOf<engine::CreateSale> r) {
      promise.set_value(std::move(r));
    });
    return promise.get_future().get();
  }
  engine::ReplyOf<engine::Reserve> Reserve(const std::string& sku, const std::string& user,
                                           std::string key = "") {
    std::promise<engine::ReplyOf<engine::Reserve>> promise;
    engine_->Submit(engine::Reserve{{sku, user, 1, std::move(key)}},
                    [&](engine::ReplyOf<engine::Reserve> r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  }
  std::int64_t Available(const std::string& sku) {
    return engine_->FindSale(sku)->counters.available();
  }

  base::ManualClock clock_{TimeFromMillis(1'800'000'000'000)};
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, ConcurrentCallersNeverOversell) {
  OpenEngine(OpenStore());
  ASSERT_TRUE(CreateSale("hot", 100).status.ok());
  constexpr int kThreads = 16;
  constexpr int kPerThread = 100;
  std::atomic<int> granted{0}, sold_out{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<engine::ReplyOf<engine::Reserve>>> replies;
      for (int i = 0; i < kPerThread; ++i) {
        auto promise = std::make_shared<std::promise<engine::ReplyOf<engine::Reserve>>>();
        replies.push_back(promise->get_future());
        engine_->Submit(
            engine::Reserve{{"hot", "user-" + std::to_string(t) + "-" + std::to_string(i), 1, ""}},
            [promise](engine::ReplyOf<engine::Reserve> r) { promise->set_value(std::move(r)); });
      }
      for (auto& f : replies) {
        auto reply = f.get();
        if (!reply.status.ok())
          ++other;
        else if (reply.value.outcome == ReserveOutcome::kReserved)
          ++granted;
        else if (reply.value.outcome == ReserveOutcome::kSoldOut)
          ++sold_out;
        else
          ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 100);
  EXPECT_EQ(sold_out.load(), kThreads * kPerThread - 100);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Available("hot"), 0);
  EXPECT_TRUE(engine_->CheckConsistency().ok());
  EXPECT_GT(engine_->stats().batch_size_max_seen.load(), 1u);  // requests were batched
}

TEST_F(EngineTest, FailedCommitAnswersUnavailableAndChangesNothing) {
  auto fault = std::make_unique<store::FaultStore>(OpenStore());
  store::FaultStore* faults = fault.get();
  OpenEngine(std::move(fault));
  ASSERT_TRUE(CreateSale("a", 5).status.ok());
  faults->FailNextCommits(1, StatusCode::kUnavailable);
  auto failed = Reserve("a", "alice", "key-1");
  EXPECT_EQ(failed.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(Available("a"), 5);
  EXPECT_TRUE(engine_->healthy());
  // The same key works afterwards: nothing of the failed batch was kept.
  auto ok = Reserve("a", "alice", "key-1");
  ASSERT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.value.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Available("a"), 4);
  EXPECT_TRUE(engine_->CheckConsistency().ok());
}

// Tracing (batch_trace.h): concurrent sampled commands each get an inbox-wait span under their
// caller's span, linked to the one span of the batch that answered them, which links back;
// unsampled commands record nothing; a failed commit marks its batch's span as an error.
TEST_F(EngineTest, SampledCommandsRecordTheirWaitAndTheirBatch) {
  auto fault = std::make_unique<store::FaultStore>(OpenStore());
  store::FaultStore* faults = fault.get();
  std::mutex mutex;
  std::vector<trace::Span> spans;
  Options options;
  options.on_span = [&](trace::Span span) {
    std::lock_guard<std::mutex> lock(mutex);
    spans.push_back(std::move(span));
  };
  auto taken = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return std::exchange(spans, {});
  };
  OpenEngine(std::move(fault), std::move(options));
  ASSERT_TRUE(CreateSale("a", 100).status.ok());  // not sampled
  ASSERT_TRUE(taken().empty());

  constexpr int kCallers = 8;
  std::vector<trace::ParentContext> callers(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    callers[i] = {trace::NewTraceId(), trace::NewSpanId(), /*sampled=*/i % 2 == 0};
    threads.emplace_back([&, i] {
      std::promise<engine::ReplyOf<engine::Reserve>> promise;
      engine_->Submit(
          engine::Reserve{{"a", "user-" + std::to_string(i), 1, ""}},
          [&](engine::ReplyOf<engine::Reserve> r) { promise.set_value(std::move(r)); }, callers[i]);
      EXPECT_TRUE(promise.get_future().get().status.ok());
    });
  }
  for (auto& thread : threads) thread.join();

  const std::vector<trace::Span> recorded = taken();
  std::map<std::string, const trace::Span*> batches;  // by span id
  std::vector<const trace::Span*> waits;
  for (const trace::Span& span : recorded) {
    if (span.name == "engine.batch") batches[span.span_id.Hex()] = &span;
    if (span.name == "engine.inbox_wait") waits.push_back(&span);
  }
  ASSERT_EQ(waits.size(), static_cast<std::size_t>(kCallers / 2));
  EXPECT_EQ(recorded.size(), waits.size() + batches.size());
  for (const trace::Span* wait : waits) {
    const auto caller = std::find_if(callers.begin(), callers.end(), [&](const auto& c) {
      return c.trace_id == wait->trace_id && c.span_id == wait->parent_span_id;
    });
    ASSERT_NE(caller, callers.end());
    EXPECT_TRUE(caller->sampled);
    EXPECT_LE(wait->start_unix_nanos, wait->end_unix_nanos);
    ASSERT_EQ(wait->links.size(), 1u);
    ASSERT_EQ(batches.count(wait->links[0].span_id.Hex()), 1u);
    const trace::Span& batch = *batches.at(wait->links[0].span_id.Hex());
    EXPECT_EQ(batch.trace_id, wait->links[0].trace_id);
    EXPECT_FALSE(batch.parent_span_id.valid());
    EXPECT_EQ(batch.status, trace::SpanStatus::kUnset);
    EXPECT_TRUE(std::any_of(batch.links.begin(), batch.links.end(), [&](const auto& link) {
      return link.trace_id == caller->trace_id && link.span_id == caller->span_id;
    }));
    EXPECT_GE(wait->end_unix_nanos, wait->start_unix_nanos);
    EXPECT_LE(wait->end_unix_nanos, batch.end_unix_nanos);
  }

  faults->FailNextCommits(1, StatusCode::kUnavailable);
  std::promise<engine::ReplyOf<engine::Reserve>> failed;
  engine_->Submit(engine::Reserve{{"a", "late", 1, ""}},
                  [&](engine::ReplyOf<engine::Reserve> r) { failed.set_value(std::move(r)); },
                  {trace::NewTraceId(), trace::NewSpanId(), true});
  EXPECT_EQ(failed.get_future().get().status.code(), StatusCode::kUnavailable);
  const std::vector<trace::Span> after_failure = taken();
  const auto batch =
      std::find_if(after_failure.begin(), after_failure.end(),
                   [](const trace::Span& span) { return span.name == "engine.batch"; });
  ASSERT_NE(batch, after_failure.end());
  EXPECT_EQ(batch->status, trace::SpanStatus::kError);
}

TEST_F(EngineTest, GuardRefusalStopsWrites) {
  auto fault = std::make_unique<store::FaultStore>(OpenStore());
  store::FaultStore* faults = fault.get();
  OpenEngine(std::move(fault));
  ASSERT_TRUE(CreateSale("a", 5).status.ok());
  faults->FailNextCommits(1, StatusCode::kDataLoss);
  EXPECT_EQ(Reserve("a", "alice").status.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(engine_->healthy());
  EXPECT_EQ(Reserve("a", "bob").status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(Available("a"), 5);
}

TEST_F(EngineTest, FullInboxRefusesAtOnce) {
  auto gate = std::make_unique<GateStore>(OpenStore());
  GateStore* gates = gate.get();
  Options options;
  options.inbox_capacity = 2;
  OpenEngine(std::move(gate), options);
  ASSERT_TRUE(CreateSale("a", 100).status.ok());
  const int commits_before = gates->waiting.load();
  gates->Close();
  std::promise<engine::ReplyOf<engine::Reserve>> first;
  engine_->Submit(engine::Reserve{{"a", "u0", 1, ""}},
                  [&](engine::ReplyOf<engine::Reserve> r) { first.set_value(std::move(r)); });
  // Wait until the writer sits inside the commit of the first request.
  for (int seen = gates->waiting.load(); seen <= commits_before; seen = gates->waiting.load())
    gates->waiting.wait(seen);
  std::vector<std::future<engine::ReplyOf<engine::Reserve>>> queued;
  for (int i = 1; i <= 3; ++i) {
    auto promise = std::make_shared<std::promise<engine::ReplyOf<engine::Reserve>>>();
    queued.push_back(promise->get_future());
    engine_->Submit(
        engine::Reserve{{"a", "u" + std::to_string(i), 1, ""}},
        [promise](engine::ReplyOf<engine::Reserve> r) { promise->set_value(std::move(r)); });
  }
  // The third is refused before the gate opens: its future is already ready.
  ASSERT_EQ(queued[2].wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(queued[2].get().status.code(), StatusCode::kResourceExhausted);
  gates->Open();
  EXPECT_EQ(first.get_future().get().value.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(queued[0].get().value.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(queued[1].get().value.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(engine_->stats().inbox_rejections.load(), 1u);
}

// A command whose rows the store refuses for a data reason (here an empty user id, which
// the edge never lets through: the table's CHECK refuses it) fails alone with
// kInvalidArgument; every other command of its batch commits, and the writer goes on.
TEST_F(EngineTest, DataRefusalFailsOnlyTheCommandThatCarriesIt) {
  auto gate = std::make_unique<GateStore>(OpenStore());
  GateStore* gates = gate.get();
  OpenEngine(std::move(gate));
  ASSERT_TRUE(CreateSale("a", 100).status.ok());
  std::vector<core::ReserveCommand> commands;
  for (int i = 1; i <= 12; ++i) {
    commands.push_back({"a", "u" + std::to_string(i), 1, "key-" + std::to_string(i)});
  }
  commands[0].user_id = "";  // the first of the batch
  commands[7].user_id = "";  // and one in the middle
  const auto replies = test_common::HeldBatch(*engine_, *gates, {"a", "u0", 1, ""}, commands);
  ASSERT_EQ(replies.size(), commands.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (i == 0 || i == 7) {
      EXPECT_EQ(replies[i].status.code(), StatusCode::kInvalidArgument) << i;
    } else {
      ASSERT_TRUE(replies[i].status.ok()) << i << ": " << replies[i].status.ToString();
      EXPECT_EQ(replies[i].value.outcome, ReserveOutcome::kReserved) << i;
    }
  }
  EXPECT_GE(engine_->stats().batch_size_max_seen.load(), commands.size());
  EXPECT_EQ(engine_->stats().commands_refused_by_store.load(), 2u);
  EXPECT_TRUE(engine_->healthy());
  EXPECT_EQ(Available("a"), 100 - 11);
  EXPECT_TRUE(engine_->CheckConsistency().ok());
  // The writer goes on; a repeat of a committed key replays, the refused key was not stored.
  EXPECT_EQ(Reserve("a", "u2", "key-2").value.outcome, ReserveOutcome::kReplayed);
  EXPECT_EQ(Reserve("a", "u1", "key-1").value.outcome, ReserveOutcome::kReserved);
  // Everything survives a reopen.
  engine_.reset();
  OpenEngine(OpenStore());
  EXPECT_EQ(Available("a"), 100 - 12);
  EXPECT_TRUE(engine_->CheckConsistency().ok());
}

TEST_F(EngineTest, ConcurrentDuplicatesOfOneKeyMakeOneReservation) {
  OpenEngine(OpenStore());
  ASSERT_TRUE(CreateSale("a", 10, 120, 5).status.ok());
  std::vector<std::future<engine::ReplyOf<engine::Reserve>>> replies;
  std::vector<std::thread> threads;
  std::mutex mutex;
  for (int t = 0; t < 32; ++t) {
    threads.emplace_back([&] {
      auto promise = std::make_shared<std::promise<engine::ReplyOf<engine::Reserve>>>();
      {
        std::lock_guard<std::mutex> lock(mutex);
        replies.push_back(promise->get_future());
      }
      engine_->Submit(
          engine::Reserve{{"a", "alice", 1, "same-key"}},
          [promise](engine::ReplyOf<engine::Reserve> r) { promise->set_value(std::move(r)); });
    });
  }
  for (auto& t : threads) t.join();
  int created = 0, replayed = 0;
  for (auto& f : replies) {
    auto reply = f.get();
    ASSERT_TRUE(reply.status.ok());
    if (reply.value.outcome == ReserveOutcome::kReserved) ++created;
    if (reply.value.outcome == ReserveOutcome::kReplayed) ++replayed;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(replayed, 31);
  EXPECT_EQ(Available("a"), 9);
}

TEST_F(EngineTest, ExpiresWhenTheClockPassesExpiresAt) {
  OpenEngine(OpenStore());
  ASSERT_TRUE(CreateSale("a", 1, 2).status.ok());
  auto reply = Reserve("a", "alice");
  ASSERT_EQ(reply.value.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Available("a"), 0);
  clock_.Advance(std::chrono::milliseconds(1999));
  EXPECT_EQ(Reserve("a", "bob").value.outcome, ReserveOutcome::kSoldOut);
  clock_.Advance(std::chrono::milliseconds(1));
  // The writer wakes by itself (idle_wake) and expires it; wait for the published state.
  for (int i = 0; i < 400 && Available("a") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(Available("a"), 1);
  EXPECT_EQ(engine_->stats().reservations_expired.load(), 1u);
  std::promise<engine::ReplyOf<engine::GetReservation>> got;
  engine_->Submit(engine::GetReservation{reply.value.reservation->reservation_id, "alice"},
                  [&](engine::ReplyOf<engine::GetReservation> r) { got.set_value(std::move(r)); });
  auto found = got.get_future().get();
  // The writer keeps only what it decides with: the ended reservation is in the store only.
  ASSERT_TRUE(found.status.ok());
  EXPECT_FALSE(found.value.has_value());
  auto reader = audit::AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  auto stored = (*reader)->ReadReservation(reply.value.reservation->reservation_id);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->status, core::ReservationStatus::kExpired);
}

TEST_F(EngineTest, ReopenRebuildsStateAndExpiresOverdue) {
  OpenEngine(OpenStore());
  ASSERT_TRUE(CreateSale("a", 10, 60).status.ok());
  ASSERT_TRUE(CreateSale("b", 10, 600).status.ok());
  auto kept = Reserve("b", "alice", "k");
  ASSERT_EQ(kept.value.outcome, ReserveOutcome::kReserved);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(Reserve("a", "u" + std::to_string(i)).value.outcome, ReserveOutcome::kReserved);
  engine_->Stop();
  engine_.reset();
  clock_.Advance(std::chrono::seconds(61));  // "a" reservations expired while down
  OpenEngine(OpenStore());
  EXPECT_EQ(Available("a"), 10);
  EXPECT_EQ(Available("b"), 9);
  EXPECT_EQ(engine_->stats().reservations_expired.load(), 3u);
  // The idempotency key survived the restart.
  auto replay = Reserve("b", "alice", "k");
  EXPECT_EQ(replay.value.outcome, ReserveOutcome::kReplayed);
  EXPECT_TRUE(engine_->CheckConsistency().ok());
}

TEST_F(EngineTest, StopDrainsQueuedCommandsAndRefusesNewOnes) {
  OpenEngine(OpenStore());
  ASSERT_TRUE(CreateSale("a", 1000).status.ok());
  std::vector<std::future<engine::ReplyOf<engine::Reserve>>> replies;
  for (int i = 0; i < 500; ++i) {
    auto promise = std::make_shared<std::promise<engine::ReplyOf<engine::Reserve>>>();
    replies.push_back(promise->get_future());
    engine_->Submit(
        engine::Reserve{{"a", "u" + std::to_string(i), 1, ""}},
        [promise](engine::ReplyOf<engine::Reserve> r) { promise->set_value(std::move(r)); });
  }
  engine_->Stop();
  for (auto& f : replies) EXPECT_EQ(f.get().value.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Reserve("a", "late").status.code(), StatusCode::kUnavailable);
  engine_.reset();
  OpenEngine(OpenStore());
  EXPECT_EQ(Available("a"), 500);
}

}  // namespace
}  // namespace fs::engine
