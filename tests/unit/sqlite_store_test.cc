// Goal: the SQLite store persists every mutation kind exactly and reloads it after a reopen,
// and the database itself is a second guard: its triggers keep held/sold/user_units equal to
// the reservation rows, and an oversell, a per-user-limit violation, an illegal or mismatched
// status change, or a direct SQL edit through another connection is refused with nothing
// changed. Also: error codes (kInternal for a refused guard, kUnavailable for a lock),
// idempotent migrations, pragmas, and ParseSynchronous.
#include "store/sqlite/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include "audit/audit_reader.h"
#include "common/store_rows.h"
#include "common/temp_database_test.h"

namespace fs::store {
namespace {

using base::StatusCode;
using base::TimeFromMillis;
using core::ReservationStatus;
using testing::HasSubstr;

using test_rows::kT0;
using test_rows::MakeReservation;
using test_rows::MakeSale;
using test_rows::Numbered;

core::Mutation Created(const core::Reservation& reservation) {
  return core::ReservationCreated{reservation};
}

core::Mutation Changed(const std::string& id, const std::string& sku_id, ReservationStatus from,
                       ReservationStatus to, std::int64_t at_offset_ms = 5) {
  return core::ReservationStatusChanged{id, sku_id, from, to, kT0 + base::Millis(at_offset_ms)};
}

core::IdempotencyRecord MakeRecord(const std::string& user_id, const std::string& key,
                                   base::Time created_at) {
  core::IdempotencyRecord record;
  record.user_id = user_id;
  record.key = key;
  record.request_fingerprint = "reserve|sku-a|1";
  record.http_status = 201;
  record.response_body = R"({"reservation_id":"r-1"})";
  record.created_at = created_at;
  return record;
}

// A second, plain connection: what an operator or an attacker with file access can do.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Returns the primary result code of running `sql`.
  int Exec(const std::string& sql) {
    char* error_text = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error_text);
    last_error_ = error_text != nullptr ? error_text : "";
    sqlite3_free(error_text);
    return rc & 0xff;
  }
  std::int64_t QueryInt(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr), SQLITE_OK) << sql;
    std::int64_t value = -1;
    if (sqlite3_step(statement) == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
  }
  // Every row of every table as text: "nothing changed" means this is equal.
  std::string Dump() {
    std::string out;
    for (const char* sql :
         {"SELECT * FROM skus ORDER BY sku_id", "SELECT * FROM reservations ORDER BY rowid",
          "SELECT * FROM user_units ORDER BY sku_id, user_id",
          "SELECT * FROM idempotency_keys ORDER BY user_id, idem_key"}) {
      sqlite3_stmt* statement = nullptr;
      EXPECT_EQ(sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr), SQLITE_OK) << sql;
      out += sql;
      out += '\n';
      while (sqlite3_step(statement) == SQLITE_ROW) {
        for (int column = 0; column < sqlite3_column_count(statement); ++column) {
          const unsigned char* text = sqlite3_column_text(statement, column);
          out += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
          out += '|';
        }
        out += '\n';
      }
      sqlite3_finalize(statement);
    }
    return out;
  }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

class SqliteStoreTest : public test_common::TempDatabaseTest {
 protected:
  std::unique_ptr<SqliteStore> OpenStore(SqliteOptions options = {}) {
    auto store = SqliteStore::Open(path_, options);
    EXPECT_TRUE(store.has_value()) << store.status().ToString();
    if (!store) return nullptr;
    return std::move(*store);
  }

  // Commits and expects success.
  void MustCommit(SqliteStore& store, const core::Mutations& mutations) {
    const base::Status status = store.Commit(mutations);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  // held and sold on every sku equal the sums over its reservation rows, and every user's
  // units equal the sum over their held or purchased reservations.
  void ExpectCountersMatchRows() {
    RawDb raw(path_);
    EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM skus s WHERE s.held <> (SELECT"
                           " COALESCE(SUM(quantity), 0) FROM reservations r"
                           " WHERE r.sku_id = s.sku_id AND r.status IN (1, 2))"),
              0);
    EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM skus s WHERE s.sold <> (SELECT"
                           " COALESCE(SUM(quantity), 0) FROM reservations r"
                           " WHERE r.sku_id = s.sku_id AND r.status = 3)"),
              0);
    EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM user_units u WHERE u.units <> (SELECT"
                           " COALESCE(SUM(quantity), 0) FROM reservations r WHERE"
                           " r.sku_id = u.sku_id AND r.user_id = u.user_id"
                           " AND r.status IN (1, 2, 3))"),
              0);
    EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM (SELECT DISTINCT sku_id, user_id FROM"
                           " reservations) g WHERE NOT EXISTS (SELECT 1 FROM user_units u"
                           " WHERE u.sku_id = g.sku_id AND u.user_id = g.user_id)"),
              0);
  }

  std::optional<StoredCounters> CountersOf(SqliteStore& store, const std::string& sku_id) {
    auto counters = store.ReadCounters();
    EXPECT_TRUE(counters.has_value()) << counters.status().ToString();
    if (!counters) return std::nullopt;
    for (const StoredCounters& entry : *counters) {
      if (entry.sku_id == sku_id) return entry;
    }
    return std::nullopt;
  }
};

// ---------------------------------------------------------------------------------------------

TEST(ParseSynchronousTest, Table) {
  struct Case {
    const char* text;
    std::optional<SqliteOptions::Synchronous> expected;
  };
  const Case cases[] = {
      {"full", SqliteOptions::Synchronous::kFull},
      {"normal", SqliteOptions::Synchronous::kNormal},
      {"off", SqliteOptions::Synchronous::kOff},
      {"", std::nullopt},
      {"FULL", std::nullopt},
      {"Full", std::nullopt},
      {"full ", std::nullopt},
      {" off", std::nullopt},
      {"extra", std::nullopt},
      {"2", std::nullopt},
      {"fullx", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto parsed = ParseSynchronous(c.text);
    if (c.expected) {
      ASSERT_TRUE(parsed.has_value());
      EXPECT_EQ(*parsed, *c.expected);
      EXPECT_EQ(SynchronousName(*parsed), c.text);
    } else {
      ASSERT_FALSE(parsed.has_value());
      EXPECT_EQ(parsed.error().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(SqliteStoreTest, OpenSetsAndVerifiesPragmas) {
  struct Case {
    SqliteOptions::Synchronous synchronous;
    std::int64_t pragma_value;
  };
  const Case cases[] = {{SqliteOptions::Synchronous::kFull, 2},
                        {SqliteOptions::Synchronous::kNormal, 1},
                        {SqliteOptions::Synchronous::kOff, 0}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pragma_value);
    SqliteOptions options;
    options.synchronous = c.synchronous;
    options.busy_timeout = std::chrono::milliseconds(1234);
    auto store = OpenStore(options);
    ASSERT_NE(store, nullptr);
    auto settings = store->ReadEffectiveSettings();
    ASSERT_TRUE(settings.has_value()) << settings.status().ToString();
    EXPECT_EQ(settings->journal_mode, "wal");
    EXPECT_EQ(settings->synchronous, c.pragma_value);
    EXPECT_TRUE(settings->foreign_keys);
    EXPECT_EQ(settings->busy_timeout_ms, 1234);
    EXPECT_EQ(settings->schema_version, SqliteStore::kSchemaVersion);
  }
}

TEST_F(SqliteStoreTest, DefaultOptionsAreFullSyncAndFiveSecondBusyTimeout) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto settings = store->ReadEffectiveSettings();
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->synchronous, 2);
  EXPECT_EQ(settings->busy_timeout_ms, 5000);
}

TEST_F(SqliteStoreTest, OpenRefusesMissingDirectoryAndNegativeTimeout) {
  auto missing = SqliteStore::Open((directory_ / "no-such-dir" / "x.db").string(), {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kFailedPrecondition);

  SqliteOptions options;
  options.busy_timeout = std::chrono::milliseconds(-1);
  auto negative = SqliteStore::Open(path_, options);
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, OpenRefusesAFileThatIsNotADatabase) {
  {
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    const std::string junk(4096, 'x');
    std::fwrite(junk.data(), 1, junk.size(), file);
    std::fclose(file);
  }
  auto store = SqliteStore::Open(path_, {});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kDataLoss);
}

TEST_F(SqliteStoreTest, ReopenKeepsDataAndMigrationIsIdempotent) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 10, 2)},
                        Created(MakeReservation("r-1", "sku-a", "alice", 2))});
  }
  const std::string before = RawDb(path_).Dump();
  for (int reopen = 0; reopen < 3; ++reopen) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto loaded = store->Load(kT0);
    ASSERT_TRUE(loaded.has_value()) << loaded.status().ToString();
    EXPECT_EQ(loaded->sales.size(), 1u);
    EXPECT_EQ(loaded->reservations.size(), 1u);
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.Dump(), before);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM schema_version"), SqliteStore::kSchemaVersion);
  EXPECT_EQ(raw.QueryInt("SELECT MAX(version) FROM schema_version"), SqliteStore::kSchemaVersion);
  // 6 guards of migration 1, 2 of the audit trail (migration 2, re-created by 5), 7 of orders
  // and the outbox (migration 3), 8 of the waiting room (migration 4), the outbox's delete
  // guard (migration 6).
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"), 24);
}

TEST_F(SqliteStoreTest, OpenRefusesASchemaNewerThanTheBinary) {
  { ASSERT_NE(OpenStore(), nullptr); }
  {
    RawDb raw(path_);
    const std::string newer = "INSERT INTO schema_version VALUES (" +
                              std::to_string(SqliteStore::kSchemaVersion + 1) + ", 0)";
    ASSERT_EQ(raw.Exec(newer.c_str()), SQLITE_OK);
  }
  auto store = SqliteStore::Open(path_, {});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
}

void ExpectSaleEq(const core::Sale& actual, const core::Sale& expected) {
  EXPECT_EQ(actual.sku_id, expected.sku_id);
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.price_cents, expected.price_cents);
  EXPECT_EQ(actual.currency, expected.currency);
  EXPECT_EQ(actual.total_stock, expected.total_stock);
  EXPECT_EQ(actual.per_user_limit, expected.per_user_limit);
  EXPECT_EQ(actual.reservation_ttl_seconds, expected.reservation_ttl_seconds);
  EXPECT_EQ(actual.starts_at, expected.starts_at);
  EXPECT_EQ(actual.ends_at, expected.ends_at);
  EXPECT_EQ(actual.override_state, expected.override_state);
  EXPECT_EQ(actual.created_at, expected.created_at);
}

void ExpectReservationEq(const core::Reservation& actual, const core::Reservation& expected) {
  EXPECT_EQ(actual.reservation_id, expected.reservation_id);
  EXPECT_EQ(actual.sku_id, expected.sku_id);
  EXPECT_EQ(actual.user_id, expected.user_id);
  EXPECT_EQ(actual.quantity, expected.quantity);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.expires_at, expected.expires_at);
  EXPECT_EQ(actual.updated_at, expected.updated_at);
}

void ExpectRecordEq(const core::IdempotencyRecord& actual,
                    const core::IdempotencyRecord& expected) {
  EXPECT_EQ(actual.user_id, expected.user_id);
  EXPECT_EQ(actual.key, expected.key);
  EXPECT_EQ(actual.request_fingerprint, expected.request_fingerprint);
  EXPECT_EQ(actual.http_status, expected.http_status);
  EXPECT_EQ(actual.response_body, expected.response_body);
  EXPECT_EQ(actual.created_at, expected.created_at);
}

TEST_F(SqliteStoreTest, RoundTripsEveryMutationKindAfterReopen) {
  core::Sale scheduled = MakeSale("sku-a", 100, 5);
  scheduled.starts_at = kT0 + base::Millis(60'000);
  scheduled.ends_at = kT0 + base::Millis(3'600'000);
  scheduled.override_state = core::SaleOverride::kOpened;
  scheduled.reservation_ttl_seconds = 300;
  core::Sale plain = MakeSale("sku-b", 7, 1);
  plain.name = "Ünïcode name ✓";
  plain.override_state = core::SaleOverride::kClosed;

  core::Reservation r1 = MakeReservation("r-1", "sku-a", "alice", 2);
  core::Reservation r2 = MakeReservation("r-2", "sku-a", "bob", 1);
  core::Reservation r3 = MakeReservation("r-3", "sku-a", "carol", 3);
  core::Reservation r4 = MakeReservation("r-4", "sku-b", "alice", 1);
  core::IdempotencyRecord old_record = MakeRecord("alice", "key-old", kT0 - base::Millis(10));
  core::IdempotencyRecord new_record = MakeRecord("alice", "key-new", kT0 + base::Millis(10));
  new_record.response_body = "";  // an empty body stays an empty string, not NULL

  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    MustCommit(*store, {core::SaleCreated{scheduled}, core::SaleCreated{plain}, Created(r1),
                        Created(r2), Created(r3), Created(r4), core::IdempotencyStored{old_record},
                        core::IdempotencyStored{new_record}});
    MustCommit(
        *store,
        {Changed("r-1", "sku-a", ReservationStatus::kReserved, ReservationStatus::kCheckoutPending,
                 10),
         Changed("r-1", "sku-a", ReservationStatus::kCheckoutPending, ReservationStatus::kPurchased,
                 20),
         Changed("r-2", "sku-a", ReservationStatus::kReserved, ReservationStatus::kExpired, 30),
         Changed("r-4", "sku-b", ReservationStatus::kReserved, ReservationStatus::kReleased, 40),
         core::IdempotencyPruned{kT0}});
  }
  r1.status = ReservationStatus::kPurchased;
  r1.updated_at = kT0 + base::Millis(20);
  r2.status = ReservationStatus::kExpired;
  r2.updated_at = kT0 + base::Millis(30);
  r4.status = ReservationStatus::kReleased;
  r4.updated_at = kT0 + base::Millis(40);

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto loaded = store->Load(kT0 - base::Millis(1'000'000));
  ASSERT_TRUE(loaded.has_value()) << loaded.status().ToString();
  ASSERT_EQ(loaded->sales.size(), 2u);
  ExpectSaleEq(loaded->sales[0], scheduled);
  ExpectSaleEq(loaded->sales[1], plain);
  // Recovery loads the active reservation; the ended ones are read from the database.
  ASSERT_EQ(loaded->reservations.size(), 1u);
  ExpectReservationEq(loaded->reservations[0], r3);
  auto reader = audit::AuditReader::Open(path_);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  for (const core::Reservation& ended : {r1, r2, r4}) {
    auto stored = (*reader)->ReadReservation(ended.reservation_id);
    ASSERT_TRUE(stored.has_value() && stored->has_value()) << ended.reservation_id;
    ExpectReservationEq(**stored, ended);
  }
  auto missing = (*reader)->ReadReservation("r-none");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
  ASSERT_EQ(loaded->counters.size(), 2u);
  EXPECT_EQ(loaded->counters[0].sold, 2);  // r-1, not loaded itself
  // alice bought 2 of sku-a (r-1), carol holds 3 (r-3); r-2 and r-4 ended without a purchase.
  ASSERT_EQ(loaded->user_units.size(), 2u);
  ASSERT_EQ(loaded->idempotency.size(), 1u);  // the old key was pruned
  ExpectRecordEq(loaded->idempotency[0], new_record);

  auto counters = store->ReadCounters();
  ASSERT_TRUE(counters.has_value());
  ASSERT_EQ(counters->size(), 2u);
  EXPECT_EQ((*counters)[0].sku_id, "sku-a");
  EXPECT_EQ((*counters)[0].total_stock, 100);
  EXPECT_EQ((*counters)[0].held, 3);  // r-3
  EXPECT_EQ((*counters)[0].sold, 2);  // r-1
  EXPECT_EQ((*counters)[1].sku_id, "sku-b");
  EXPECT_EQ((*counters)[1].held, 0);
  EXPECT_EQ((*counters)[1].sold, 0);
  ExpectCountersMatchRows();
}

TEST_F(SqliteStoreTest, EmptyCommitDoesNotTouchTheDatabase) {
  SqliteOptions options;
  options.busy_timeout = std::chrono::milliseconds(0);
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  RawDb raw(path_);
  // Another connection holds the write lock: any real transaction would fail with BUSY.
  ASSERT_EQ(raw.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  EXPECT_TRUE(store->Commit({}).ok());
  ASSERT_EQ(raw.Exec("ROLLBACK"), SQLITE_OK);
}

TEST_F(SqliteStoreTest, LockedDatabaseIsUnavailableAndTheSameBatchSucceedsLater) {
  SqliteOptions options;
  options.busy_timeout = std::chrono::milliseconds(0);
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  const core::Mutations batch = {core::SaleCreated{MakeSale("sku-a", 10, 2)}};
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
    const base::Status status = store->Commit(batch);
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
    ASSERT_EQ(raw.Exec("ROLLBACK"), SQLITE_OK);
  }
  MustCommit(*store, batch);
  EXPECT_TRUE(CountersOf(*store, "sku-a").has_value());
}

TEST_F(SqliteStoreTest, TriggerCountersEqualTheRows) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 50, 3)},
                      core::SaleCreated{MakeSale("sku-b", 5, 5)}});
  core::Mutations batch;
  for (int i = 0; i < 20; ++i) {
    const std::string sku = i % 4 == 0 ? "sku-b" : "sku-a";
    if (sku == "sku-b" && i >= 16) continue;  // sku-b: r-0, r-4, r-8, r-12 of 5 units
    batch.push_back(Created(MakeReservation(Numbered("r-", i), sku, Numbered("u", i % 7), 1)));
  }
  MustCommit(*store, batch);
  MustCommit(
      *store,
      {Changed("r-1", "sku-a", ReservationStatus::kReserved, ReservationStatus::kCheckoutPending),
       Changed("r-2", "sku-a", ReservationStatus::kReserved, ReservationStatus::kCheckoutPending),
       Changed("r-2", "sku-a", ReservationStatus::kCheckoutPending, ReservationStatus::kPurchased),
       Changed("r-3", "sku-a", ReservationStatus::kReserved, ReservationStatus::kExpired),
       Changed("r-0", "sku-b", ReservationStatus::kReserved, ReservationStatus::kReleased),
       Changed("r-1", "sku-a", ReservationStatus::kCheckoutPending, ReservationStatus::kReleased)});
  ExpectCountersMatchRows();
  const auto a = CountersOf(*store, "sku-a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->held, 12);  // 15 created - r-1 released - r-2 purchased - r-3 expired
  EXPECT_EQ(a->sold, 1);
  const auto b = CountersOf(*store, "sku-b");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->held, 3);
  EXPECT_EQ(b->sold, 0);
}

TEST_F(SqliteStoreTest, OversellingBatchIsRefusedAndChangesNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 3, 5)},
                      Created(MakeReservation("r-1", "sku-a", "alice", 2))});
  RawDb raw(path_);
  const std::string before = raw.Dump();

  // A batch that starts fine and oversells on its last reservation.
  const base::Status status = store->Commit({core::SaleCreated{MakeSale("sku-b", 1, 1)},
                                             core::IdempotencyStored{MakeRecord("bob", "k1", kT0)},
                                             Created(MakeReservation("r-2", "sku-a", "bob", 1)),
                                             Created(MakeReservation("r-3", "sku-a", "carol", 1))});
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("no_oversell"));
  EXPECT_THAT(status.message(), HasSubstr("mutation 3"));

  EXPECT_EQ(raw.Dump(), before);
  const auto counters = CountersOf(*store, "sku-a");
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->held, 2);
  EXPECT_EQ(counters->sold, 0);
  EXPECT_FALSE(CountersOf(*store, "sku-b").has_value());

  // The store is still usable: the last unit can go.
  MustCommit(*store, {Created(MakeReservation("r-2", "sku-a", "bob", 1))});
  ExpectCountersMatchRows();
}

TEST_F(SqliteStoreTest, OversellThroughAPurchaseIsRefusedToo) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 1, 1)}});
  // One quantity, two reservations of one unit each in one batch: the second oversells.
  const base::Status status = store->Commit(
      {Created(MakeReservation("r-1", "sku-a", "alice", 1)),
       Changed("r-1", "sku-a", ReservationStatus::kReserved, ReservationStatus::kCheckoutPending),
       Changed("r-1", "sku-a", ReservationStatus::kCheckoutPending, ReservationStatus::kPurchased),
       Created(MakeReservation("r-2", "sku-a", "bob", 1))});
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM reservations"), 0);
  EXPECT_EQ(raw.QueryInt("SELECT held + sold FROM skus"), 0);
}

TEST_F(SqliteStoreTest, PerUserLimitViolationIsRefusedAndChangesNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 100, 2)},
                      Created(MakeReservation("r-1", "sku-a", "alice", 1))});
  RawDb raw(path_);
  const std::string before = raw.Dump();

  const base::Status status = store->Commit({Created(MakeReservation("r-2", "sku-a", "bob", 2)),
                                             Created(MakeReservation("r-3", "sku-a", "alice", 2))});
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("per-user limit exceeded"));
  EXPECT_EQ(raw.Dump(), before);
  EXPECT_EQ(raw.QueryInt("SELECT units FROM user_units WHERE user_id = 'alice'"), 1);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM user_units WHERE user_id = 'bob'"), 0);

  // Exactly at the limit is fine; a purchased unit still counts; a released one does not.
  MustCommit(*store, {Created(MakeReservation("r-3", "sku-a", "alice", 1))});
  MustCommit(*store, {Changed("r-1", "sku-a", ReservationStatus::kReserved,
                              ReservationStatus::kCheckoutPending),
                      Changed("r-1", "sku-a", ReservationStatus::kCheckoutPending,
                              ReservationStatus::kPurchased)});
  EXPECT_EQ(store->Commit({Created(MakeReservation("r-4", "sku-a", "alice", 1))}).code(),
            StatusCode::kInternal);
  MustCommit(*store,
             {Changed("r-3", "sku-a", ReservationStatus::kReserved, ReservationStatus::kReleased),
              Created(MakeReservation("r-4", "sku-a", "alice", 1))});
  EXPECT_EQ(raw.QueryInt("SELECT units FROM user_units WHERE user_id = 'alice'"), 2);
  ExpectCountersMatchRows();
}

// Drives a fresh reservation to `from` along allowed edges, then tries from -> to: the
// database must agree with core::IsAllowedTransition on every one of the 25 pairs.
TEST_F(SqliteStoreTest, StatusTransitionsFollowTheStateMachineExactly) {
  using S = ReservationStatus;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 1000, 1000)}});
  const S all[] = {S::kReserved, S::kCheckoutPending, S::kPurchased, S::kExpired, S::kReleased};
  int next_id = 0;
  for (S from : all) {
    for (S to : all) {
      SCOPED_TRACE(std::string(core::ReservationStatusName(from)) + " -> " +
                   std::string(core::ReservationStatusName(to)));
      const std::string id = Numbered("r-", next_id++);
      core::Mutations setup = {Created(MakeReservation(id, "sku-a", "user-" + id, 1))};
      if (from == S::kCheckoutPending || from == S::kPurchased) {
        setup.push_back(Changed(id, "sku-a", S::kReserved, S::kCheckoutPending));
      }
      if (from == S::kPurchased) {
        setup.push_back(Changed(id, "sku-a", S::kCheckoutPending, S::kPurchased));
      }
      if (from == S::kExpired || from == S::kReleased) {
        setup.push_back(Changed(id, "sku-a", S::kReserved, from));
      }
      MustCommit(*store, setup);
      RawDb raw(path_);
      const std::string before = raw.Dump();
      const base::Status status = store->Commit({Changed(id, "sku-a", from, to)});
      if (core::IsAllowedTransition(from, to)) {
        EXPECT_TRUE(status.ok()) << status.ToString();
      } else {
        EXPECT_EQ(status.code(), StatusCode::kInternal);
        EXPECT_THAT(status.message(), HasSubstr("illegal reservation status transition"));
        EXPECT_EQ(raw.Dump(), before);
      }
    }
  }
  ExpectCountersMatchRows();
}

TEST_F(SqliteStoreTest, ExpiredToPurchasedIsRefusedInsideALargerBatch) {
  using S = ReservationStatus;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 10, 2)},
                      Created(MakeReservation("r-1", "sku-a", "alice", 1)),
                      Changed("r-1", "sku-a", S::kReserved, S::kExpired)});
  RawDb raw(path_);
  const std::string before = raw.Dump();
  const base::Status status = store->Commit({Created(MakeReservation("r-2", "sku-a", "bob", 1)),
                                             Changed("r-1", "sku-a", S::kExpired, S::kPurchased)});
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_EQ(raw.Dump(), before);
  EXPECT_EQ(raw.QueryInt("SELECT status FROM reservations WHERE reservation_id = 'r-1'"), 4);
}

TEST_F(SqliteStoreTest, StatusChangeThatMatchesNoRowIsRefused) {
  using S = ReservationStatus;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 10, 2)},
                      core::SaleCreated{MakeSale("sku-b", 10, 2)},
                      Created(MakeReservation("r-1", "sku-a", "alice", 1)),
                      Created(MakeReservation("r-2", "sku-a", "bob", 1))});
  RawDb raw(path_);
  const std::string before = raw.Dump();
  struct Case {
    const char* name;
    core::Mutation change;
  };
  const Case cases[] = {
      // The row is RESERVED, the writer believes CHECKOUT_PENDING.
      {"from does not match", Changed("r-1", "sku-a", S::kCheckoutPending, S::kPurchased)},
      {"unknown reservation", Changed("r-404", "sku-a", S::kReserved, S::kReleased)},
      {"other sku", Changed("r-1", "sku-b", S::kReserved, S::kReleased)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const base::Status status =
        store->Commit({Changed("r-2", "sku-a", S::kReserved, S::kCheckoutPending), c.change});
    EXPECT_EQ(status.code(), StatusCode::kInternal);
    EXPECT_THAT(status.message(), HasSubstr("matched 0 rows"));
    EXPECT_EQ(raw.Dump(), before);
  }
}

TEST_F(SqliteStoreTest, WriterBugsInInsertsAreRefused) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 10, 2)},
                      core::IdempotencyStored{MakeRecord("alice", "k1", kT0)},
                      Created(MakeReservation("r-1", "sku-a", "alice", 1))});
  RawDb raw(path_);
  const std::string before = raw.Dump();

  core::Reservation not_reserved = MakeReservation("r-2", "sku-a", "bob", 1);
  not_reserved.status = ReservationStatus::kPurchased;
  core::Reservation zero_quantity = MakeReservation("r-3", "sku-a", "bob", 0);
  core::Sale invalid_sale = MakeSale("sku-c", 10, 0);
  // A trigger's RAISE is a guard (kInternal: the writer stops); a declarative constraint is
  // one command's data (kInvalidArgument: the batch is committed again without it).
  struct Case {
    const char* name;
    core::Mutation mutation;
    StatusCode code;
  };
  const Case cases[] = {
      {"created not RESERVED", Created(not_reserved), StatusCode::kInternal},
      {"unknown sku", Created(MakeReservation("r-2", "sku-zz", "bob", 1)), StatusCode::kInternal},
      {"duplicate reservation id", Created(MakeReservation("r-1", "sku-a", "bob", 1)),
       StatusCode::kInvalidArgument},
      {"zero quantity", Created(zero_quantity), StatusCode::kInvalidArgument},
      {"duplicate sale", core::SaleCreated{MakeSale("sku-a", 10, 2)}, StatusCode::kInvalidArgument},
      {"per_user_limit zero", core::SaleCreated{invalid_sale}, StatusCode::kInvalidArgument},
      {"duplicate idempotency key", core::IdempotencyStored{MakeRecord("alice", "k1", kT0)},
       StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const base::Status status = store->Commit({c.mutation});
    EXPECT_EQ(status.code(), c.code) << status.ToString();
    EXPECT_EQ(raw.Dump(), before);
  }
  ExpectCountersMatchRows();
}

TEST_F(SqliteStoreTest, DirectSqlAttacksAreRefusedByTheDatabase) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 10, 2)},
                      Created(MakeReservation("r-1", "sku-a", "alice", 2))});
  RawDb raw(path_);  // no foreign_keys pragma: the triggers must not depend on it
  const std::string before = raw.Dump();
  const char* attacks[] = {
      "UPDATE skus SET held = total_stock + 1",
      "UPDATE skus SET sold = total_stock - held + 1",
      "UPDATE skus SET held = -1",
      "UPDATE skus SET total_stock = 1",
      "DELETE FROM reservations",
      "DELETE FROM skus",
      "UPDATE reservations SET quantity = 1",
      "UPDATE reservations SET user_id = 'mallory'",
      "UPDATE reservations SET sku_id = 'sku-b'",
      "UPDATE reservations SET reservation_id = 'r-2'",
      "UPDATE reservations SET status = 3",  // RESERVED -> PURCHASED skips checkout
      "UPDATE reservations SET status = 9",
      "INSERT INTO reservations VALUES ('r-9', 'sku-a', 'bob', 1, 3, 0, 1, 0)",
      "INSERT INTO reservations VALUES ('r-9', 'sku-a', 'bob', 11, 1, 0, 1, 0)",
      "INSERT INTO reservations VALUES ('r-9', 'sku-a', 'alice', 1, 1, 0, 1, 0)",
      "INSERT INTO reservations VALUES ('r-9', 'nope', 'bob', 1, 1, 0, 1, 0)",
      "INSERT INTO skus (sku_id, name, price_cents, currency, total_stock, per_user_limit,"
      " reservation_ttl_seconds, override_state, created_at_ms, held)"
      " VALUES ('sku-x', 'x', 1, 'EUR', 5, 1, 60, 0, 0, 3)",
      "UPDATE user_units SET units = -1",
      "UPDATE skus SET held = 'lots'",
  };
  for (const char* sql : attacks) {
    SCOPED_TRACE(sql);
    EXPECT_EQ(raw.Exec(sql), SQLITE_CONSTRAINT) << raw.last_error();
    EXPECT_EQ(raw.Dump(), before);
  }
  ExpectCountersMatchRows();
  const auto counters = CountersOf(*store, "sku-a");
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->held, 2);
}

TEST_F(SqliteStoreTest, IdempotencyPruneDeletesOnlyOlderRows) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::IdempotencyStored{MakeRecord("u1", "a", kT0 + base::Millis(100))},
                      core::IdempotencyStored{MakeRecord("u1", "b", kT0 + base::Millis(200))},
                      core::IdempotencyStored{MakeRecord("u2", "a", kT0 + base::Millis(300))}});
  // Records created exactly at `before` are kept.
  MustCommit(*store, {core::IdempotencyPruned{kT0 + base::Millis(200)}});
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM idempotency_keys"), 2);
  EXPECT_EQ(raw.QueryInt("SELECT MIN(created_at_ms) FROM idempotency_keys"),
            base::ToMillis(kT0 + base::Millis(200)));

  auto loaded = store->Load(kT0 + base::Millis(250));
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->idempotency.size(), 1u);
  EXPECT_EQ(loaded->idempotency[0].user_id, "u2");
  auto all = store->Load(kT0 + base::Millis(200));
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->idempotency.size(), 2u);

  // Pruning with nothing old enough changes nothing and is not an error.
  MustCommit(*store, {core::IdempotencyPruned{kT0}});
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM idempotency_keys"), 2);
}

// ---------------------------------------------------------------------------------------------
// Background checkpoints (sqlite_checkpointer.h): the WAL is copied into the database file by
// the store's own thread while the writer keeps committing; nothing committed is lost, and the
// writer checkpoints by itself only when the WAL passed the hard limit.

std::uintmax_t FileSize(const std::string& path) {
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

// `batches` commits of `per_batch` new reservations of sku-a, by distinct users.
void CommitReservations(SqliteStore& store, int batches, int per_batch) {
  for (int batch = 0; batch < batches; ++batch) {
    core::Mutations mutations;
    for (int i = 0; i < per_batch; ++i) {
      const int n = batch * per_batch + i;
      mutations.push_back(
          Created(MakeReservation(Numbered("r-", n), "sku-a", Numbered("u", n), 1)));
    }
    const base::Status status = store.Commit(mutations);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
}

TEST_F(SqliteStoreTest, BackgroundThreadCheckpointsWhileTheWriterCommits) {
  SqliteOptions options;
  options.checkpoint_pages = 4;  // small: many checkpoints while the loop below commits
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 1'000'000, 1)}});
  const std::uintmax_t database_bytes_before = FileSize(path_);
  constexpr int kBatches = 150;
  constexpr int kPerBatch = 40;
  CommitReservations(*store, kBatches, kPerBatch);
  // The thread runs beside the commits above; give it the time to finish its last request.
  for (int i = 0; i < 500 && store->background_checkpoints() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(store->background_checkpoints(), 0u);
  // Pages reached the database file itself, not only the WAL.
  EXPECT_GT(FileSize(path_), database_bytes_before + 100'000);
  const auto counters = CountersOf(*store, "sku-a");
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->held, kBatches * kPerBatch);
  store.reset();
  // Everything committed is there after a reopen.
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM reservations"), kBatches * kPerBatch);
  EXPECT_EQ(raw.QueryInt("SELECT held FROM skus WHERE sku_id = 'sku-a'"), kBatches * kPerBatch);
}

TEST_F(SqliteStoreTest, WriterBoundsTheWalWhenCheckpointsCannotKeepUp) {
  SqliteOptions options;
  options.checkpoint_pages = 2;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 1'000'000, 1)}});
  // A reader's open snapshot: no checkpoint can copy past it nor restart the WAL, so the WAL
  // grows past the hard limit whatever the thread does.
  RawDb reader(path_);
  ASSERT_EQ(reader.Exec("BEGIN"), SQLITE_OK);
  ASSERT_EQ(reader.QueryInt("SELECT COUNT(*) FROM skus"), 1);
  CommitReservations(*store, 60, 40);
  // The writer's fallback ran once the WAL passed 2 x kWriterCheckpointFactor pages.
  EXPECT_GT(store->writer_checkpoints(), 0u);
  ASSERT_EQ(reader.Exec("COMMIT"), SQLITE_OK);
  const auto counters = CountersOf(*store, "sku-a");
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->held, 60 * 40);
}

TEST_F(SqliteStoreTest, CheckpointInTheWriterIsStillAvailable) {
  SqliteOptions options;
  options.background_checkpoint = false;
  options.checkpoint_pages = 4;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 1'000'000, 1)}});
  CommitReservations(*store, 20, 40);
  EXPECT_EQ(store->background_checkpoints(), 0u);
  EXPECT_EQ(store->writer_checkpoints(), 0u);  // SQLite's own hook ran them
  EXPECT_GT(FileSize(path_), 100'000u);
  SqliteOptions bad;
  bad.checkpoint_pages = 0;
  EXPECT_EQ(SqliteStore::Open(path_, bad).status().code(), StatusCode::kInvalidArgument);
}

// Migration 6 rebuilds the outbox (generated event_id, no AUTOINCREMENT): a file written with
// the schema-3 outbox keeps every row and id, new ids continue above them, and the new table
// refuses what the old one did, plus deletes.
core::Mutation Event(const std::string& sku_id, std::int64_t sequence) {
  core::OutboxEvent event;
  event.event_id = sku_id + ":" + std::to_string(sequence);
  event.type = "reservation.created";
  event.sku_id = sku_id;
  event.user_id = "u1";
  event.sequence = sequence;
  event.occurred_at = kT0;
  event.payload_json = R"({"n":)" + std::to_string(sequence) + "}";
  return core::EventAppended{event};
}

TEST_F(SqliteStoreTest, OutboxMigrationKeepsRowsAndIds) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    MustCommit(*store, {core::SaleCreated{MakeSale("sku-a", 10, 2)}, Event("sku-a", 1),
                        Event("sku-a", 2), Event("sku-a", 3)});
  }
  {
    // Back to the schema-3 outbox, with ids 1, 2 and 7 (a gap, as rolled-back ids could leave).
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("BEGIN;"
                       " CREATE TABLE outbox_old AS SELECT id, type, sku_id, user_id,"
                       "  sku_sequence, occurred_at_ms, payload FROM outbox;"
                       " DROP TABLE outbox;"
                       " CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  event_id TEXT NOT NULL CHECK (event_id = sku_id || ':' || sku_sequence),"
                       "  type TEXT NOT NULL, sku_id TEXT NOT NULL REFERENCES skus (sku_id),"
                       "  user_id TEXT NOT NULL, sku_sequence INTEGER NOT NULL,"
                       "  occurred_at_ms INTEGER NOT NULL, payload TEXT NOT NULL,"
                       "  UNIQUE (sku_id, sku_sequence)) STRICT;"
                       " INSERT INTO outbox SELECT CASE id WHEN 3 THEN 7 ELSE id END,"
                       "  sku_id || ':' || sku_sequence, type, sku_id, user_id, sku_sequence,"
                       "  occurred_at_ms, payload FROM outbox_old;"
                       " DROP TABLE outbox_old;"
                       " DELETE FROM schema_version WHERE version >= 6;"
                       // Migration 8's columns go too: the migrations from 6 on run again.
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
        << raw.last_error();
  }
  auto store = OpenStore();  // migrates
  ASSERT_NE(store, nullptr);
  MustCommit(*store, {Event("sku-a", 4)});
  // The writer's event_id must be <sku>:<sequence>, as the old CHECK demanded.
  core::Mutation wrong = Event("sku-a", 5);
  std::get<core::EventAppended>(wrong).event.event_id = "sku-a:50";
  EXPECT_EQ(store->Commit({wrong}).code(), StatusCode::kInternal);
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("SELECT MAX(version) FROM schema_version"), SqliteStore::kSchemaVersion);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM outbox"), 4);
  EXPECT_EQ(raw.QueryInt("SELECT id FROM outbox WHERE event_id = 'sku-a:3'"), 7);
  EXPECT_EQ(raw.QueryInt("SELECT id FROM outbox WHERE event_id = 'sku-a:4'"), 8);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'"), 0);
  EXPECT_EQ(raw.Exec("DELETE FROM outbox WHERE id = 8"), SQLITE_CONSTRAINT);
  EXPECT_THAT(raw.last_error(), HasSubstr("never deleted"));
  EXPECT_EQ(raw.Exec("UPDATE outbox SET payload = '{}' WHERE id = 1"), SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec("INSERT INTO outbox (type, sku_id, user_id, sku_sequence, occurred_at_ms,"
                     " payload) VALUES ('x', 'sku-a', 'u', 6, 0, '{}')"),
            SQLITE_CONSTRAINT);  // sequence 5 is missing: gapless
  EXPECT_EQ(raw.Exec("INSERT INTO outbox (type, sku_id, user_id, sku_sequence, occurred_at_ms,"
                     " payload) VALUES ('x', 'sku-a', 'u', 5, 0, 'not json')"),
            SQLITE_CONSTRAINT);
}

}  // namespace
}  // namespace fs::store
