#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/mutation_name.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_schema.h"
#include "store/sqlite/sqlite_util.h"
#include "store/sqlite/sqlite_writer.h"

namespace fs::store {

using sqlite::ErrorFrom;
using sqlite::ErrorFromCode;
using sqlite::ForEachRow;
using sqlite::Prepare;
using sqlite::Stage;
using sqlite::StepControl;

namespace {

// Appends every row of `sql` (with `since` bound to ?1 when given), decoded, to `out`.
template <typename T>
base::Status LoadRows(sqlite3* db, const std::string& sql, std::string_view context,
                      std::vector<T>& out, base::Status (*decode)(sqlite3_stmt*, T&),
                      std::optional<base::Time> since = std::nullopt) {
  auto statement = Prepare(db, sql, 0, Stage::kRead);
  if (!statement) return statement.error();
  if (since) {
    sqlite::Binder binder(statement->get());
    binder.TimeMs(*since);
    if (binder.rc() != SQLITE_OK) return ErrorFrom(binder.rc(), db, Stage::kRead, context);
  }
  return ForEachRow(db, statement->get(), context, [&](sqlite3_stmt* row) {
    out.emplace_back();
    return decode(row, out.back());
  });
}

}  // namespace

base::Result<SqliteOptions::Synchronous> ParseSynchronous(std::string_view text) {
  if (text == "full") return SqliteOptions::Synchronous::kFull;
  if (text == "normal") return SqliteOptions::Synchronous::kNormal;
  if (text == "off") return SqliteOptions::Synchronous::kOff;
  return base::InvalidArgument("sqlite synchronous must be full, normal or off, not '" +
                               std::string(text) + "'");
}

std::string_view SynchronousName(SqliteOptions::Synchronous synchronous) {
  switch (synchronous) {
    case SqliteOptions::Synchronous::kFull:
      return "full";
    case SqliteOptions::Synchronous::kNormal:
      return "normal";
    case SqliteOptions::Synchronous::kOff:
      return "off";
  }
  return "unknown";
}

SqliteStore::SqliteStore(sqlite::DatabaseHandle db) : db_(std::move(db)) {}

SqliteStore::~SqliteStore() {
  checkpointer_.reset();  // its thread may be copying pages this connection wrote
  writer_.reset();        // statements before the connection
  read_counters_.reset();
  rollback_.reset();
  commit_.reset();
  begin_read_.reset();
  begin_immediate_.reset();
  db_.reset();
}

base::Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                             SqliteOptions options) {
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > INT_MAX) {
    return base::InvalidArgument("busy_timeout must be between 0 and INT_MAX milliseconds");
  }
  if (options.checkpoint_pages < 1 ||
      options.checkpoint_pages > INT_MAX / SqliteOptions::kWriterCheckpointFactor) {
    return base::InvalidArgument("checkpoint_pages out of range");
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: one thread at a time uses the connection (the Store rule).
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  sqlite::DatabaseHandle db(raw);  // closed on every early return below
  if (rc != SQLITE_OK) {
    const char* detail = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return ErrorFromCode(rc, detail, Stage::kOpen, "open " + path);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  FS_RETURN_IF_ERROR(sqlite::ConfigureConnection(db.get(), options));
  FS_RETURN_IF_ERROR(sqlite::MigrateSchema(db.get()));
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db)));
  FS_RETURN_IF_ERROR(store->PrepareCachedStatements());
  if (options.background_checkpoint) {
    auto checkpointer = SqliteCheckpointer::Start(path, options.busy_timeout);
    if (!checkpointer) return checkpointer.error();
    store->checkpointer_ = std::move(checkpointer).value();
    store->wal_hook_.checkpointer = store->checkpointer_.get();
    store->wal_hook_.request_pages = options.checkpoint_pages;
    store->wal_hook_.writer_pages =
        options.checkpoint_pages * SqliteOptions::kWriterCheckpointFactor;
    // Replaces SQLite's auto-checkpoint hook on this connection.
    sqlite3_wal_hook(store->db_.get(), &SqliteStore::OnWalCommit, &store->wal_hook_);
  } else {
    sqlite3_wal_autocheckpoint(store->db_.get(), options.checkpoint_pages);
  }
  return store;
}

int SqliteStore::OnWalCommit(void* hook, sqlite3* db, const char* database, int pages) {
  auto* state = static_cast<WalHook*>(hook);
  if (pages >= state->writer_pages) {
    // The background thread fell behind: bound the WAL here, as SQLite's own hook would. The
    // commit is already durable; a failure only leaves the WAL long until the next attempt.
    if (sqlite3_wal_checkpoint_v2(db, database, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
        SQLITE_OK) {
      ++state->writer_checkpoints;
    }
  } else if (pages >= state->request_pages) {
    state->checkpointer->Request();
  }
  return SQLITE_OK;
}

std::uint64_t SqliteStore::background_checkpoints() const {
  return checkpointer_ != nullptr ? checkpointer_->checkpoints() : 0;
}

base::Status SqliteStore::PrepareCachedStatements() {
  const std::string counters_sql = std::string(sqlite::kSelectCounters) + " ORDER BY sku_id";
  struct Cached {
    sqlite::StatementHandle* handle;
    const char* sql;
  };
  const Cached cached[] = {
      {&begin_immediate_, "BEGIN IMMEDIATE"},
      {&begin_read_, "BEGIN DEFERRED"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&read_counters_, counters_sql.c_str()},
  };
  for (const Cached& entry : cached) {
    auto statement = Prepare(db_.get(), entry.sql, SQLITE_PREPARE_PERSISTENT, Stage::kOpen);
    if (!statement) return statement.error();
    *entry.handle = std::move(*statement);
  }
  auto writer = sqlite::SqliteMutationWriter::Prepare(db_.get());
  if (!writer) return writer.error();
  writer_ = std::move(*writer);
  return base::Status::Ok();
}

base::Status SqliteStore::Commit(const core::Mutations& mutations) {
  if (mutations.empty()) return base::Status::Ok();
  const int begin_rc = StepControl(begin_immediate_.get());
  if (begin_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(begin_rc, db_.get(), Stage::kApply, "BEGIN IMMEDIATE"));
  }
  for (std::size_t index = 0; index < mutations.size(); ++index) {
    const core::Mutation& mutation = mutations[index];
    const base::Status status = writer_->Write(mutation);
    if (!status.ok()) {
      const std::string prefix =
          "mutation " + std::to_string(index) + " (" + std::string(MutationName(mutation)) + "): ";
      return RollbackAfter(sqlite::WithPrefix(status, prefix));
    }
  }
  const int commit_rc = StepControl(commit_.get());
  if (commit_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(commit_rc, db_.get(), Stage::kCommit, "COMMIT"));
  }
  return base::Status::Ok();
}

base::Status SqliteStore::RollbackAfter(base::Status failure) {
  // SQLite rolls back by itself after some errors (e.g. SQLITE_FULL, SQLITE_IOERR).
  if (sqlite3_get_autocommit(db_.get()) != 0) return failure;
  const int rc = StepControl(rollback_.get());
  if (rc != SQLITE_DONE) {
    return base::DataLoss(std::string("ROLLBACK failed: ") + sqlite3_errmsg(db_.get()) + " (" +
                          sqlite3_errstr(rc) + ") after: " + failure.message());
  }
  return failure;
}

base::Status SqliteStore::LoadWaitingRooms(LoadedState& state) {
  sqlite3* db = db_.get();
  FS_RETURN_IF_ERROR(LoadRows(db, std::string(sqlite::kSelectWaitingRooms) + " ORDER BY sku_id",
                              "load waiting rooms", state.waiting_rooms,
                              &sqlite::DecodeWaitingRoom));
  return LoadRows(db, std::string(sqlite::kSelectQueueTickets) + " ORDER BY sku_id, join_seq",
                  "load queue tickets", state.queue_tickets, &sqlite::DecodeQueueTicket);
}

base::Result<LoadedState> SqliteStore::Load(base::Time idempotency_since) {
  const int begin_rc = StepControl(begin_read_.get());
  if (begin_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(begin_rc, db_.get(), Stage::kRead, "BEGIN (load)"));
  }
  auto state = LoadInSnapshot(idempotency_since);
  if (!state) return RollbackAfter(state.error());
  const int commit_rc = StepControl(commit_.get());
  if (commit_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(commit_rc, db_.get(), Stage::kRead, "COMMIT (load)"));
  }
  return state;
}

base::Result<LoadedState> SqliteStore::LoadInSnapshot(base::Time idempotency_since) {
  LoadedState state;
  sqlite3* db = db_.get();
  FS_RETURN_IF_ERROR(LoadRows(db, std::string(sqlite::kSelectSales) + " ORDER BY rowid",
                              "load skus", state.sales, &sqlite::DecodeSale));
  auto counters = ReadCounters();
  if (!counters) return counters.error();
  state.counters = std::move(*counters);
  auto units =
      Prepare(db, "SELECT sku_id, user_id, units FROM user_units WHERE units > 0", 0, Stage::kRead);
  if (!units) return units.error();
  FS_RETURN_IF_ERROR(ForEachRow(db, units->get(), "load user units", [&](sqlite3_stmt* row) {
    const std::int64_t count = sqlite::ColumnInt64(row, 2);
    if (count > INT32_MAX) return base::DataLoss("user_units row: units out of range");
    state.user_units.push_back(
        {sqlite::ColumnText(row, 0), sqlite::ColumnText(row, 1), static_cast<std::int32_t>(count)});
    return base::Status::Ok();
  }));
  // Only what the writer decides with: ended reservations and final orders stay on disk
  // (their units are in the counters above).
  FS_RETURN_IF_ERROR(LoadRows(
      db, std::string(sqlite::kSelectReservations) + " WHERE status IN (1, 2) ORDER BY rowid",
      "load reservations", state.reservations, &sqlite::DecodeReservation));
  FS_RETURN_IF_ERROR(LoadRows(db,
                              std::string(sqlite::kSelectIdempotency) +
                                  " WHERE created_at_ms >= ?1 ORDER BY created_at_ms, rowid",
                              "load idempotency keys", state.idempotency,
                              &sqlite::DecodeIdempotency, idempotency_since));

  auto head = Prepare(db,
                      "SELECT event_id, event_hash FROM audit_events"
                      " ORDER BY event_id DESC LIMIT 1",
                      0, Stage::kRead);
  if (!head) return head.error();
  FS_RETURN_IF_ERROR(ForEachRow(db, head->get(), "load audit head", [&](sqlite3_stmt* row) {
    state.audit_head.event_id = sqlite::ColumnInt64(row, 0);
    state.audit_head.event_hash = core::HexOfBytes(sqlite::ColumnBlob(row, 1));
    return base::Status::Ok();
  }));
  FS_RETURN_IF_ERROR(
      LoadRows(db, std::string(sqlite::kSelectOrders) + " WHERE status IN (1, 4) ORDER BY rowid",
               "load orders", state.orders, &sqlite::DecodeOrder));

  auto sequences =
      Prepare(db, "SELECT sku_id, MAX(sku_sequence) FROM outbox GROUP BY sku_id", 0, Stage::kRead);
  if (!sequences) return sequences.error();
  FS_RETURN_IF_ERROR(
      ForEachRow(db, sequences->get(), "load event sequences", [&](sqlite3_stmt* row) {
        state.event_sequences.emplace_back(sqlite::ColumnText(row, 0), sqlite::ColumnInt64(row, 1));
        return base::Status::Ok();
      }));
  FS_RETURN_IF_ERROR(LoadWaitingRooms(state));
  return state;
}

base::Result<std::vector<StoredCounters>> SqliteStore::ReadCounters() {
  std::vector<StoredCounters> counters;
  sqlite3_stmt* statement = read_counters_.get();
  sqlite::StatementUse use(statement);
  FS_RETURN_IF_ERROR(ForEachRow(db_.get(), statement, "read counters", [&](sqlite3_stmt* row) {
    sqlite::DecodeCounters(row, counters.emplace_back());
    return base::Status::Ok();
  }));
  return counters;
}

base::Result<SqliteEffectiveSettings> SqliteStore::ReadEffectiveSettings() {
  sqlite3* db = db_.get();
  SqliteEffectiveSettings settings;
  auto journal_mode = sqlite::QueryText(db, "PRAGMA journal_mode", Stage::kRead);
  if (!journal_mode) return journal_mode.error();
  settings.journal_mode = std::move(*journal_mode);
  auto synchronous = sqlite::QueryInt(db, "PRAGMA synchronous", Stage::kRead);
  if (!synchronous) return synchronous.error();
  settings.synchronous = *synchronous;
  auto foreign_keys = sqlite::QueryInt(db, "PRAGMA foreign_keys", Stage::kRead);
  if (!foreign_keys) return foreign_keys.error();
  settings.foreign_keys = *foreign_keys == 1;
  auto busy_timeout = sqlite::QueryInt(db, "PRAGMA busy_timeout", Stage::kRead);
  if (!busy_timeout) return busy_timeout.error();
  settings.busy_timeout_ms = *busy_timeout;
  auto version =
      sqlite::QueryInt(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", Stage::kRead);
  if (!version) return version.error();
  settings.schema_version = *version;
  return settings;
}

}  // namespace fs::store
