// AuditIndexer: the disputes index of the embedded store ("which events are about this
// user?"), kept in a file of its own beside the database and filled by a background thread,
// not by the writer's commit.
//
// Why: with real user ids (random strings, as JWT subjects are) an index keyed by user takes
// every insert on a random page, and SQLite writes each page a commit touched in full to the
// WAL: an in-table index added about 4 KiB of WAL per audited request on the writer's path,
// which almost doubled the bytes a reserve writes (docs/benchmarks.md). Here the thread reads
// the new events in large chunks, sorts them by user and inserts them in one transaction of
// its own file, so a page is written once per chunk instead of once per event, and the
// writer never waits for it.
//
// The index is derived data: it holds (user_id, event_id) pairs up to `indexed_through`, and
// the hash of that event, so it can be checked against the database (a restored or replaced
// database makes it rebuild from scratch). Readers (AuditReader::Query) use it for events up
// to indexed_through and scan the few events after it in the database itself, so an answer is
// always complete; without the file they scan the whole table. Deleting the file is safe.
//
// Thread-safety: the public methods may be called from any thread; the connections are used
// by one thread at a time (the indexer's thread, or the caller of CatchUp while it is not
// running).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "store/sqlite/sqlite_handles.h"

namespace fs::audit {

// The index file beside a database file: "<dir of database_path>/audit_index.db".
std::string AuditIndexPath(const std::string& database_path);

class AuditIndexer {
 public:
  struct Options {
    std::chrono::milliseconds interval{500};  // how often the thread looks for new events
    int chunk_events = 50'000;                // events read and indexed per transaction
  };

  // Opens (creating if needed) the index beside `database_path`, which must exist. Does not
  // start a thread: call Start(), or CatchUp() directly (tests, tools).
  static base::Result<std::unique_ptr<AuditIndexer>> Open(const std::string& database_path,
                                                          Options options);
  ~AuditIndexer();  // stops the thread
  AuditIndexer(const AuditIndexer&) = delete;
  AuditIndexer& operator=(const AuditIndexer&) = delete;

  // Starts the thread: CatchUp() every interval until destruction. A failed round (the
  // database busy past its timeout, a disk error) is counted in errors() and retried at the
  // next interval; readers meanwhile scan the events after indexed_through().
  void Start();

  // Indexes every event committed so far; returns how many were read. REQUIRES: the thread is
  // not running.
  base::Result<std::int64_t> CatchUp();

  // The last event id the index covers (0: none).
  std::int64_t indexed_through() const;
  // How many times the index was found not to match the database and was rebuilt.
  std::uint64_t rebuilds() const;
  std::uint64_t errors() const;

 private:
  struct Entry {
    std::string user_id;
    std::int64_t event_id = 0;
  };
  // One round's read: where the index reached, the events after it, where they end.
  struct Chunk {
    std::int64_t through_id = 0;
    std::string through_hash;
    bool rebuild = false;  // the index does not belong to this chain: start over
    std::int64_t read_events = 0;
    std::int64_t last_id = 0;
    std::string last_hash;
    std::vector<Entry> entries;  // events with a user
  };

  AuditIndexer(store::sqlite::DatabaseHandle database, store::sqlite::DatabaseHandle index,
               Options options);
  base::Result<Chunk> ReadChunk();
  base::Status WriteChunk(Chunk& chunk);
  base::Result<std::int64_t> IndexChunk();
  void Run();

  store::sqlite::DatabaseHandle database_;  // read-only
  store::sqlite::DatabaseHandle index_;
  Options options_;
  mutable base::Mutex mutex_;
  base::CondVar wake_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::int64_t indexed_through_ GUARDED_BY(mutex_) = 0;
  std::uint64_t rebuilds_ GUARDED_BY(mutex_) = 0;
  std::uint64_t errors_ GUARDED_BY(mutex_) = 0;
  std::thread thread_;
};

}  // namespace fs::audit
