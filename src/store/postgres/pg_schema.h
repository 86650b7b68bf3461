// The PostgreSQL schema (docs/storage.md, "PostgreSQL") and its migrations. Migrations are
// append-only, like SQLite's: a released one is never edited.
//
// Thread-safety: Migrate uses the given connection only; several nodes may run it at once
// (an advisory lock serializes them and the later ones find nothing to do).
#pragma once

#include <cstdint>

#include "base/status.h"

struct pg_conn;

namespace fs::store::pg {

// The newest schema this binary knows (the number of migrations).
inline constexpr std::int64_t kSchemaVersion = 4;

// Applies the pending migrations in one transaction under pg_advisory_xact_lock. Returns the
// schema version afterwards. kFailedPrecondition when the database is newer than this binary.
base::Result<std::int64_t> Migrate(pg_conn* connection);

}  // namespace fs::store::pg
