// Store: the system of record behind the writer. The writer hands it each batch's mutations
// and answers the batch's requests only after Commit() returned Ok, so an acknowledged
// reservation is durable. The database enforces zero oversell and the per-user limit again on
// its own (constraints, triggers, unique keys): a writer bug is refused, not stored.
//
// Thread-safety: a Store instance is used by one thread at a time (its writer). Readers on
// other threads open their own instance.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "core/mutation.h"
#include "core/types.h"

namespace fs::store {

// Counters as the database itself maintains them (by triggers), for cross-checks.
struct StoredCounters {
  std::string sku_id;
  std::int64_t total_stock = 0;
  std::int64_t held = 0;
  std::int64_t sold = 0;
};

// A user's units of one sale (held or bought) as the database keeps them (user_units).
struct StoredUserUnits {
  std::string sku_id;
  std::string user_id;
  std::int32_t units = 0;
};

// What recovery loads: what the writer decides with, not the history (docs/operations.md,
// "Sizing"). Ended reservations and final orders stay in the database; their units are in
// `counters` and `user_units`. (A store may return ended ones too: they are counted once and
// forgotten.)
struct LoadedState {
  std::vector<core::Sale> sales;
  // Every sale's counters and every user's units above zero, as the database keeps them.
  std::vector<StoredCounters> counters;
  std::vector<StoredUserUnits> user_units;
  // RESERVED and CHECKOUT_PENDING reservations.
  std::vector<core::Reservation> reservations;
  std::vector<core::IdempotencyRecord> idempotency;
  core::AuditHead audit_head;       // the last stored audit event; event_id 0 when none
  std::vector<core::Order> orders;  // PENDING and NEEDS_ATTENTION
  // (sku_id, last outbox sequence number) for SKUs with events.
  std::vector<std::pair<std::string, std::int64_t>> event_sequences;
  // The fair waiting room: every room, and every ticket by room then join_seq.
  std::vector<core::WaitingRoomRecord> waiting_rooms;
  std::vector<core::QueueTicket> queue_tickets;
  // Shared stores: the last cluster batch this snapshot includes (0 otherwise).
  std::int64_t synced_through = 0;
};

// What other writers committed to a shared store after a writer's last sync: every row they
// created or changed, whole (docs/architecture.md, "Several nodes"). Applying it brings the
// writer's memory to the database's state as of `synced_through`.
struct ClusterChanges {
  std::int64_t synced_through = 0;              // the last cluster batch the changes include
  std::vector<core::Sale> sales;                // created or changed
  std::vector<core::Reservation> reservations;  // created or changed
  std::vector<core::IdempotencyRecord> idempotency;
  std::vector<core::Order> orders;  // created or changed
  // (sku_id, last outbox sequence number) for SKUs that got events.
  std::vector<std::pair<std::string, std::int64_t>> event_sequences;
  core::AuditHead audit_head;  // the chain's last stored event; event_id 0 when none
};

// A Commit refused for a data reason: one command's rows, not the store or the writer.
inline bool IsDataError(const base::Status& status) {
  return status.code() == base::StatusCode::kInvalidArgument;
}

// The constraints that enforce zero oversell and the per-user limit in both schemas. A
// violation is a writer bug (kInternal), never a data error.
inline constexpr std::string_view kGuardConstraints[] = {"no_oversell", "held_not_negative",
                                                         "sold_not_negative", "units_not_negative",
                                                         "units_within_limit"};

class Store {
 public:
  virtual ~Store() = default;

  // Reads what the writer needs to rebuild its memory (LoadedState): every sale with its
  // counters, the active reservations, the open orders, and the idempotency records created at
  // or after `idempotency_since`.
  virtual base::Result<LoadedState> Load(base::Time idempotency_since) = 0;

  // Applies `mutations` in order in one transaction and makes it durable before returning Ok.
  // On any error nothing was applied. Error codes:
  //   kUnavailable:     rolled back cleanly; the same state may be retried later.
  //   kInvalidArgument: the database refused a value for a data reason (an encoding it does
  //                     not accept, a constraint the writer did not predict: PostgreSQL
  //                     classes 22 and 23, SQLite constraints other than the guards). The
  //                     batch without the command that wrote it may commit (IsDataError).
  //   kInternal:        a guard refused the batch (oversell, per-user limit, a status
  //                     transition: a writer bug); do not retry.
  //   kDataLoss:        durability is in doubt (failed sync); the writer must stop writing.
  virtual base::Status Commit(const core::Mutations& mutations) = 0;

  // Counters per sale as the database maintains them.
  virtual base::Result<std::vector<StoredCounters>> ReadCounters() = 0;

  // --- Shared stores: several writers (one per node) on one database ---------------------
  // False for a store only this writer writes (SQLite): the writer's memory is the truth and
  // the methods below are never called.
  virtual bool shared() const { return false; }
  // Opens the batch's transaction and takes the cluster's batch lock (held until Commit or
  // AbortBatch returns), then returns every change other writers committed after cluster batch
  // `synced_through`. Commit then writes the batch in this transaction. Errors: kUnavailable
  // (no connection, lock timeout; retry later), others as Commit. On error no batch is open.
  virtual base::Result<ClusterChanges> BeginBatch(std::int64_t synced_through) {
    (void)synced_through;
    return base::FailedPrecondition("not a shared store");
  }
  // Ends a batch opened by BeginBatch without writing anything (releases the lock).
  virtual void AbortBatch() {}
  // Like BeginBatch but without the lock and without leaving a transaction open: a consistent
  // read of the committed changes, for refreshing what readers see while no batch runs.
  virtual base::Result<ClusterChanges> ReadChanges(std::int64_t synced_through) {
    (void)synced_through;
    return base::FailedPrecondition("not a shared store");
  }
};

}  // namespace fs::store
