// MemoryStore: an in-memory reference implementation of store::Store, for model and
// simulation tests that want the system of record without a file. It keeps the committed state
// in maps and enforces the guards the databases enforce (zero oversell, the per-user limit,
// legal reservation and order transitions, single-use queue passes, gap-free sequences,
// unique keys), refusing a batch that breaks one with the code the SQLite store returns
// (kInternal) and the same words in the message. Like the databases it derives the counters
// (held, sold, user units) from the reservations; the writer never sets them.
//
// Commit is atomic: a batch is applied to a copy of the state, which replaces the committed
// state only when every mutation passed. Nothing is durable: the state lives as long as the
// instance.
//
// Thread-safety: one thread at a time (the Store rule).
#pragma once

#include <memory>
#include <vector>

#include "base/status.h"
#include "core/mutation.h"
#include "store/store.h"

namespace fs::store {

class MemoryStore final : public Store {
 public:
  MemoryStore();
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // As SqliteStore::Load: rows in the order they were created, idempotency records created at
  // or after `idempotency_since` by creation time, rooms by sku, tickets by sku then join_seq.
  base::Result<LoadedState> Load(base::Time idempotency_since) override;
  // See Store::Commit. kInternal when a guard refuses a mutation (nothing is applied).
  base::Status Commit(const core::Mutations& mutations) override;
  // Counters by sku_id, as the guards maintain them.
  base::Result<std::vector<StoredCounters>> ReadCounters() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace fs::store
