// Owning handles of a SQLite connection and statement, without pulling in <sqlite3.h>: the
// store's public header holds them as members. The helpers that use them are sqlite_util.h.
// Thread-safety: as unique_ptr; a connection is used by one thread at a time.
#pragma once

#include <memory>

struct sqlite3;
struct sqlite3_stmt;

namespace fs::store::sqlite {

struct DatabaseCloser {
  void operator()(sqlite3* db) const;
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const;
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

}  // namespace fs::store::sqlite
