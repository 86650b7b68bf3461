// Ledger: the writer's whole state and the only way to change it. Its parts, each depending
// only on those before it:
//   journal       one batch's mutations and its one undo journal (journal.h)
//   audit chain   every decision's chained audit event (audit_chain.h)
//   sales         sales, stock counters and user units, with the oversell guards (sales.h)
//   reservations  reservations with their expiry, and idempotency keys (reservations.h)
//   orders        orders and the payment saga (orders.h)
//   waiting rooms the fair queues of waiting-room sales (waiting_room.h)
// Every change made inside a batch is a Mutation for the store and an undo entry in the one
// journal, so a batch whose commit fails is rolled back and memory is exactly as before.
//
// Batch protocol (the engine's apply loop):
//   BeginBatch(); ...commands...; mutations() -> store commit; then CommitBatch() or
//   RollbackBatch().
// Thread-safety: none. Exactly one thread owns a Ledger: the engine binds owner() to its
// writer thread, and batches and commands FS_CHECK that they run on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/random.h"
#include "base/thread_role.h"
#include "core/audit_chain.h"
#include "core/inventory.h"
#include "core/journal.h"
#include "core/orders.h"
#include "core/reservations.h"
#include "core/sales.h"
#include "core/waiting_room.h"

namespace fs::core {

class Ledger {
 public:
  explicit Ledger(WaitingRoomPolicy policy = {});
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // The thread that owns the ledger. Unbound (recovery, tests) every thread passes.
  base::ThreadRole& owner() { return owner_; }

  // --- Recovery (outside any batch) -------------------------------------------------------
  // In this order: rooms, sales (a sale whose room was loaded gets waiting_room on), tickets
  // (per room in join_seq order), FinishLoad(), then reservations, keys, audit, orders and
  // event sequences.
  void LoadRoom(const WaitingRoomRecord& record) { rooms_.LoadRoom(record); }
  void LoadSale(Sale sale);
  void LoadTicket(const QueueTicket& ticket) { rooms_.LoadTicket(ticket); }
  // Replays the rooms' draws. "" on success, else the first inconsistency found.
  std::string FinishLoad(Time now) { return rooms_.FinishLoad(now); }
  void LoadReservation(const Reservation& reservation) { reservations_.Load(reservation); }
  void LoadIdempotency(const IdempotencyRecord& record) { reservations_.LoadIdempotency(record); }
  // Turns on audit events: from now on every decision appends a chained AuditAppended
  // mutation after `head` (the stored chain's last event). Without it no event is made
  // (only for measuring the cost of auditing: engine::Options::audit_enabled).
  void EnableAudit(AuditHasher hasher, AuditHead head) {
    audit_.Enable(std::move(hasher), std::move(head));
  }
  void LoadOrder(const Order& order) { orders_.Load(order); }
  // After the reservations: the counts the store keeps for what ended, which recovery does not
  // load (docs/operations.md, "Sizing"). `held` must equal what the loaded reservations hold;
  // `sold` and the user's units (held or bought) are taken as stored. "" on success, else the
  // inconsistency.
  std::string LoadStoredCounts(const std::string& sku_id, std::int64_t held, std::int64_t sold);
  std::string LoadStoredUserUnits(const std::string& sku_id, const std::string& user_id,
                                  std::int32_t units);
  // Forgets the reservations that ended and the orders that became final since the last call:
  // the writer keeps only what it decides with. Outside any batch (after a commit, a sync or
  // recovery). Returns how many reservations were forgotten.
  std::size_t RetireFinished() {
    orders_.RetireFinal();
    return reservations_.RetireFinished();
  }
  // The last outbox sequence number stored for the SKU. REQUIRES: the sale was loaded.
  void LoadEventSequence(const std::string& sku_id, std::int64_t sequence) {
    sales_.LoadEventSequence(sku_id, sequence);
  }

  // --- Shared stores: rows other writers committed (outside any batch) ---------------------
  // Each call brings one row to its stored state; a row already in that state changes
  // nothing. Call CheckSynced() after a set of calls.
  void SyncSale(const Sale& sale);
  void SyncReservation(const Reservation& reservation);
  void SyncIdempotency(const IdempotencyRecord& record);
  void SyncOrder(const Order& order);
  void SyncEventSequence(const std::string& sku_id, std::int64_t sequence);
  void SyncAuditHead(AuditHead head);
  void CheckSynced();

  // --- Batch protocol ---------------------------------------------------------------------
  void BeginBatch();
  // The batch's changes, in order, for the store.
  const Mutations& mutations() const { return journal_.mutations(); }
  // Keeps the batch's changes. Returns the sku ids whose published state changed, sorted.
  std::vector<std::string> CommitBatch();
  // Restores the state from before BeginBatch().
  void RollbackBatch();

  // --- Commands (REQUIRES: inside a batch, on the owner thread) ----------------------------
  // A sale created with waiting_room on gets its room in the same batch.
  // `request_id` of the admin commands: the operator request's X-Request-Id (audit metadata),
  // or empty.
  CreateSaleResult CreateSale(Sale sale, Time now, std::string_view request_id = {});
  // A repeated idempotency key is replayed or refused first. A sale with a waiting room then
  // needs a valid queue pass (refusals are audited as FAILED reserve attempts), used in the
  // batch of the reservation it allows; other sales never look at rooms.
  ReserveResult Reserve(const ReserveCommand& command, const PresentedPass& pass,
                        const std::string& reservation_id, Time now);
  // `request_id`: the X-Request-Id of the request (audit metadata and outbox event), or empty.
  ReleaseResult Release(const std::string& reservation_id, const std::string& user_id, Time now,
                        std::string_view request_id = {});
  // Expires every due RESERVED reservation, at most `count_max`; returns how many expired.
  std::size_t ExpireDue(Time now, std::size_t count_max);
  // Forgets idempotency keys created before `before` and deletes them from the store.
  void PruneIdempotency(Time before);
  // Operator override: kOpened opens before starts_at; kClosed refuses new reservations
  // (existing ones can still be released, expire or be checked out). Audited.
  AdminSaleResult SetSaleOverride(const std::string& sku_id, SaleOverride to, Time now,
                                  std::string_view request_id = {});
  // Adds `delta` (may be negative) to the total stock; refused below held + sold. Audited.
  AdminSaleResult AdjustStock(const std::string& sku_id, std::int64_t delta, Time now,
                              std::string_view request_id = {});
  AdminSaleResult UpdateSale(const std::string& sku_id, const SalePatch& patch, Time now,
                             std::string_view request_id = {});
  CheckoutResult Checkout(const CheckoutCommand& command, const std::string& order_id, Time now);
  PaymentReportResult RecordPayment(const PaymentReport& report, const RetrySchedule& schedule,
                                    Time now);
  // The settled order's audit events carry the operator's `request_id` when given, else the
  // checkout's.
  ResolveResult ResolveOrder(const std::string& order_id, ResolveChoice choice, Time now,
                             std::string_view request_id = {});
  // Stores what a keyed reserve or checkout that created something answered, replayed to a
  // repeat of it (Reserve/Checkout return kReplayed with it). REQUIRES: the command has a key
  // and its decision in this batch was kReserved / kCreated.
  void StoreReply(const ReserveCommand& command, StoredReply reply, Time now);
  void StoreReply(const CheckoutCommand& command, StoredReply reply, Time now);
  // Chains an event decided outside the writer (a reserve attempt the rate limiter refused,
  // a bot detection) into this batch. Its id and hashes are (re)assigned. No-op when off.
  void AppendAudit(AuditEvent event);
  // A ticket for the user in the sale's room (the existing one when the user already joined).
  JoinResult JoinQueue(const std::string& sku_id, const std::string& user_id,
                       const std::string& ticket_id, Time now);
  // Draws, admits and expires passes of every room (after the batch's expiries, so units
  // they returned are admitted in the same batch).
  void TickRooms(Time now, base::Rng& rng);

  // --- Queries (on the owner thread) ------------------------------------------------------
  // nullptr when unknown; valid until the next command.
  const Reservation* FindReservation(const std::string& reservation_id) const {
    return reservations_.Find(reservation_id);
  }
  std::optional<SaleSnapshot> FindSale(const std::string& sku_id) const;
  std::vector<std::string> SkuIds() const;
  // The earliest pending expiry.
  std::optional<Time> NextExpiry() { return reservations_.NextExpiry(); }
  std::int32_t UserUnits(const std::string& sku_id, const std::string& user_id) const;
  std::int64_t EventSequence(const std::string& sku_id) const;
  std::size_t reservation_count() const { return reservations_.all().size(); }
  std::size_t idempotency_count() const { return reservations_.idempotency_count(); }
  // nullptr when unknown; valid until the next command.
  const Order* FindOrder(const std::string& order_id) const { return orders_.Find(order_id); }
  // PENDING orders with next_attempt_at <= now, earliest first, at most `count_max`.
  std::vector<Order> DueOrders(Time now, std::size_t count_max) const {
    return orders_.Due(now, count_max);
  }
  // Orders with `status`, oldest first, at most `count_max`.
  std::vector<Order> OrdersWithStatus(OrderStatus status, std::size_t count_max) const {
    return orders_.WithStatus(status, count_max);
  }
  // The last event of the audit chain, including this batch's events until rolled back.
  const AuditHead& audit_head() const { return audit_.head(); }
  // The ticket if it exists in the sale's room and belongs to `user_id`.
  std::optional<TicketView> FindTicket(const std::string& sku_id, const std::string& ticket_id,
                                       const std::string& user_id, Time now) const {
    return rooms_.FindTicket(sku_id, ticket_id, user_id, now);
  }
  bool HasRoom(const std::string& sku_id) const { return rooms_.HasRoom(sku_id); }
  std::vector<WaitingRoomStats> RoomStats() const { return rooms_.Stats(); }

  // Recounts every sale's counters and user units from the reservations and checks them
  // against the maintained ones, the stock and the orders. FS_CHECKs on any difference.
  // O(reservations).
  // Recounts what memory holds: held units from the active reservations must equal the
  // counters; ended reservations still in memory (not yet retired) bound sold and user units
  // from below. Sold and user units of retired ones are checked against the store instead
  // (Engine::CheckConsistency).
  void CheckInvariants() const;

 private:
  // A reserve of a waiting-room sale: the pass rule, then the reserve itself.
  ReserveResult ReserveWithPass(Book& book, const ReserveCommand& command,
                                const PresentedPass& pass, const std::string& reservation_id,
                                Time now);
  // REQUIRES: inside a batch, on the owner thread.
  void RequireBatch() const;

  base::ThreadRole owner_;
  Journal journal_;
  AuditChain audit_;
  Sales sales_;
  Reservations reservations_;
  Orders orders_;
  WaitingRooms rooms_;
};

}  // namespace fs::core
