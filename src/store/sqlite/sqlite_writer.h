// SqliteMutationWriter: writes a batch's mutations into the embedded store with statements
// prepared once. One table row per mutation type (sqlite_writer.cc, MutationRow) says its SQL,
// how its values bind, how it is named in an error, and whether it must change exactly one row
// (a guarded UPDATE matching nothing is a writer bug). Adding a mutation = one row.
//
// Errors follow sqlite_util.h's mapping; a guard that refuses (constraint, trigger, an UPDATE
// matching no row) is kInternal. The caller owns the transaction and rolls it back.
// Thread-safety: one thread at a time (the store's writer).
#pragma once

#include <sqlite3.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "base/status.h"
#include "core/mutation.h"
#include "store/sqlite/sqlite_util.h"

namespace fs::store::sqlite {

class SqliteMutationWriter {
 public:
  static constexpr std::size_t kKinds = std::variant_size_v<core::Mutation>;

  // Prepares every mutation's statement on `db`, which must outlive the writer.
  static base::Result<std::unique_ptr<SqliteMutationWriter>> Prepare(sqlite3* db);
  SqliteMutationWriter(const SqliteMutationWriter&) = delete;
  SqliteMutationWriter& operator=(const SqliteMutationWriter&) = delete;

  // Writes one mutation inside the caller's open transaction.
  base::Status Write(const core::Mutation& mutation);

 private:
  explicit SqliteMutationWriter(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::array<StatementHandle, kKinds> statements_;  // by the variant's index
  std::string scratch_;  // a reused buffer for values converted before binding
};

}  // namespace fs::store::sqlite
