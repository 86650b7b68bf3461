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
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

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

namespace sqlite_internal {
struct DatabaseCloser {
  void operator()(sqlite3* db) const;
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const;
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;
}  // namespace sqlite_internal

class SqliteStore final : public Store {
 public:
  // The newest schema this binary knows (the number of migrations).
  static constexpr std::int64_t kSchemaVersion = 7;

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
  explicit SqliteStore(sqlite_internal::DatabaseHandle db);

  base::Status PrepareCachedStatements();
  base::Status Apply(const core::SaleCreated& mutation);
  base::Status Apply(const core::ReservationCreated& mutation);
  base::Status Apply(const core::ReservationStatusChanged& mutation);
  base::Status Apply(const core::IdempotencyStored& mutation);
  base::Status Apply(const core::IdempotencyPruned& mutation);
  base::Status Apply(const core::AuditAppended& mutation);
  base::Status Apply(const core::SaleOverrideChanged& mutation);
  base::Status Apply(const core::SaleStockChanged& mutation);
  base::Status UpdateSkuColumn(sqlite3_stmt* statement, std::int64_t to, const std::string& sku_id,
                               std::int64_t from, const std::string& context);
  base::Status Apply(const core::OrderCreated& mutation);
  base::Status Apply(const core::OrderStatusChanged& mutation);
  base::Status Apply(const core::OrderRetryScheduled& mutation);
  base::Status Apply(const core::EventAppended& mutation);
  base::Status Apply(const core::WaitingRoomCreated& mutation);
  base::Status Apply(const core::QueueTicketIssued& mutation);
  base::Status Apply(const core::WaitingRoomDrawn& mutation);
  base::Status Apply(const core::QueueTicketAdmitted& mutation);
  base::Status Apply(const core::QueuePassUsed& mutation);
  // kInternal unless the last statement changed exactly one row (a writer bug otherwise).
  base::Status ExpectOneRow(const std::string& context);
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
  sqlite_internal::DatabaseHandle db_;
  std::unique_ptr<SqliteCheckpointer> checkpointer_;  // stopped first in the destructor
  WalHook wal_hook_;
  sqlite_internal::StatementHandle begin_immediate_;
  sqlite_internal::StatementHandle begin_read_;
  sqlite_internal::StatementHandle commit_;
  sqlite_internal::StatementHandle rollback_;
  sqlite_internal::StatementHandle insert_sale_;
  sqlite_internal::StatementHandle insert_reservation_;
  sqlite_internal::StatementHandle update_status_;
  sqlite_internal::StatementHandle insert_idempotency_;
  sqlite_internal::StatementHandle prune_idempotency_;
  sqlite_internal::StatementHandle read_counters_;
  sqlite_internal::StatementHandle insert_audit_;
  sqlite_internal::StatementHandle update_override_;
  sqlite_internal::StatementHandle update_stock_;
  sqlite_internal::StatementHandle insert_order_;
  sqlite_internal::StatementHandle update_order_;
  sqlite_internal::StatementHandle schedule_retry_;
  sqlite_internal::StatementHandle insert_event_;
  sqlite_internal::StatementHandle insert_room_;
  sqlite_internal::StatementHandle draw_room_;
  sqlite_internal::StatementHandle insert_ticket_;
  sqlite_internal::StatementHandle admit_ticket_;
  sqlite_internal::StatementHandle use_ticket_;
  std::string hash_bytes_;  // Apply(AuditAppended)'s reused buffer: the two hashes as bytes
};

}  // namespace fs::store
