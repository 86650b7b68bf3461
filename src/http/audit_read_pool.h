// AuditReadPool: a few reader threads, started with the Api, that run the reads of the audit
// and reconciliation endpoints. Each thread keeps one audit source (a read-only SQLite
// connection, or a PostgreSQL connection in cluster mode) and reuses it from request to
// request, so no request opens a connection and no I/O thread waits on a database: a long
// chain verification occupies a reader thread, never a connection's thread.
//
// A source is reopened when it is older than `source_age_max` (so a disputes index created
// after it was opened is attached) and after any failed read (the connection may be the
// cause). A read that failed on a reused source is tried once more on a fresh one: a
// restarted database server is not answered 503. Reads are pure, so the retry is harmless.
//
// Bounded: at most `queue_max` reads wait; beyond that Submit refuses (the caller answers
// 503 UNAVAILABLE), it never grows.
//
// Thread-safety: Submit and Stop may be called from any thread. Jobs run on the reader
// threads, one at a time per thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "audit/audit_source.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace fs::http {

struct AuditReadPoolOptions {
  // Two readers: a long verification does not hold up a disputes query, and the database
  // sees at most two extra read connections per node.
  std::size_t threads = 2;
  // Reads waiting for a reader at most: an operator's tools, not client traffic.
  std::size_t queue_max = 64;
  // A source older than this is reopened before its next read.
  std::chrono::seconds source_age_max{60};
};

class AuditReadPool {
 public:
  // Opens a source; called on a reader thread. kUnavailable when there is nothing to read.
  using Opener = std::function<base::Result<std::unique_ptr<audit::AuditSource>>()>;

  struct Job {
    // Reads from the source and, on success, answers (returns Ok). On failure it returns the
    // error without answering: the pool may run it again on a fresh source.
    std::function<base::Status(audit::AuditSource& source)> read;
    // Answers a job that could not be read (no source, the read failed, or the pool stopped
    // before running it). Called at most once, and only when `read` did not succeed.
    std::function<void(const base::Status& status)> failed;
  };

  // Starts the reader threads.
  AuditReadPool(Opener opener, AuditReadPoolOptions options);
  ~AuditReadPool();  // Stop()
  AuditReadPool(const AuditReadPool&) = delete;
  AuditReadPool& operator=(const AuditReadPool&) = delete;

  // Queues `job`. False, without running anything of it, when the queue is full or the pool
  // stopped.
  [[nodiscard]] bool Submit(Job job);

  // Refuses new jobs, answers the queued ones with `failed` (kUnavailable), waits for the
  // running ones and joins the threads. Idempotent.
  void Stop();

 private:
  // One reader thread's source.
  struct Reader {
    std::unique_ptr<audit::AuditSource> source;
    std::chrono::steady_clock::time_point opened_at;
  };

  void Run();
  // The next job, or nullopt when the pool stops.
  std::optional<Job> Next();
  void RunJob(Reader& reader, Job& job);

  const Opener opener_;
  const AuditReadPoolOptions options_;
  base::Mutex mutex_;
  base::CondVar wake_;
  std::deque<Job> queue_ GUARDED_BY(mutex_);
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;  // written by the constructor and Stop (one control thread)
};

}  // namespace fs::http
