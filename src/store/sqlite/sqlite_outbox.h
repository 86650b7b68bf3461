// SqliteOutbox: the outbox relay's own connection to the database file (WAL lets it read beside
// the writer). It reads committed events in id order and keeps each sink's cursor in the
// outbox_cursors table with its own small transaction, so the writer's batches never wait for a
// sink and the relay never needs the writer.
//
// Durability: the cursor is written with synchronous=NORMAL. Losing the last cursor update in a
// power loss only makes the relay publish those events again (delivery is at least once);
// events themselves are written by the writer under its own synchronous setting.
// Thread-safety: one thread at a time (the relay).
#pragma once

#include <memory>
#include <string>

#include "store/outbox.h"
#include "store/sqlite/sqlite_handles.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::store {

class SqliteOutbox final : public OutboxSource {
 public:
  // REQUIRES: the database exists and is migrated (open SqliteStore first).
  static base::Result<std::unique_ptr<SqliteOutbox>> Open(const std::string& path);
  ~SqliteOutbox() override;
  SqliteOutbox(const SqliteOutbox&) = delete;
  SqliteOutbox& operator=(const SqliteOutbox&) = delete;

  base::Result<std::int64_t> LoadCursor(const std::string& sink) override;
  base::Result<std::vector<StoredEvent>> ReadAfter(std::int64_t after_id,
                                                   std::size_t count_max) override;
  base::Status SaveCursor(const std::string& sink, std::int64_t last_id) override;
  base::Result<std::int64_t> LastId() override;

 private:
  explicit SqliteOutbox(sqlite::DatabaseHandle db) : db_(std::move(db)) {}
  sqlite::DatabaseHandle db_;
  // ReadAfter's statement, prepared once (the relay reads after every commit); declared after
  // db_ so it is finalized before the close.
  sqlite::StatementHandle read_after_;
};

}  // namespace fs::store
