// PgStore: the shared system of record of a cluster (--store postgres://...). Several nodes,
// each with one writer, use one database; the database arbitrates (docs/architecture.md,
// "Several nodes"):
//   - BeginBatch opens the batch's transaction and takes the cluster's batch lock (the
//     cluster_head row, FOR UPDATE through an UPDATE), then reads in the same round trip every
//     row other nodes committed since this writer's last batch (rows carry the cluster batch
//     number that last wrote them). The writer applies them, decides, and Commit writes the
//     batch in the same transaction and COMMITs (synchronous_commit=on: durable before Ok).
//   - Commit sends the batch as a handful of bulk statements (unnest over arrays, one per run
//     of same-kind mutations, in the batch's order) plus COMMIT in one pipelined round trip.
//   - The same guards as SQLite, in the database: CHECK (held + sold <= total_stock),
//     held/sold/user units kept by triggers from the reservation rows, a CHECK that a user's
//     units stay within the sale's per_user_limit, unique keys (idempotency key per user, one
//     order per reservation), legal transitions only, append-only audit events.
//
// Errors follow store.h. A lost connection is kUnavailable and the connection is dropped; the
// next call reconnects (at most every reconnect_interval). A COMMIT whose answer was lost is
// kUnavailable too although it may have committed: the writer's next refresh reads its rows.
//
// Thread-safety: one thread at a time (the writer), like every Store.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace fs::store {

struct PgOptions {
  std::string url;  // postgres://user:password@host:port/database (or key=value)
  pg::SessionOptions session;
  // After a failed connection attempt, calls fail at once with kUnavailable for this long,
  // so an outage costs each batch nothing instead of a connect timeout.
  std::chrono::milliseconds reconnect_interval{200};
};

// True for the --store values this store takes (postgres:// or postgresql://).
bool IsPostgresUrl(std::string_view store);
// The URL without its password, for logs.
std::string RedactedUrl(const std::string& url);

class PgStore final : public Store {
 public:
  // Connects, runs the migrations (safe when several nodes start at once) and prepares the
  // statements. kUnavailable when the server cannot be reached.
  static base::Result<std::unique_ptr<PgStore>> Open(PgOptions options);
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  base::Result<LoadedState> Load(base::Time idempotency_since) override;
  base::Status Commit(const core::Mutations& mutations) override;
  base::Result<std::vector<StoredCounters>> ReadCounters() override;

  bool shared() const override { return true; }
  base::Result<ClusterChanges> BeginBatch(std::int64_t synced_through) override;
  void AbortBatch() override;
  base::Result<ClusterChanges> ReadChanges(std::int64_t synced_through) override;

 private:
  explicit PgStore(PgOptions options) : options_(std::move(options)) {}
  base::Status EnsureConnected();
  base::Status PrepareStatements();
  // Drops the connection after kUnavailable (its state is unknown); rolls back otherwise.
  base::Status Abandon(base::Status failure);
  // Rows written after cluster batch `after` in one read-only snapshot, no lock. With `load`
  // (recovery): only active reservations and open orders, and the counters and user units
  // into *load.
  base::Result<ClusterChanges> ReadSnapshot(std::int64_t after, base::Time idempotency_since,
                                            std::string_view context, LoadedState* load = nullptr);
  // The steps reading the changes after `after` (see pg_store.cc) and their decoding.
  static void AddChangeSteps(std::vector<pg::PipelineStep>& steps, std::int64_t after,
                             bool exclude_own_batch, base::Time idempotency_since, bool load);
  static base::Status DecodeChanges(const std::vector<pg::ResultHandle>& results, std::size_t first,
                                    ClusterChanges& changes);

  const PgOptions options_;
  pg::ConnectionHandle connection_;
  std::chrono::steady_clock::time_point next_connect_{};
  bool in_batch_ = false;          // a BeginBatch transaction is open
  std::int64_t batch_number_ = 0;  // its cluster batch number
};

}  // namespace fs::store
