// The embedded store's schema: its append-only migrations and the connection settings the
// writer's connection needs (WAL, synchronous, foreign keys, busy timeout), read back after
// they are set because SQLite ignores a pragma it does not know.
//
// Thread-safety: functions of one connection, used by one thread at a time.
#pragma once

#include <sqlite3.h>

#include "base/status.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::store::sqlite {

// Sets and verifies the pragmas of `options` on the writer's connection.
base::Status ConfigureConnection(sqlite3* db, const SqliteOptions& options);

// Applies every migration newer than the file's schema version, all in one IMMEDIATE
// transaction. kFailedPrecondition when the file's schema is newer than this binary's.
base::Status MigrateSchema(sqlite3* db);

}  // namespace fs::store::sqlite
