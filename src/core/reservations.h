// Reservations: the ledger's part that holds every reservation with its expiry queue and
// every idempotency key with its stored reply, and decides reserve, release and expiry. A
// reservation's status change moves its sale's counters and user units (through Sales) and is
// audited and told to the outbox in the same batch.
// Depends on: the journal, the audit chain and sales. Thread-safety: none; owned with its
// ledger by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/audit_chain.h"
#include "core/inventory.h"
#include "core/journal.h"
#include "core/sales.h"

namespace fs::core {

class Reservations {
 public:
  Reservations(Journal& journal, AuditChain& audit, Sales& sales)
      : journal_(journal), audit_(audit), sales_(sales) {}
  Reservations(const Reservations&) = delete;
  Reservations& operator=(const Reservations&) = delete;

  // --- Recovery and shared-store refresh (outside any batch) -------------------------------
  // REQUIRES: the reservation's sale is known. Counters and user units follow it.
  void Load(const Reservation& reservation);
  void LoadIdempotency(const IdempotencyRecord& record);
  // Brings one reservation to its stored state; applying the same row twice changes nothing.
  void Sync(const Reservation& reservation);
  void SyncIdempotency(const IdempotencyRecord& record);
  // FS_CHECKs zero oversell of every sale and the per-user limit of every user whose units
  // grew since the last call (between two Sync calls a sale may briefly look oversold).
  void CheckSynced();
  // Forgets the reservations that ended (RELEASED, EXPIRED, PURCHASED) since the last call:
  // the writer decides nothing more with them (their units stay in the sale's counters and
  // user units). Reads of one go to the store. Outside any batch, after a commit or a sync;
  // returns how many were forgotten.
  std::size_t RetireFinished();

  // --- Idempotency keys ---------------------------------------------------------------------
  // The user's record for `key`, nullptr when unknown.
  const IdempotencyRecord* FindKey(const std::string& user_id, const std::string& key) const;
  // Stores what the request that created something answered, to be replayed to a repeat of it
  // with the same key (the one place records are written). REQUIRES: inside a batch; the key
  // is new.
  void StoreReply(const std::string& user_id, const std::string& key, std::string fingerprint,
                  StoredReply reply, Time now);
  // Forgets keys created before `before` and adds the mutation deleting them.
  void PruneIdempotency(Time before);

  // --- Decisions (REQUIRES: inside a batch) -------------------------------------------------
  // A repeated key: kReplayed with the stored reply, or kIdempotencyKeyReused (audited).
  // nullopt for a new or absent key.
  std::optional<ReserveResult> Replay(const ReserveCommand& command, Time now);
  // Decides the reserve against the sale's counters and the user's units, and creates the
  // reservation when granted. Audited either way.
  ReserveResult Reserve(Book& book, const ReserveCommand& command,
                        const std::string& reservation_id, Time now);
  // Audits a reserve refused before Reserve() (unknown SKU, no valid queue pass) as FAILED
  // with `outcome` and `detail` (may be empty). REQUIRES: outcome is a refusal.
  ReserveResult Refuse(const ReserveCommand& command, ReserveOutcome outcome,
                       std::string_view detail, Time now);
  // `request_id`: the X-Request-Id of the request (audit metadata and outbox event), or empty.
  ReleaseResult Release(const std::string& reservation_id, const std::string& user_id, Time now,
                        std::string_view request_id = {});
  // Expires every RESERVED reservation whose expires_at <= now, at most `count_max` of them.
  std::size_t ExpireDue(Time now, std::size_t count_max);
  // Moves a reservation to `to` with its counters, user units, audit event and outbox event.
  // `request_id`: the X-Request-Id of the request that caused it (empty for the writer's own
  // decisions, e.g. expiry), recorded in the audit metadata and the outbox event.
  // REQUIRES: IsAllowedTransition(reservation.status, to).
  void Transition(Reservation& reservation, ReservationStatus to, Time now,
                  std::string_view request_id = {});

  // --- Queries ------------------------------------------------------------------------------
  Reservation* Find(const std::string& reservation_id);
  const Reservation* Find(const std::string& reservation_id) const;
  const std::unordered_map<std::string, Reservation>& all() const { return reservations_; }
  // The earliest pending expiry (drops stale heads outside a batch).
  std::optional<Time> NextExpiry();
  std::size_t idempotency_count() const { return idempotency_.size(); }

 private:
  using ExpiryEntry = std::pair<Time, std::string>;
  // The map key of a user's idempotency key, written into `out` (whose capacity is reused).
  static void MapKey(const std::string& user_id, const std::string& key, std::string& out);
  static void Undo(void* self, undo::Change& change);
  // Takes the reservation's share out of (sign -1) or into (+1) its book, without undo.
  void ApplyShare(Book& book, const Reservation& reservation, int sign);

  Journal& journal_;
  AuditChain& audit_;
  Sales& sales_;
  std::unordered_map<std::string, Reservation> reservations_;
  // Reservations that ended since the last RetireFinished (some may be active again after a
  // rollback: checked when retiring).
  std::vector<std::string> finished_;
  std::priority_queue<ExpiryEntry, std::vector<ExpiryEntry>, std::greater<>> expiry_;
  std::unordered_map<std::string, IdempotencyRecord> idempotency_;
  std::deque<std::pair<Time, std::string>> idempotency_by_age_;
  std::vector<std::pair<std::string, std::string>> synced_users_;  // (sku, user) since CheckSynced
  // FindKey()'s lookup key: reused, so looking a key up allocates nothing once warm.
  mutable std::string lookup_key_;
};

}  // namespace fs::core
