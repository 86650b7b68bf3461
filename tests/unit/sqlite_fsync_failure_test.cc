// Goal: a failed fsync at commit is fail-stop, as PostgreSQL treats it. Through a fault VFS
// (SQLite's own extension point, registered as the default for the test: every file the store
// opens goes through it), an fsync that reports an I/O error while a batch commits makes the
// writer stop: that batch's callers are told 503 (kUnavailable), the engine reports itself
// unhealthy (what /readyz reads), later commands are refused without another commit (no blind
// retry: the file is never synced again by this process), and a restart on the same file
// recovers every acknowledged reservation with counters equal to the rows. The batch whose
// fsync failed was never acknowledged: its reservation may or may not be in the file (the
// bytes were written, their durability unknown); either way the state is consistent.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/temp_database_test.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::engine {
namespace {

using base::StatusCode;
using core::ReserveOutcome;

// The fault VFS: the default VFS with every file's xSync able to fail on command.
std::atomic<bool> g_fail_sync{false};
std::atomic<int> g_syncs{0};         // syncs that reached the real file
std::atomic<int> g_failed_syncs{0};  // syncs answered SQLITE_IOERR_FSYNC
sqlite3_vfs* g_real_vfs = nullptr;

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;  // the real VFS's file, allocated right after this struct
};

sqlite3_file* Real(sqlite3_file* file) { return reinterpret_cast<FaultFile*>(file)->real; }

int Close(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int Read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  return Real(f)->pMethods->xRead(Real(f), out, amount, offset);
}
int Write(sqlite3_file* f, const void* in, int amount, sqlite3_int64 offset) {
  return Real(f)->pMethods->xWrite(Real(f), in, amount, offset);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int Sync(sqlite3_file* f, int flags) {
  if (g_fail_sync.load()) {
    ++g_failed_syncs;
    return SQLITE_IOERR_FSYNC;
  }
  ++g_syncs;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), page, page_size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}

// Version 2 methods: no memory-mapped reads through the shim (xFetch is optional).
const sqlite3_io_methods kFaultMethods = {2,
                                          &Close,
                                          &Read,
                                          &Write,
                                          &Truncate,
                                          &Sync,
                                          &FileSize,
                                          &Lock,
                                          &Unlock,
                                          &CheckReservedLock,
                                          &FileControl,
                                          &SectorSize,
                                          &DeviceCharacteristics,
                                          &ShmMap,
                                          &ShmLock,
                                          &ShmBarrier,
                                          &ShmUnmap,
                                          nullptr,
                                          nullptr};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* fault = reinterpret_cast<FaultFile*>(file);
  fault->real = reinterpret_cast<sqlite3_file*>(fault + 1);
  fault->base.pMethods = nullptr;
  const int rc = g_real_vfs->xOpen(g_real_vfs, name, fault->real, flags, out_flags);
  if (rc == SQLITE_OK && fault->real->pMethods != nullptr) fault->base.pMethods = &kFaultMethods;
  return rc;
}

sqlite3_vfs g_fault_vfs;

class SqliteFsyncFailureTest : public test_common::TempDatabaseTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    g_real_vfs = sqlite3_vfs_find(nullptr);
    ASSERT_NE(g_real_vfs, nullptr);
    g_fault_vfs = *g_real_vfs;
    g_fault_vfs.zName = "flashsale-fault";
    g_fault_vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real_vfs->szOsFile;
    g_fault_vfs.xOpen = &Open;
    g_fault_vfs.pNext = nullptr;
    ASSERT_EQ(sqlite3_vfs_register(&g_fault_vfs, /*makeDflt=*/1), SQLITE_OK);
    g_fail_sync = false;
    g_syncs = 0;
    g_failed_syncs = 0;
  }
  void TearDown() override {
    engine_.reset();
    sqlite3_vfs_unregister(&g_fault_vfs);
    TempDatabaseTest::TearDown();
  }

  void OpenEngine() {
    auto store = store::SqliteStore::Open(path_, {});
    ASSERT_TRUE(store.has_value()) << store.status().ToString();
    Options options;
    options.seed = 11;
    auto engine = Engine::Open(std::move(options), std::move(store).value(), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }

  template <typename C>
  ReplyOf<C> Run(C command) {
    std::promise<ReplyOf<C>> promise;
    engine_->Submit(std::move(command),
                    [&](ReplyOf<C> reply) { promise.set_value(std::move(reply)); });
    return promise.get_future().get();
  }

  ReplyOf<Reserve> ReserveAs(const std::string& user) {
    return Run(Reserve{{"fsync", user, 1, "key-" + user}});
  }

  base::ManualClock clock_{base::TimeFromMillis(1'800'000'000'000)};
  std::unique_ptr<Engine> engine_;
};

TEST_F(SqliteFsyncFailureTest, AFailedFsyncStopsTheWriterAndARestartRecoversWhatWasAcknowledged) {
  OpenEngine();
  core::Sale sale;
  sale.sku_id = "fsync";
  sale.name = "Fsync";
  sale.price_cents = 100;
  sale.currency = "USD";
  sale.total_stock = 10;
  sale.per_user_limit = 1;
  sale.reservation_ttl_seconds = 600;
  ASSERT_TRUE(Run(CreateSale{sale}).status.ok());
  std::vector<std::string> acknowledged;
  for (const std::string user : {"a", "b", "c"}) {
    const auto reply = ReserveAs(user);
    ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
    ASSERT_EQ(reply.value.outcome, ReserveOutcome::kReserved);
    acknowledged.push_back(reply.value.reservation->reservation_id);
  }
  ASSERT_GT(g_syncs.load(), 0);  // the store does sync through the shim

  g_fail_sync = true;
  const auto failed = ReserveAs("d");
  EXPECT_EQ(failed.status.code(), StatusCode::kUnavailable) << failed.status.ToString();
  EXPECT_GE(g_failed_syncs.load(), 1);
  EXPECT_FALSE(engine_->healthy());
  // Stopped: later commands are refused at once, with no commit (and no fsync) attempted.
  const int failed_syncs = g_failed_syncs.load();
  const int syncs = g_syncs.load();
  EXPECT_EQ(ReserveAs("e").status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(ReserveAs("d").status.code(), StatusCode::kUnavailable);  // the same key again
  EXPECT_EQ(g_failed_syncs.load(), failed_syncs);
  EXPECT_EQ(g_syncs.load(), syncs);
  engine_->Stop();
  engine_.reset();

  // Restart on the same file with a healthy disk.
  g_fail_sync = false;
  OpenEngine();
  EXPECT_TRUE(engine_->healthy());
  EXPECT_TRUE(engine_->CheckConsistency().ok());
  for (std::size_t i = 0; i < acknowledged.size(); ++i) {
    const std::string user(1, static_cast<char>('a' + i));
    // The same key: the first answer again (the engine's default stored reply is 201 and the
    // reservation id, engine::StoredReplies).
    const auto replay = ReserveAs(user);
    ASSERT_TRUE(replay.status.ok()) << replay.status.ToString();
    ASSERT_EQ(replay.value.outcome, ReserveOutcome::kReplayed);
    ASSERT_TRUE(replay.value.replay.has_value());
    EXPECT_EQ(replay.value.replay->http_status, 201);
    EXPECT_EQ(replay.value.replay->response_body, acknowledged[i]);
  }
  // "d" was never acknowledged: in the file or not, its key now gets one answer, and the
  // counters still equal the rows.
  const auto retried = ReserveAs("d");
  ASSERT_TRUE(retried.status.ok()) << retried.status.ToString();
  EXPECT_TRUE(retried.value.outcome == ReserveOutcome::kReserved ||
              retried.value.outcome == ReserveOutcome::kReplayed);
  const auto published = engine_->FindSale("fsync");
  ASSERT_NE(published, nullptr);
  EXPECT_EQ(published->counters.held, 4);
  EXPECT_TRUE(engine_->CheckConsistency().ok());
}

}  // namespace
}  // namespace fs::engine
