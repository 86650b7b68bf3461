// Goal: the audit trail as stored. The engine writes one audit event per decision in the same
// SQLite transaction, including for a failed commit (nothing stored, ids stay gap-free) and
// across a reopen (the head is loaded, the chain continues). The database is append-only:
// UPDATE and DELETE are refused by triggers; an append that does not continue the chain is
// caught by verification. AuditReader, on its own read-only connection, verifies the chain
// and detects a modified, deleted, inserted or swapped row written by an attacker who dropped
// the triggers; it pages the disputes query and its reconciliation lists a broken counter.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sqlite3.h>

#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_index.h"
#include "audit/audit_reader.h"
#include "base/utf8.h"
#include "common/temp_database_test.h"
#include "crypto/sha256.h"
#include "engine/engine.h"
#include "store/fault/fault_store.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::audit {
namespace {

using base::TimeFromMillis;

class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  int Exec(const std::string& sql) {
    char* error_text = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error_text);
    last_error = error_text != nullptr ? error_text : "";
    sqlite3_free(error_text);
    return rc & 0xff;
  }
  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr), SQLITE_OK) << sql;
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(statement, 0);
      if (text != nullptr) value = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(statement);
    return value;
  }
  std::string last_error;

 private:
  sqlite3* db_ = nullptr;
};

class AuditStoreTest : public test_common::TempDatabaseTest {
 protected:
  void TearDown() override {
    engine_.reset();
    TempDatabaseTest::TearDown();
  }
  void OpenEngine(std::unique_ptr<store::Store> store = nullptr) {
    if (store == nullptr) {
      auto opened = store::SqliteStore::Open(path_, {});
      ASSERT_TRUE(opened.has_value()) << opened.status().ToString();
      store = std::move(opened).value();
    }
    engine::Options options;
    options.seed = ++seed_;  // a reopened engine must not repeat reservation ids
    auto engine = engine::Engine::Open(std::move(options), std::move(store), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  void CreateSale(const std::string& sku, std::int64_t stock) {
    core::Sale sale;
    sale.sku_id = sku;
    sale.name = "Sale " + sku;
    sale.price_cents = 100;
    sale.currency = "USD";
    sale.total_stock = stock;
    std::promise<engine::ReplyOf<engine::CreateSale>> promise;
    engine_->Submit(engine::CreateSale{sale}, [&](engine::ReplyOf<engine::CreateSale> r) {
      promise.set_value(std::move(r));
    });
    ASSERT_TRUE(promise.get_future().get().status.ok());
  }
  engine::ReplyOf<engine::Reserve> Reserve(const std::string& sku, const std::string& user) {
    std::promise<engine::ReplyOf<engine::Reserve>> promise;
    engine_->Submit(engine::Reserve{{sku, user, 1, ""}},
                    [&](engine::ReplyOf<engine::Reserve> r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  }
  // A sale of 2 units and 5 attempts: 2 granted, 3 refused (SOLD_OUT): 6 events.
  void MakeHistory() {
    OpenEngine();
    CreateSale("tee", 2);
    for (int i = 0; i < 5; ++i) Reserve("tee", "user" + std::to_string(i));
  }
  VerifyReport VerifyNow() {
    auto reader = AuditReader::Open(path_);
    EXPECT_TRUE(reader.has_value()) << reader.status().ToString();
    if (!reader) return {};
    auto report = (*reader)->Verify();
    EXPECT_TRUE(report.has_value()) << report.status().ToString();
    if (!report) return {};
    return *report;
  }

  base::ManualClock clock_{TimeFromMillis(1'800'000'000'000)};
  std::unique_ptr<engine::Engine> engine_;
  std::uint64_t seed_ = 10;
};

TEST_F(AuditStoreTest, EveryDecisionIsStoredAndTheChainVerifies) {
  MakeHistory();
  EXPECT_EQ(engine_->audit_head().event_id, 6);
  const VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.valid) << report.reason;
  EXPECT_EQ(report.events, 6);
  EXPECT_EQ(report.head.event_hash, engine_->audit_head().event_hash);
  RawDb raw(path_);
  // Stored as numbers (schema 5); the readable view shows the names.
  EXPECT_EQ(raw.QueryText("SELECT COUNT(*) FROM audit_events WHERE event_type = 0"
                          " AND outcome = 1 AND failure_reason = 'SOLD_OUT'"),
            "3");
  EXPECT_EQ(raw.QueryText("SELECT COUNT(*) FROM audit_events_readable"
                          " WHERE event_type = 'RESERVE_ATTEMPT' AND outcome = 'FAILED'"
                          " AND failure_reason = 'SOLD_OUT'"),
            "3");
  // Hashes are 32-byte BLOBs; the view shows them as the chain's hex.
  EXPECT_EQ(raw.QueryText("SELECT COUNT(*) FROM audit_events"
                          " WHERE typeof(event_hash) = 'blob' AND length(event_hash) = 32"
                          " AND typeof(prev_hash) = 'blob' AND length(prev_hash) = 32"),
            "6");
  EXPECT_EQ(raw.QueryText("SELECT event_hash FROM audit_events_readable WHERE event_id = 6"),
            report.head.event_hash);
}

TEST_F(AuditStoreTest, ReopenContinuesTheChain) {
  MakeHistory();
  const core::AuditHead head = engine_->audit_head();
  engine_.reset();
  OpenEngine();
  EXPECT_EQ(engine_->audit_head().event_id, head.event_id);
  EXPECT_EQ(engine_->audit_head().event_hash, head.event_hash);
  CreateSale("cap", 1);
  Reserve("cap", "alice");
  const VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.valid) << report.reason;
  EXPECT_EQ(report.events, 8);
}

TEST_F(AuditStoreTest, FailedCommitStoresNoEventAndLeavesNoGap) {
  auto sqlite = store::SqliteStore::Open(path_, {});
  ASSERT_TRUE(sqlite.has_value());
  auto fault = std::make_unique<store::FaultStore>(std::move(sqlite).value());
  store::FaultStore* faults = fault.get();
  OpenEngine(std::move(fault));
  CreateSale("tee", 5);
  faults->FailNextCommits(1);
  EXPECT_FALSE(Reserve("tee", "alice").status.ok());
  EXPECT_EQ(engine_->audit_head().event_id, 1);
  EXPECT_TRUE(Reserve("tee", "bob").status.ok());
  EXPECT_EQ(engine_->audit_head().event_id, 2);
  const VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.valid) << report.reason;
  EXPECT_EQ(report.events, 2);
}

TEST_F(AuditStoreTest, TriggersRefuseUpdateAndDelete) {
  MakeHistory();
  engine_.reset();
  RawDb raw(path_);
  EXPECT_EQ(raw.Exec("UPDATE audit_events SET failure_reason = NULL WHERE event_id = 4"),
            SQLITE_CONSTRAINT);
  EXPECT_NE(raw.last_error.find("append-only"), std::string::npos) << raw.last_error;
  EXPECT_EQ(raw.Exec("DELETE FROM audit_events WHERE event_id = 6"), SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec("DELETE FROM audit_events"), SQLITE_CONSTRAINT);
  // An id that exists cannot be written twice (primary key).
  const std::string insert =
      "INSERT INTO audit_events (event_id, event_type, outcome, occurred_at_ms, metadata,"
      " prev_hash, event_hash) VALUES (3, 1, 0, 0, '{}', zeroblob(32), zeroblob(32))";
  EXPECT_EQ(raw.Exec(insert), SQLITE_CONSTRAINT);
  EXPECT_TRUE(VerifyNow().valid);
}

TEST_F(AuditStoreTest, AnAppendThatDoesNotContinueTheChainFailsVerification) {
  MakeHistory();
  engine_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("INSERT INTO audit_events (event_id, event_type, outcome, occurred_at_ms,"
                       " metadata, prev_hash, event_hash) VALUES (7, 1, 0, 0, '{}',"
                       " randomblob(32), randomblob(32))"),
              SQLITE_OK)
        << raw.last_error;
  }
  const VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.valid);
  EXPECT_EQ(report.broken_event_id, 7);
  EXPECT_EQ(report.events, 6);
}

// The attacker's way in: drop the guards, then edit.
void DropGuards(RawDb& raw) {
  ASSERT_EQ(raw.Exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"),
            SQLITE_OK)
      << raw.last_error;
}

TEST_F(AuditStoreTest, VerificationDetectsEachTampering) {
  struct Case {
    const char* name;
    std::string sql;
    std::int64_t broken_event_id;
    std::int64_t verified_events;  // events before the first broken one
  };
  const std::string row3 =
      "SELECT event_type, user_id, sku_id, outcome, failure_reason, occurred_at_ms, client_ip,"
      " device_fingerprint, metadata FROM audit_events WHERE event_id = 3";
  const std::vector<Case> cases = {
      {"modified", "UPDATE audit_events SET failure_reason = 'LIMIT_EXCEEDED' WHERE event_id = 4",
       4, 3},
      {"deleted", "DELETE FROM audit_events WHERE event_id = 3", 4, 2},
      // Ids from 3 on move up by one and a forged event takes id 3.
      {"inserted",
       "UPDATE audit_events SET event_id = event_id + 1000 WHERE event_id >= 3;"
       " UPDATE audit_events SET event_id = event_id - 999 WHERE event_id > 1000;"
       " INSERT INTO audit_events SELECT 3, event_type, 'mallory', sku_id, outcome,"
       " failure_reason, occurred_at_ms, client_ip, device_fingerprint, metadata, event_hash,"
       " event_hash FROM audit_events WHERE event_id = 2",
       3, 2},
      // Rows 3 and 4 exchange their contents, ids staying in place.
      {"swapped",
       "UPDATE audit_events SET event_id = 1000 WHERE event_id = 3;"
       " UPDATE audit_events SET event_id = 3 WHERE event_id = 4;"
       " UPDATE audit_events SET event_id = 4 WHERE event_id = 1000",
       3, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    engine_.reset();
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    MakeHistory();
    engine_.reset();
    {
      RawDb raw(path_);
      DropGuards(raw);
      ASSERT_EQ(raw.Exec(c.sql), SQLITE_OK) << raw.last_error;
    }
    const VerifyReport report = VerifyNow();
    EXPECT_FALSE(report.valid);
    EXPECT_EQ(report.broken_event_id, c.broken_event_id) << report.reason;
    EXPECT_EQ(report.events, c.verified_events);
  }
}

// Turns the file back into schema 4 (names and hex text, as the audit trail's first release stored
// them), keeping every event as it was.
void DowngradeAuditTableToSchema4(RawDb& raw) {
  ASSERT_EQ(raw.Exec("BEGIN;"
                     " CREATE TABLE audit_old AS SELECT * FROM audit_events_readable;"
                     " DROP VIEW audit_events_readable;"
                     " DROP TABLE audit_events;"
                     " CREATE TABLE audit_events (event_id INTEGER NOT NULL PRIMARY KEY,"
                     "  event_type TEXT NOT NULL, user_id TEXT, sku_id TEXT,"
                     "  outcome TEXT NOT NULL, failure_reason TEXT,"
                     "  occurred_at_ms INTEGER NOT NULL, client_ip TEXT,"
                     "  device_fingerprint TEXT, metadata TEXT NOT NULL,"
                     "  prev_hash TEXT NOT NULL, event_hash TEXT NOT NULL) STRICT;"
                     " INSERT INTO audit_events SELECT * FROM audit_old;"
                     " DROP TABLE audit_old;"
                     " CREATE INDEX audit_events_by_user ON audit_events"
                     "  (user_id, sku_id, event_id);"
                     " DELETE FROM schema_version WHERE version >= 5;"
                     // Migration 8's columns go too: the migrations from 5 on run again.
                     " ALTER TABLE skus DROP COLUMN description;"
                     " ALTER TABLE skus DROP COLUMN image_url;"
                     " ALTER TABLE skus DROP COLUMN category;"
                     " ALTER TABLE skus DROP COLUMN tags;"
                     // And migration 9's column, with the trigger as migration 3 made it.
                     " DROP TRIGGER orders_immutable_columns;"
                     " ALTER TABLE orders DROP COLUMN buyer_email;"
                     // And migration 10's.
                     " ALTER TABLE orders DROP COLUMN request_id;"
                     " CREATE TRIGGER orders_immutable_columns BEFORE UPDATE OF order_id"
                     "  ON orders BEGIN SELECT RAISE(ABORT, 'immutable'); END;"
                     " COMMIT;"),
            SQLITE_OK)
      << raw.last_error;
}

TEST_F(AuditStoreTest, MigrationToBlobHashesKeepsTheChain) {
  MakeHistory();
  const core::AuditHead head = engine_->audit_head();
  engine_.reset();
  {
    RawDb raw(path_);
    DowngradeAuditTableToSchema4(raw);
    EXPECT_EQ(raw.QueryText("SELECT event_type || ' ' || outcome FROM audit_events"
                            " WHERE event_id = 6"),
              "RESERVE_ATTEMPT FAILED");
  }
  // The schema-4 file verifies as it is (a reader of a file not yet migrated)...
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.valid) << report.reason;
  EXPECT_EQ(report.events, 6);
  // ...and after migration 5, with the same head; the chain then continues.
  OpenEngine();
  EXPECT_EQ(engine_->audit_head().event_id, head.event_id);
  EXPECT_EQ(engine_->audit_head().event_hash, head.event_hash);
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.QueryText("SELECT MAX(version) FROM schema_version"),
              std::to_string(store::SqliteStore::kSchemaVersion));
    EXPECT_EQ(raw.QueryText("SELECT COUNT(*) FROM audit_events WHERE length(event_hash) = 32"),
              "6");
  }
  CreateSale("cap", 1);
  Reserve("cap", "alice");
  report = VerifyNow();
  EXPECT_TRUE(report.valid) << report.reason;
  EXPECT_EQ(report.events, 8);
}

TEST_F(AuditStoreTest, MigrationKeepsATamperedHashDetectable) {
  MakeHistory();
  engine_.reset();
  {
    RawDb raw(path_);
    DowngradeAuditTableToSchema4(raw);
    // Not hex at all: the migration cannot turn it into 32 bytes and keeps it as it is.
    ASSERT_EQ(raw.Exec("UPDATE audit_events SET event_hash = 'forged' WHERE event_id = 4;"
                       " UPDATE audit_events SET event_type = 'NO_SUCH_TYPE' WHERE event_id = 5"),
              SQLITE_OK)
        << raw.last_error;
  }
  OpenEngine();  // migrates
  engine_.reset();
  const VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.valid);
  EXPECT_EQ(report.broken_event_id, 4) << report.reason;
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryText("SELECT event_type FROM audit_events WHERE event_id = 5"), "255");
}

// Rows stored before the edge refused such bytes render as valid UTF-8 JSON; the stored bytes
// follow in hex so the hash can still be recomputed from the export.
TEST(AuditRenderTest, TextThatIsNotUtf8RendersAsValidJsonWithItsBytesInHex) {
  core::AuditEvent event;
  event.event_id = 7;
  event.type = core::AuditEventType::kReserveAttempt;
  event.user_id = std::string("caf\xe9");
  event.sku_id = std::string("sku-a");
  event.metadata = "{\"note\":\"\xff\"}";
  event.prev_hash = std::string(64, '0');
  event.event_hash = std::string(64, '1');
  const std::string rendered = RenderAuditEvent(event);
  EXPECT_TRUE(base::IsValidUtf8(rendered)) << rendered;
  rapidjson::Document document;
  ASSERT_FALSE(document.Parse(rendered.data(), rendered.size()).HasParseError()) << rendered;
  EXPECT_STREQ(document["user_id"].GetString(), "caf\xef\xbf\xbd");
  EXPECT_STREQ(document["sku_id"].GetString(), "sku-a");
  ASSERT_TRUE(document.HasMember("raw_fields_hex")) << rendered;
  EXPECT_STREQ(document["raw_fields_hex"]["user_id"].GetString(), "636166e9");
  EXPECT_STREQ(document["raw_fields_hex"]["metadata"].GetString(), "7b226e6f7465223a22ff227d");
  EXPECT_FALSE(document["raw_fields_hex"].HasMember("sku_id"));
  // Valid text has no raw fields.
  event.user_id = "alice";
  event.metadata = "{}";
  EXPECT_EQ(RenderAuditEvent(event).find("raw_fields_hex"), std::string::npos);
}

TEST_F(AuditStoreTest, DisputesQueryPagesByCursorAndFilters) {
  MakeHistory();
  Reserve("tee", "user0");  // user0 again: LIMIT_EXCEEDED
  auto reader = AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value());
  AuditQuery query;
  query.sku_id = "tee";
  query.limit = 3;
  std::vector<std::int64_t> ids;
  for (int page_index = 0; page_index < 10; ++page_index) {
    auto page = (*reader)->Query(query);
    ASSERT_TRUE(page.has_value());
    for (const auto& event : page->events) ids.push_back(event.event_id);
    if (!page->next_after_id) break;
    EXPECT_EQ(page->events.size(), 3u);
    query.after_id = *page->next_after_id;
  }
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));

  AuditQuery user0;
  user0.user_id = "user0";
  auto page = (*reader)->Query(user0);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[0].outcome, core::AuditOutcome::kSuccess);
  EXPECT_EQ(page->events[1].failure_reason, "LIMIT_EXCEEDED");
  EXPECT_FALSE(page->next_after_id.has_value());

  AuditQuery later;
  later.from = clock_.Now() + base::Millis(1);
  page = (*reader)->Query(later);
  ASSERT_TRUE(page.has_value());
  EXPECT_TRUE(page->events.empty());
}

// The ids of every event of `user` the reader returns, paging `limit` at a time.
std::vector<std::int64_t> UserEventIds(AuditReader& reader, const std::string& user, int limit,
                                       std::optional<std::string> sku = std::nullopt) {
  AuditQuery query;
  query.user_id = user;
  query.sku_id = std::move(sku);
  query.limit = limit;
  std::vector<std::int64_t> ids;
  for (int page_index = 0; page_index < 100; ++page_index) {
    auto page = reader.Query(query);
    EXPECT_TRUE(page.has_value()) << page.status().ToString();
    if (!page) break;
    for (const auto& event : page->events) {
      EXPECT_EQ(event.user_id, user);
      ids.push_back(event.event_id);
    }
    if (!page->next_after_id) break;
    query.after_id = *page->next_after_id;
  }
  return ids;
}

TEST_F(AuditStoreTest, DisputesIndexAnswersLikeAScanAndCoversTheTail) {
  MakeHistory();  // users 0..4 on "tee"
  CreateSale("cap", 10);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) Reserve(round == 2 ? "tee" : "cap", "user" + std::to_string(i));
  }
  // Without the index file: a scan of the table.
  std::vector<std::vector<std::int64_t>> scanned;
  {
    auto reader = AuditReader::Open(path_);
    ASSERT_TRUE(reader.has_value());
    for (int i = 0; i < 5; ++i)
      scanned.push_back(UserEventIds(**reader, "user" + std::to_string(i), 2));
  }
  EXPECT_EQ(scanned[3].size(), 4u);  // attempt on tee, two on cap, one more on tee
  auto indexer = AuditIndexer::Open(path_, {});
  ASSERT_TRUE(indexer.has_value()) << indexer.status().ToString();
  auto caught_up = (*indexer)->CatchUp();
  ASSERT_TRUE(caught_up.has_value()) << caught_up.status().ToString();
  EXPECT_EQ(*caught_up, engine_->audit_head().event_id);
  EXPECT_EQ((*indexer)->indexed_through(), engine_->audit_head().event_id);
  {
    RawDb index(AuditIndexPath(path_));
    EXPECT_EQ(index.QueryText("SELECT COUNT(*) FROM user_events WHERE user_id = 'user3'"), "4");
  }
  // The same answers through the index, page by page; then events the index does not cover
  // yet (the tail) are found too.
  auto reader = AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(UserEventIds(**reader, "user" + std::to_string(i), 2),
              scanned[static_cast<std::size_t>(i)]);
  }
  const std::int64_t indexed = (*indexer)->indexed_through();
  Reserve("cap", "user3");
  std::vector<std::int64_t> expected = scanned[3];
  expected.push_back(indexed + 1);
  EXPECT_EQ(UserEventIds(**reader, "user3", 1), expected);
  EXPECT_EQ(UserEventIds(**reader, "user3", 10, std::string("cap")).size(), 3u);
  ASSERT_TRUE((*indexer)->CatchUp().has_value());
  EXPECT_EQ((*indexer)->indexed_through(), indexed + 1);
  EXPECT_EQ(UserEventIds(**reader, "user3", 3), expected);
  EXPECT_EQ((*indexer)->rebuilds(), 0u);
  // The answer really comes from the index: an entry removed from it is missing.
  {
    RawDb index(AuditIndexPath(path_));
    ASSERT_EQ(index.Exec("DELETE FROM user_events WHERE user_id = 'user3' AND event_id = " +
                         std::to_string(expected.front())),
              SQLITE_OK);
  }
  EXPECT_EQ(UserEventIds(**reader, "user3", 10),
            std::vector<std::int64_t>(expected.begin() + 1, expected.end()));
}

TEST_F(AuditStoreTest, DisputesIndexOfAnotherDatabaseIsIgnoredThenRebuilt) {
  MakeHistory();
  {
    auto indexer = AuditIndexer::Open(path_, {});
    ASSERT_TRUE(indexer.has_value());
    ASSERT_TRUE((*indexer)->CatchUp().has_value());
  }
  // A different database in the same place (a restore, a new sale in an old directory): same
  // ids, other events, other hashes.
  engine_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  OpenEngine();
  CreateSale("other", 5);
  Reserve("other", "user1");  // event 2
  for (int i = 0; i < 5; ++i) Reserve("other", "user" + std::to_string(10 + i));
  Reserve("other", "user1");  // event 8
  auto reader = AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value());
  // The stale index (through event 6) says user1 has event 3 only: trusted, it would hide
  // event 2. The reader sees that event 6 is not the one indexed and scans.
  EXPECT_EQ(UserEventIds(**reader, "user1", 5), (std::vector<std::int64_t>{2, 8}));
  auto indexer = AuditIndexer::Open(path_, {});
  ASSERT_TRUE(indexer.has_value());
  ASSERT_TRUE((*indexer)->CatchUp().has_value());
  EXPECT_EQ((*indexer)->rebuilds(), 1u);
  EXPECT_EQ((*indexer)->indexed_through(), 8);
  RawDb index(AuditIndexPath(path_));
  EXPECT_EQ(index.QueryText("SELECT group_concat(event_id) FROM (SELECT event_id FROM user_events"
                            " WHERE user_id = 'user1' ORDER BY event_id)"),
            "2,8");
  EXPECT_EQ(UserEventIds(**reader, "user1", 5), (std::vector<std::int64_t>{2, 8}));
}

TEST_F(AuditStoreTest, DisputesIndexThreadFollowsTheWriter) {
  OpenEngine();
  CreateSale("tee", 1000);
  auto indexer = AuditIndexer::Open(path_, {std::chrono::milliseconds(5), 7});
  ASSERT_TRUE(indexer.has_value());
  (*indexer)->Start();
  // The writer commits while the thread indexes (chunks of 7 events, every 5 ms).
  for (int i = 0; i < 200; ++i) Reserve("tee", "user" + std::to_string(i % 40));
  const std::int64_t head = engine_->audit_head().event_id;
  for (int i = 0; i < 1000 && (*indexer)->indexed_through() < head; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*indexer)->indexed_through(), head);
  EXPECT_EQ((*indexer)->errors(), 0u);
  indexer->reset();
  RawDb index(AuditIndexPath(path_));
  // Every event has a user but the sale's creation.
  EXPECT_EQ(index.QueryText("SELECT COUNT(*) FROM user_events"), std::to_string(head - 1));
  auto reader = AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(UserEventIds(**reader, "user7", 2).size(), 5u);
}

TEST_F(AuditStoreTest, ReconciliationIsCleanThenListsABrokenCounter) {
  MakeHistory();
  {
    auto reader = AuditReader::Open(path_);
    ASSERT_TRUE(reader.has_value());
    auto report = (*reader)->Reconcile(std::string("tee"));
    ASSERT_TRUE(report.has_value()) << report.status().ToString();
    ASSERT_EQ(report->skus.size(), 1u);
    EXPECT_TRUE(report->consistent());
    EXPECT_EQ(report->skus[0].rows_held, 2);
    EXPECT_EQ(report->skus[0].oversell, 0);
    EXPECT_TRUE(report->skus[0].orders_table);  // migration 3 made it; no order is paid yet
    EXPECT_EQ((*reader)->Reconcile(std::string("nope")).status().code(),
              base::StatusCode::kNotFound);
  }
  engine_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("UPDATE skus SET held = 1 WHERE sku_id = 'tee'"), SQLITE_OK);
  }
  auto reader = AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value());
  auto report = (*reader)->Reconcile(std::nullopt);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->consistent());
  ASSERT_EQ(report->skus[0].mismatches.size(), 1u);
  EXPECT_EQ(report->skus[0].mismatches[0], "held: counter 1, rows 2");
  EXPECT_NE(RenderReconciliationTable(*report).find("MISMATCH"), std::string::npos);
}

}  // namespace
}  // namespace fs::audit
