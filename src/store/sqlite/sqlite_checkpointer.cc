#include "store/sqlite/sqlite_checkpointer.h"

#include <sqlite3.h>

#include <utility>

#include "store/sqlite/sqlite_util.h"

namespace fs::store {

base::Result<std::unique_ptr<SqliteCheckpointer>> SqliteCheckpointer::Start(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  auto db =
      sqlite::OpenConnection(path, SQLITE_OPEN_READWRITE, static_cast<int>(busy_timeout.count()));
  if (!db) {
    return base::FailedPrecondition("checkpointer connection: " + db.error().message());
  }
  // This connection never writes rows; it must not run auto-checkpoints of its own either.
  sqlite3_wal_autocheckpoint(db->get(), 0);
  return std::unique_ptr<SqliteCheckpointer>(new SqliteCheckpointer(std::move(*db)));
}

SqliteCheckpointer::SqliteCheckpointer(sqlite::DatabaseHandle db)
    : db_(std::move(db)), thread_([this] { Run(); }) {}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    base::MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.NotifyOne();
  thread_.join();
}

void SqliteCheckpointer::Request() {
  if (requested_.exchange(true, std::memory_order_acq_rel)) return;  // already asked
  // Taking the mutex orders the flag before the sleeper's check: no lost wake-up.
  { base::MutexLock lock(mutex_); }
  wake_.NotifyOne();
}

void SqliteCheckpointer::Run() {
  while (true) {
    {
      base::MutexLock lock(mutex_);
      while (!stopping_ && !requested_.load(std::memory_order_acquire)) wake_.Wait(mutex_);
      if (stopping_) return;
      requested_.store(false, std::memory_order_release);
    }
    // PASSIVE: copies what it can without waiting for the writer or any reader. A busy or
    // failed attempt is harmless: the writer asks again after its next commit, and its own
    // fallback bounds the WAL.
    const int rc =
        sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc == SQLITE_OK) checkpoints_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace fs::store
