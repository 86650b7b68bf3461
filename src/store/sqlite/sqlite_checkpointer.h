// SqliteCheckpointer: copies the WAL back into the database file on a thread of its own, so
// the writer's commits only append to the WAL.
//
// Why: with SQLite's default auto-checkpoint the connection that commits past 1000 WAL pages
// runs the checkpoint inside that commit: it copies every page a second time and syncs the
// database file, while the batch's callers wait for their answers. Here the writer's WAL hook
// only wakes this thread (SqliteStore installs the hook); the writer checkpoints by itself
// only when the WAL has grown past a hard limit (this thread fell behind), so the WAL stays
// bounded whatever happens here.
//
// Durability is unchanged: a commit is durable once its WAL frames are synced; a checkpoint
// only moves committed pages. A PASSIVE checkpoint never blocks the writer or readers; it
// copies what no reader still needs, and SQLite restarts the WAL from its beginning at the
// next write once everything was copied.
//
// Thread-safety: Request() and counters may be called from any thread; the connection is
// used by the checkpointer's thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "store/sqlite/sqlite_handles.h"

namespace fs::store {

class SqliteCheckpointer {
 public:
  // Opens a second connection to the database at `path` (already in WAL mode) and starts the
  // thread. kFailedPrecondition if the file cannot be opened.
  static base::Result<std::unique_ptr<SqliteCheckpointer>> Start(
      const std::string& path, std::chrono::milliseconds busy_timeout);

  // Stops the thread (a checkpoint under way finishes first) and closes the connection.
  ~SqliteCheckpointer();
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  // Asks for a checkpoint soon. Cheap when one is already asked for (one atomic exchange):
  // the writer calls it after every commit while the WAL is long.
  void Request();

  // Checkpoints run by this thread (for tests).
  std::uint64_t checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }

 private:
  explicit SqliteCheckpointer(sqlite::DatabaseHandle db);
  void Run();

  sqlite::DatabaseHandle db_;  // used by the thread only
  base::Mutex mutex_;
  base::CondVar wake_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::atomic<bool> requested_{false};
  std::atomic<std::uint64_t> checkpoints_{0};
  std::thread thread_;  // last: starts after every member above is initialized
};

}  // namespace fs::store
