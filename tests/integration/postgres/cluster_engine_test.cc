// Goal: several engines, each with its own PgStore on one PostgreSQL database (three nodes in
// one process), never decide from stale memory: many threads race reservations at all of
// them at once and the database's batch lock and refresh make the outcome exactly that of one
// writer. Exactly N reservations for N units and counters equal to the rows; one user firing
// at every engine at the same instant gets no more than the per-user limit; one idempotency
// key used on every engine makes one reservation; each reservation expires exactly once (one
// audit event and one outbox event) although every engine's expiry queue holds it; a
// PostgreSQL restart answers UNAVAILABLE during the outage and the engines resume by
// themselves with consistent memory. A batch that mixes commands PostgreSQL refuses for their
// data (a raw 0xFF or Latin-1 idempotency key, an empty user id) with good ones commits the good
// ones and fails only the refused ones, and the writer goes on.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/gate_store.h"
#include "engine/engine.h"
#include "pg_environment.h"
#include "store/postgres/pg_store.h"

namespace fs::engine {
namespace {

using core::ReserveOutcome;
using itest::CurrentDatabase;
using itest::FreshDatabaseUrl;
using itest::TestPostgres;

constexpr int kEngines = 3;

std::string Numbered(const char* prefix, int number) {
  std::string out(prefix);
  out += std::to_string(number);
  return out;
}

std::string QueryValue(const std::string& sql) {
  std::string value;
  EXPECT_TRUE(TestPostgres().Query(CurrentDatabase(), sql, value));
  return value;
}

class ClusterEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { url_ = FreshDatabaseUrl(); }
  void TearDown() override {
    for (auto& engine : engines_) engine->Stop();
    engines_.clear();
  }

  void OpenEngines(const base::Clock& clock, Options base_options = {}) {
    for (int i = 0; i < kEngines; ++i) {
      store::PgOptions options;
      options.url = url_;
      auto store = store::PgStore::Open(options);
      ASSERT_TRUE(store) << store.error().ToString();
      Options engine_options = base_options;
      engine_options.seed = static_cast<std::uint64_t>(100 + i);
      auto engine = Engine::Open(std::move(engine_options), std::move(*store), clock);
      ASSERT_TRUE(engine) << engine.error().ToString();
      engines_.push_back(std::move(*engine));
    }
  }

  void CreateSale(const std::string& sku, std::int64_t stock, int limit, int ttl_seconds) {
    core::Sale sale;
    sale.sku_id = sku;
    sale.name = "Sale " + sku;
    sale.price_cents = 100;
    sale.currency = "USD";
    sale.total_stock = stock;
    sale.per_user_limit = limit;
    sale.reservation_ttl_seconds = ttl_seconds;
    std::promise<engine::ReplyOf<engine::CreateSale>> promise;
    engines_[0]->Submit(engine::CreateSale{sale}, [&](engine::ReplyOf<engine::CreateSale> r) {
      promise.set_value(std::move(r));
    });
    const engine::ReplyOf<engine::CreateSale> reply = promise.get_future().get();
    ASSERT_TRUE(reply.status.ok());
    ASSERT_EQ(reply.value.outcome, core::CreateSaleOutcome::kCreated);
  }

  // Fires every request without waiting, from `threads` threads, then waits for all answers.
  struct Outcomes {
    std::atomic<int> reserved{0};
    std::atomic<int> sold_out{0};
    std::atomic<int> limit_exceeded{0};
    std::atomic<int> replayed{0};
    std::atomic<int> unavailable{0};
    std::atomic<int> other{0};
  };
  void Race(const std::vector<core::ReserveCommand>& commands, int threads, Outcomes& outcomes) {
    std::atomic<int> pending{static_cast<int>(commands.size())};
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
      senders.emplace_back([&, t] {
        for (std::size_t i = static_cast<std::size_t>(t); i < commands.size();
             i += static_cast<std::size_t>(threads)) {
          engines_[i % kEngines]->Submit(
              engine::Reserve{commands[i]}, [&](engine::ReplyOf<engine::Reserve> reply) {
                if (!reply.status.ok()) {
                  outcomes.unavailable.fetch_add(1);
                } else if (reply.value.outcome == ReserveOutcome::kReserved) {
                  outcomes.reserved.fetch_add(1);
                } else if (reply.value.outcome == ReserveOutcome::kSoldOut) {
                  outcomes.sold_out.fetch_add(1);
                } else if (reply.value.outcome == ReserveOutcome::kLimitExceeded) {
                  outcomes.limit_exceeded.fetch_add(1);
                } else if (reply.value.outcome == ReserveOutcome::kReplayed) {
                  outcomes.replayed.fetch_add(1);
                } else {
                  outcomes.other.fetch_add(1);
                }
                if (pending.fetch_sub(1) == 1) pending.notify_all();
              });
        }
      });
    }
    for (auto& sender : senders) sender.join();
    for (int left = pending.load(); left != 0; left = pending.load()) pending.wait(left);
  }

  void ExpectConsistent() {
    for (auto& engine : engines_) {
      const base::Status checked = engine->CheckConsistency();
      EXPECT_TRUE(checked.ok()) << checked.ToString();
    }
  }

  std::string url_;
  base::SystemClock clock_;
  std::vector<std::unique_ptr<Engine>> engines_;
};

TEST_F(ClusterEngineTest, ExactlyNReservationsForNUnitsAcrossThreeEngines) {
  OpenEngines(clock_);
  constexpr int kUnits = 200;
  constexpr int kUsers = 2000;
  CreateSale("hot", kUnits, 1, 600);
  std::vector<core::ReserveCommand> commands;
  for (int u = 0; u < kUsers; ++u) commands.push_back({"hot", Numbered("user-", u), 1, ""});
  Outcomes outcomes;
  Race(commands, 12, outcomes);
  EXPECT_EQ(outcomes.reserved.load(), kUnits);
  EXPECT_EQ(outcomes.sold_out.load(), kUsers - kUnits);
  EXPECT_EQ(outcomes.unavailable.load(), 0);
  EXPECT_EQ(outcomes.other.load(), 0);
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE status = 1"),
            std::to_string(kUnits));
  EXPECT_EQ(QueryValue("SELECT held FROM skus WHERE sku_id = 'hot'"), std::to_string(kUnits));
  EXPECT_EQ(QueryValue("SELECT count(DISTINCT user_id) FROM reservations"), std::to_string(kUnits));
  ExpectConsistent();
  // Every engine decided on the database's state, so each knows all 200 after a batch.
  for (auto& engine : engines_) EXPECT_EQ(engine->FindSale("hot")->counters.held, kUnits);
  // One audit chain across the engines: ids 1..N without gaps.
  EXPECT_EQ(QueryValue("SELECT count(*) = max(event_id) FROM audit_events"), "t");
  EXPECT_EQ(QueryValue("SELECT count(*) FROM audit_events WHERE event_type = 'RESERVE_ATTEMPT'"),
            std::to_string(kUsers));
}

TEST_F(ClusterEngineTest, OneUserFiringAtEveryEngineGetsOnlyTheLimit) {
  OpenEngines(clock_);
  CreateSale("limited", 100, 2, 600);
  std::vector<core::ReserveCommand> commands;
  for (int i = 0; i < 90; ++i) {
    commands.push_back({"limited", "greedy", 1, ""});
    commands.push_back({"limited", Numbered("fair-", i % 30), 1, ""});
  }
  Outcomes outcomes;
  Race(commands, 9, outcomes);
  EXPECT_EQ(outcomes.unavailable.load(), 0);
  EXPECT_EQ(outcomes.reserved.load(), 2 + 30 * 2);
  EXPECT_EQ(QueryValue("SELECT coalesce(sum(quantity), 0) FROM reservations"
                       " WHERE user_id = 'greedy'"),
            "2");
  EXPECT_EQ(QueryValue("SELECT max(units) FROM user_units"), "2");
  ExpectConsistent();
}

TEST_F(ClusterEngineTest, OneIdempotencyKeyOnEveryEngineMakesOneReservation) {
  OpenEngines(clock_);
  CreateSale("keyed", 50, 1, 600);
  std::vector<core::ReserveCommand> commands(60, core::ReserveCommand{"keyed", "ann", 1, "k-1"});
  Outcomes outcomes;
  Race(commands, 6, outcomes);
  EXPECT_EQ(outcomes.reserved.load(), 1);
  EXPECT_EQ(outcomes.replayed.load(), 59);
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations"), "1");
  EXPECT_EQ(QueryValue("SELECT count(*) FROM idempotency_keys"), "1");
  ExpectConsistent();
}

TEST_F(ClusterEngineTest, EachReservationExpiresExactlyOnce) {
  base::ManualClock clock(base::TimeFromMillis(1'800'000'000'000));
  OpenEngines(clock);
  constexpr int kHolds = 30;
  CreateSale("short", 100, 1, 1);
  std::vector<core::ReserveCommand> commands;
  for (int u = 0; u < kHolds; ++u) commands.push_back({"short", Numbered("user-", u), 1, ""});
  Outcomes outcomes;
  Race(commands, 3, outcomes);
  ASSERT_EQ(outcomes.reserved.load(), kHolds);
  // Every engine's expiry queue holds all 30 (each learned the others' through refreshes);
  // all wake at once when the clock passes the expiry.
  clock.Advance(std::chrono::seconds(2));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (QueryValue("SELECT held FROM skus") != "0" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(QueryValue("SELECT held FROM skus"), "0");
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE status = 4"),
            std::to_string(kHolds));
  EXPECT_EQ(QueryValue("SELECT count(*) FROM audit_events WHERE event_type = 'EXPIRY'"),
            std::to_string(kHolds));
  EXPECT_EQ(QueryValue("SELECT count(*) FROM outbox WHERE type = 'reservation.expired'"),
            std::to_string(kHolds));
  std::uint64_t expired = 0;
  for (auto& engine : engines_) expired += engine->stats().reservations_expired.load();
  EXPECT_EQ(expired, static_cast<std::uint64_t>(kHolds));
  ExpectConsistent();
}

TEST_F(ClusterEngineTest, PostgresRestartAnswersUnavailableThenResumes) {
  OpenEngines(clock_);
  CreateSale("outage", 1000, 1, 600);
  ASSERT_TRUE(TestPostgres().Stop());
  std::vector<core::ReserveCommand> during;
  for (int u = 0; u < 30; ++u) during.push_back({"outage", Numbered("early-", u), 1, ""});
  Outcomes down;
  Race(during, 3, down);
  EXPECT_EQ(down.unavailable.load(), 30);
  ASSERT_TRUE(TestPostgres().Start());
  // Service resumes by itself: the stores reconnect on their next batch.
  std::vector<core::ReserveCommand> after;
  for (int u = 0; u < 300; ++u) after.push_back({"outage", Numbered("late-", u), 1, ""});
  Outcomes up;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    up.reserved.store(0);
    up.unavailable.store(0);
    Race(after, 3, up);
  } while (up.unavailable.load() > 0 && std::chrono::steady_clock::now() < deadline);
  // A second round may replay nothing (no keys) but would hit the limit: count the rows.
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE user_id LIKE 'early-%'"), "0");
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE user_id LIKE 'late-%'"), "300");
  EXPECT_EQ(QueryValue("SELECT held FROM skus"), "300");
  for (auto& engine : engines_) EXPECT_TRUE(engine->healthy());
  ExpectConsistent();
}

// A connection dropped while a batch's pipeline (its rows and COMMIT) is in the database: the
// node cannot know whether the batch committed, so it never retries it. The batch's callers
// get UNAVAILABLE (and /readyz 503 until the node reads the database again), memory is rolled
// back and re-read from the database (the system of record) before the next decision, and a repeat
// of the key makes exactly one reservation. Here a test trigger holds the batch's INSERT in
// pg_sleep and the test terminates that backend, so the batch rolled back: the database, not the
// node, decides what is durable.
TEST_F(ClusterEngineTest, AConnectionDroppedDuringCommitIsNeverRetriedAndTheDatabaseDecides) {
  OpenEngines(clock_);
  CreateSale("dropped", 100, 1, 600);
  const auto reserve = [&](Engine& engine, const std::string& user) {
    std::promise<engine::ReplyOf<engine::Reserve>> promise;
    engine.Submit(engine::Reserve{{"dropped", user, 1, "key-" + user}},
                  [&](engine::ReplyOf<engine::Reserve> r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  };
  ASSERT_TRUE(reserve(*engines_[0], "first").status.ok());
  std::string sqlstate;
  TestPostgres().Execute(CurrentDatabase(), R"(
      CREATE TABLE hold_commits (on_off boolean);
      CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM hold_commits WHERE on_off) THEN PERFORM pg_sleep(30); END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER hold_commit AFTER INSERT ON reservations
        FOR EACH ROW EXECUTE FUNCTION hold_commit();
      INSERT INTO hold_commits VALUES (true);)",
                         sqlstate);
  ASSERT_EQ(sqlstate, "");

  auto held = std::async(std::launch::async, [&] { return reserve(*engines_[1], "second"); });
  // Wait until the batch sleeps inside the database, then drop its connection.
  std::string sleeping;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sleeping != "1" && std::chrono::steady_clock::now() < deadline) {
    sleeping = QueryValue(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = "
        "current_database()");
  }
  ASSERT_EQ(sleeping, "1");
  TestPostgres().Execute(CurrentDatabase(),
                         "UPDATE hold_commits SET on_off = false; SELECT pg_terminate_backend(pid) "
                         "FROM pg_stat_activity WHERE wait_event = 'PgSleep'",
                         sqlstate);
  ASSERT_EQ(sqlstate, "");
  const auto dropped = held.get();
  EXPECT_EQ(dropped.status.code(), base::StatusCode::kUnavailable) << dropped.status.ToString();
  EXPECT_TRUE(engines_[1]->healthy());
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE user_id = 'second'"), "0");

  // The same key again, on the same node: one reservation, decided on the database's state.
  const auto again = reserve(*engines_[1], "second");
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.value.outcome, ReserveOutcome::kReserved);
  EXPECT_TRUE(engines_[1]->write_refusal().empty());
  const auto replay = reserve(*engines_[2], "second");
  ASSERT_TRUE(replay.status.ok());
  EXPECT_EQ(replay.value.outcome, ReserveOutcome::kReplayed);
  EXPECT_EQ(QueryValue("SELECT count(*) FROM reservations WHERE user_id = 'second'"), "1");
  EXPECT_EQ(QueryValue("SELECT held FROM skus WHERE sku_id = 'dropped'"), "2");
  ExpectConsistent();
}

// The bytes that once stopped a node's writer (issue: a raw 0xFF key, SQLSTATE 22021) reach
// the engine directly here, past the edge that now refuses them: only their commands fail.
TEST_F(ClusterEngineTest, DataRefusalFailsOnlyTheCommandThatCarriesIt) {
  store::PgOptions options;
  options.url = url_;
  auto store = store::PgStore::Open(options);
  ASSERT_TRUE(store) << store.error().ToString();
  auto gate = std::make_unique<test_common::GateStore>(std::move(*store));
  test_common::GateStore* gates = gate.get();
  Options engine_options;
  engine_options.seed = 100;
  auto engine = Engine::Open(std::move(engine_options), std::move(gate), clock_);
  ASSERT_TRUE(engine) << engine.error().ToString();
  engines_.push_back(std::move(*engine));
  CreateSale("poison", 100, 1, 600);
  std::vector<core::ReserveCommand> commands;
  for (int u = 0; u < 16; ++u) {
    commands.push_back({"poison", Numbered("user-", u), 1, Numbered("key-", u)});
  }
  commands[3].idempotency_key = "\xff";     // invalid UTF-8: class 22
  commands[9].idempotency_key = "caf\xe9";  // Latin-1: class 22
  commands[14].user_id = "";                // CHECK (length(user_id) >= 1): class 23
  const auto replies =
      test_common::HeldBatch(*engines_[0], *gates, {"poison", "first", 1, ""}, commands);
  int reserved = 0;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (i == 3 || i == 9 || i == 14) {
      EXPECT_EQ(replies[i].status.code(), base::StatusCode::kInvalidArgument) << i;
    } else {
      ASSERT_TRUE(replies[i].status.ok()) << i << ": " << replies[i].status.ToString();
      EXPECT_EQ(replies[i].value.outcome, ReserveOutcome::kReserved) << i;
      ++reserved;
    }
  }
  EXPECT_EQ(reserved, 13);
  EXPECT_EQ(engines_[0]->stats().commands_refused_by_store.load(), 3u);
  EXPECT_TRUE(engines_[0]->healthy());
  EXPECT_EQ(QueryValue("SELECT held FROM skus WHERE sku_id = 'poison'"), "14");
  EXPECT_EQ(QueryValue("SELECT count(*) FROM idempotency_keys"), "13");
  // The node still writes: another engine on the same database too.
  Outcomes after;
  Race({{"poison", "later", 1, ""}}, 1, after);
  EXPECT_EQ(after.reserved.load(), 1);
  ExpectConsistent();
}

// A node that does not know a SKU (no refresh since another node created it: the idle refresh
// is off here) looks it up in the database before answering unknown; a SKU found nowhere is
// remembered for the TTL, so repeated requests for it do not reach the writer or the database.
TEST_F(ClusterEngineTest, AnUnknownSkuIsLookedUpInTheDatabaseAndMissesAreRemembered) {
  base::ManualClock clock(base::TimeFromMillis(1'800'000'000'000));
  Options options;
  options.idle_wake = std::chrono::hours(1);
  options.unknown_sku_ttl = std::chrono::seconds(1);
  OpenEngines(clock, options);
  CreateSale("fresh", 10, 1, 600);
  const auto lookup = [&](int engine, const std::string& sku) {
    std::promise<std::shared_ptr<const PublishedSale>> promise;
    engines_[static_cast<std::size_t>(engine)]->LookupSale(
        sku, [&promise](std::shared_ptr<const PublishedSale> found) {
          promise.set_value(std::move(found));
        });
    return promise.get_future().get();
  };
  ASSERT_EQ(engines_[2]->FindSale("fresh"), nullptr) << "node 2 refreshed by itself";
  const auto found = lookup(2, "fresh");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->sale.total_stock, 10);
  EXPECT_NE(engines_[2]->FindSale("fresh"), nullptr);  // published by the lookup's refresh

  const auto processed = [&] { return engines_[1]->stats().commands_processed.load(); };
  const std::uint64_t before = processed();
  EXPECT_EQ(lookup(1, "nowhere"), nullptr);
  EXPECT_EQ(processed(), before + 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(lookup(1, "nowhere"), nullptr);
  EXPECT_EQ(processed(), before + 1) << "a remembered miss reached the writer";
  clock.Advance(std::chrono::milliseconds(1001));
  EXPECT_EQ(lookup(1, "nowhere"), nullptr);
  EXPECT_EQ(processed(), before + 2);
  // Created after a miss was remembered: unknown on that node until the TTL passes (or its
  // next refresh, off here), then found.
  EXPECT_EQ(lookup(1, "late"), nullptr);
  CreateSale("late", 5, 1, 600);
  EXPECT_EQ(lookup(1, "late"), nullptr);
  clock.Advance(std::chrono::milliseconds(1001));
  EXPECT_NE(lookup(1, "late"), nullptr);
}

}  // namespace
}  // namespace fs::engine
