// SqliteStore: the embedded system of record (one SQLite file in WAL mode). It applies each
// writer batch in one IMMEDIATE transaction and returns only after COMMIT, so with
// synchronous=FULL an acknowledged batch survives a crash or power loss.
//
// The second guard lives in the database itself (docs/storage.md): triggers maintain
// skus.held, skus.sold and user_units from the reservation rows, a CHECK refuses
// held + sold > total_stock, a trigger refuses a user holding or owning more than
// per_user_limit units, and illegal status transitions, edits of immutable reservation columns
// and deletes of reservations are refused. The writer only inserts reservations and moves their
// status; it never writes a counter. A writer bug therefore aborts the batch (kInternal) instead
// of being stored.
//
// Its parts: the schema and migrations (sqlite_schema.h), the table-driven mutation writer
// (sqlite_writer.h), the row decoders (sqlite_rows.h) and the SQLite helper set with the one
// error mapping (sqlite_util.h).
//
// Thread-safety: one thread at a time per instance (the Store rule); the connection is opened
// without SQLite's own mutex. Other threads or processes open their own instance or connection;
// WAL lets readers run beside the writer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/mutation.h"
#include "store/sqlite/sqlite_checkpointer.h"
#include "store/sqlite/sqlite_handles.h"
#include "store/store.h"

namespace fs::store {

struct SqliteOptions {
  // PRAGMA synchronous. kFull syncs the WAL on every commit: the only setting under which an
  // acknowledged reservation survives power loss. kNormal survives a process crash but may lose
  // the last commits on power loss; kOff is for benchmarks only.
  enum class Synchronous : std::uint8_t { kFull, kNormal, kOff };
  Synchronous synchronous = Synchronous::kFull;
  // How long a statement waits for another connection's lock before failing with
  // kUnavailable. 5 s rides out a checkpoint or an operator's read without ever hanging the
  // writer for longer than a client would wait anyway.
  std::chrono::milliseconds busy_timeout{5000};
  // Who copies the WAL back into the database file (sqlite_checkpointer.h). true: a thread of
  // the store, woken once the WAL holds checkpoint_pages; the writer checkpoints by itself only
  // past kWriterCheckpointFactor x checkpoint_pages. false: SQLite's auto-checkpoint, run inside
  // the commit that crosses checkpoint_pages.
  bool background_checkpoint = true;
  int checkpoint_pages = 1000;
  static constexpr int kWriterCheckpointFactor = 8;
};

// Parses "full", "normal" or "off" (the --sqlite-synchronous values; lower case only).
// Returns kInvalidArgument for anything else.
base::Result<SqliteOptions::Synchronous> ParseSynchronous(std::string_view text);
// "full", "normal" or "off".
std::string_view SynchronousName(SqliteOptions::Synchronous synchronous);

// The settings as the open connection reports them (read back, not what was asked for).
struct SqliteEffectiveSettings {
  std::string journal_mode;      // "wal"
  std::int64_t synchronous = 0;  // SQLite's numbers: 0 = OFF, 1 = NORMAL, 2 = FULL
  bool foreign_keys = false;
  std::int64_t busy_timeout_ms = 0;
  std::int64_t schema_version = 0;
};

namespace sqlite {
class SqliteMutationWriter;
}  // namespace sqlite

class SqliteStore final : public Store {
 public:
  // The newest schema this binary knows (the number of migrations).
  static constexpr std::int64_t kSchemaVersion = 10;

  // Opens or creates the database at `path` (the parent directory must exist), sets the
  // pragmas (journal_mode=WAL, synchronous, foreign_keys=ON, busy_timeout) and verifies them by
  // reading them back, then applies pending migrations in one transaction. Opening an
  // up-to-date database changes nothing.
  // Errors: kInvalidArgument (negative busy_timeout), kFailedPrecondition (cannot open or
  // create the file, WAL refused, or the file's schema is newer than kSchemaVersion),
  // kUnavailable (locked past busy_timeout), kDataLoss (not a database or corrupt).
  static base::Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                         SqliteOptions options);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Every sale and reservation (in insertion order) and the idempotency records with
  // created_at >= idempotency_since, read in one snapshot. kDataLoss if a stored value is out
  // of its domain (e.g. an unknown status number).
  base::Result<LoadedState> Load(base::Time idempotency_since) override;

  // See Store::Commit. An empty list returns Ok without touching the database. Error codes:
  //   kInternal:    a constraint or trigger refused a mutation, or a status change matched no
  //                 row (wrong id, sku or `from`); the message carries SQLite's text.
  //   kUnavailable: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL or SQLITE_NOMEM; rolled back.
  //   kDataLoss:    SQLITE_IOERR or SQLITE_CORRUPT, any other failure of COMMIT itself, or a
  //                 failed ROLLBACK.
  // On every error the transaction is rolled back: nothing of the batch is stored.
  base::Status Commit(const core::Mutations& mutations) override;

  // skus.total_stock, held and sold (maintained by the triggers), ordered by sku_id.
  base::Result<std::vector<StoredCounters>> ReadCounters() override;

  // The pragmas and schema version of this connection, for startup logs and tests.
  base::Result<SqliteEffectiveSettings> ReadEffectiveSettings();

  // Checkpoints so far by the background thread, and by the writer itself as its fallback when
  // the WAL passed the hard limit (both 0 without background_checkpoint).
  std::uint64_t background_checkpoints() const;
  std::uint64_t writer_checkpoints() const { return wal_hook_.writer_checkpoints; }

 private:
  explicit SqliteStore(sqlite::DatabaseHandle db);

  base::Status PrepareCachedStatements();
  base::Status LoadWaitingRooms(LoadedState& state);
  // Rolls back the open transaction (if SQLite has not already) and returns `failure`, or
  // kDataLoss when the rollback itself fails.
  base::Status RollbackAfter(base::Status failure);
  base::Result<LoadedState> LoadInSnapshot(base::Time idempotency_since);

  // What the writer connection's WAL hook (run after each commit, on the writer's thread) reads.
  struct WalHook {
    SqliteCheckpointer* checkpointer = nullptr;  // null: SQLite's own auto-checkpoint
    int request_pages = 0;                       // wake the checkpointer from here on
    int writer_pages = 0;                        // the writer checkpoints from here on
    std::uint64_t writer_checkpoints = 0;
  };
  static int OnWalCommit(void* hook, sqlite3* db, const char* database, int pages);

  // Declared first so it is destroyed last: statements are finalized before the close.
  sqlite::DatabaseHandle db_;
  std::unique_ptr<SqliteCheckpointer> checkpointer_;  // stopped first in the destructor
  WalHook wal_hook_;
  sqlite::StatementHandle begin_immediate_;
  sqlite::StatementHandle begin_read_;
  sqlite::StatementHandle commit_;
  sqlite::StatementHandle rollback_;
  sqlite::StatementHandle read_counters_;
  std::unique_ptr<sqlite::SqliteMutationWriter> writer_;  // every mutation's statement
};

}  // namespace fs::store
