// Inventory: the writer's in-memory state of every sale, reservation and idempotency key, and
// the commands that change it. It decides; it does not persist. Every change is recorded as a
// Mutation for the store and as an undo entry, so a batch whose commit fails can be rolled back
// and leave memory exactly as it was ("nothing in memory changes").
//
// Batch protocol (the engine's apply loop):
//   BeginBatch(); ...commands...; mutations() -> store commit; then CommitBatch() or
//   RollbackBatch().
// Thread-safety: none. Exactly one thread (the SKU's writer) owns an Inventory.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/audit.h"
#include "core/mutation.h"
#include "core/order.h"
#include "core/rules.h"
#include "core/types.h"

namespace fs::core {

enum class ReserveOutcome : std::uint8_t {
  kReserved,
  kReplayed,              // same Idempotency-Key, same request: the stored answer
  kIdempotencyKeyReused,  // same key, different request
  kSkuNotFound,
  kSoldOut,
  kLimitExceeded,
  kSaleNotOpen,
  kSaleClosed,
  kQueuePassRequired,  // a waiting-room sale and no pass presented (core/waiting_room.h)
  kQueuePassInvalid,   // a pass that is forged, another's, unknown, expired or used
};

// What the Redis idempotency fast path (src/redis/idempotency_fast_path.h) saw for a reserve's
// Idempotency-Key before it reached the writer. A hint, never the truth: kFirstSeen can be
// wrong when Redis lost its data, kSeenBefore when the first request was refused or never
// committed. The single-node engine keeps every key of the last 24 h in memory and ignores
// it; a store shared by several nodes may skip its own lookup of a key only on kFirstSeen and
// must still insert under its unique key (docs/architecture.md, "Idempotency").
enum class IdempotencyHint : std::uint8_t { kUnknown, kFirstSeen, kSeenBefore };

struct ReserveCommand {
  std::string sku_id;
  std::string user_id;
  std::int32_t quantity = 1;
  std::string idempotency_key;  // empty: none
  // Who asked, for the audit trail (absent when unknown, e.g. in benchmarks).
  // (Default initializers keep 4-field aggregate initialization warning-free.)
  std::optional<std::string> client_ip = std::nullopt;
  std::optional<std::string> device_fingerprint = std::nullopt;
  IdempotencyHint idempotency_hint = IdempotencyHint::kUnknown;
};

struct ReserveResult {
  ReserveOutcome outcome = ReserveOutcome::kSoldOut;
  std::optional<Reservation> reservation;   // set for kReserved
  std::optional<IdempotencyRecord> replay;  // set for kReplayed
};

enum class ReleaseOutcome : std::uint8_t {
  kReleased,
  kAlreadyReleased,
  kNotFound,  // unknown id, or not the caller's
  kExpired,
  kNotActive,  // checkout pending or purchased
};

struct ReleaseResult {
  ReleaseOutcome outcome = ReleaseOutcome::kNotFound;
  std::optional<Reservation> reservation;
};

enum class CreateSaleOutcome : std::uint8_t { kCreated, kAlreadyExists, kInvalid };

struct CreateSaleResult {
  CreateSaleOutcome outcome = CreateSaleOutcome::kInvalid;
  std::string invalid_reason;
  std::optional<Sale> sale;
};

// Operator actions on an existing sale (open early, close, adjust stock).
enum class AdminSaleOutcome : std::uint8_t {
  kChanged,
  kSkuNotFound,
  kStockBelowCommitted,  // the new total would be below held + sold
  kStockOutOfRange,      // the new total would be negative or above kTotalStockMax
};

struct AdminSaleResult {
  AdminSaleOutcome outcome = AdminSaleOutcome::kSkuNotFound;
  std::optional<Sale> sale;  // after the action (set unless kSkuNotFound)
  std::optional<StockCounters> counters;
};

// A consistent view of one sale for readers.
struct SaleSnapshot {
  Sale sale;
  StockCounters counters;
};

// Renders the response body stored with an idempotency key for a new reservation.
using ReservationBodyRenderer = std::function<std::string(const Reservation&)>;

// --- Checkout and the payment saga (issue 3) ------------------------------------------------

enum class CheckoutOutcome : std::uint8_t {
  kCreated,
  kReplayed,              // same Idempotency-Key, same request: the stored answer
  kIdempotencyKeyReused,  // same key, different request
  kReservationNotFound,   // unknown id, or not the caller's
  kReservationExpired,
  kReservationNotActive,  // already in checkout, purchased or released
};

struct CheckoutCommand {
  std::string reservation_id;
  std::string user_id;
  std::string payment_method_id;
  std::string idempotency_key;  // empty: none
};

struct CheckoutResult {
  CheckoutOutcome outcome = CheckoutOutcome::kReservationNotFound;
  std::optional<Order> order;               // set for kCreated
  std::optional<IdempotencyRecord> replay;  // set for kReplayed
};

// Renders the 202 body stored with an idempotency key for a new order.
using OrderBodyRenderer = std::function<std::string(const Order&)>;

// What the payment worker learned from one gateway call for an order.
struct PaymentReport {
  std::string order_id;
  std::int32_t attempt = 1;  // 1-based: the order's attempts before the call, plus one
  ChargeOutcome outcome = ChargeOutcome::kRetryable;
  std::string reason;  // declines and transient failures: why (for failure_reason and logs)
};

enum class PaymentReportOutcome : std::uint8_t {
  kPaid,
  kFailed,
  kRetryScheduled,
  kNeedsAttention,
  kStale,  // the order is no longer PENDING or the attempt was already recorded
  kOrderNotFound,
};

struct PaymentReportResult {
  PaymentReportOutcome outcome = PaymentReportOutcome::kOrderNotFound;
  std::optional<Order> order;
};

enum class ResolveChoice : std::uint8_t { kPaid, kFailed };

enum class ResolveOutcome : std::uint8_t {
  kResolved,
  kOrderNotFound,
  kNotNeedsAttention,  // only NEEDS_ATTENTION orders are settled by hand
};

struct ResolveResult {
  ResolveOutcome outcome = ResolveOutcome::kOrderNotFound;
  std::optional<Order> order;
};

class Inventory {
 public:
  Inventory() = default;
  Inventory(const Inventory&) = delete;
  Inventory& operator=(const Inventory&) = delete;

  // --- Recovery (outside any batch) -------------------------------------------------------
  // Loads state read back from the store. Counters are recomputed from the reservations.
  void LoadSale(const Sale& sale);
  // REQUIRES: the reservation's sale was loaded.
  void LoadReservation(const Reservation& reservation);
  void LoadIdempotency(const IdempotencyRecord& record);
  // Turns on audit events: from now on every decision appends a chained AuditAppended
  // mutation after `head` (the stored chain's last event). Without it no event is made
  // (only for measuring the cost of auditing: engine::Options::audit_enabled).
  void EnableAudit(AuditHasher hasher, AuditHead head);
  // REQUIRES: the order's sale and reservation were loaded.
  void LoadOrder(const Order& order);
  // The last outbox sequence number stored for the SKU. REQUIRES: the sale was loaded.
  void LoadEventSequence(const std::string& sku_id, std::int64_t sequence);

  // --- Shared stores: rows other writers committed (outside any batch) ---------------------
  // Each call brings one row to its stored state; a row already in that state changes
  // nothing, so applying the same changes twice is harmless. Counters, user units and the
  // expiry queue follow the reservations. Call CheckSynced() after a set of calls: between
  // two calls a sale may briefly look oversold (a new hold applied before the release that
  // made room for it).
  void SyncSale(const Sale& sale);
  // REQUIRES: the reservation's sale is known.
  void SyncReservation(const Reservation& reservation);
  void SyncIdempotency(const IdempotencyRecord& record);
  // REQUIRES: the order's reservation is known.
  void SyncOrder(const Order& order);
  void SyncEventSequence(const std::string& sku_id, std::int64_t sequence);
  // No-op when audit is off.
  void SyncAuditHead(AuditHead head);
  // FS_CHECKs zero oversell of every sale and the per-user limit of every user whose units
  // grew since the last call.
  void CheckSynced();

  // --- Batch protocol ---------------------------------------------------------------------
  void BeginBatch();
  // The batch's changes, in order, for the store.
  const Mutations& mutations() const { return mutations_; }
  // Keeps the batch's changes. Returns the sku ids the batch changed.
  std::vector<std::string> CommitBatch();
  // Restores the state from before BeginBatch().
  void RollbackBatch();

  // --- Commands (REQUIRES: inside a batch) -------------------------------------------------
  CreateSaleResult CreateSale(Sale sale, Time now);
  // `render_body` makes the body stored with the idempotency key (only called on success).
  ReserveResult Reserve(const ReserveCommand& command, const std::string& reservation_id, Time now,
                        const ReservationBodyRenderer& render_body);
  ReleaseResult Release(const std::string& reservation_id, const std::string& user_id, Time now);
  // Expires every RESERVED reservation whose expires_at <= now, at most `count_max` of them.
  // Returns how many expired.
  std::size_t ExpireDue(Time now, std::size_t count_max);
  // Adds a mutation deleting stored idempotency records older than `before` and forgets them
  // in memory.
  void PruneIdempotency(Time before);
  // Sets the operator override of a sale (kOpened: open before starts_at; kClosed: no more
  // reservations; existing ones can still be released, expire or be checked out). Audited.
  AdminSaleResult SetSaleOverride(const std::string& sku_id, SaleOverride to, Time now);
  // Adds `delta` (may be negative) to the sale's total stock. Refused below held + sold.
  // Audited, refusals included.
  AdminSaleResult AdjustStock(const std::string& sku_id, std::int64_t delta, Time now);
  // Creates a PENDING order for a RESERVED, unexpired reservation of the caller and moves the
  // reservation to CHECKOUT_PENDING (it no longer expires). An expired one is expired now.
  CheckoutResult Checkout(const CheckoutCommand& command, const std::string& order_id, Time now,
                          const OrderBodyRenderer& render_body);
  // Applies a gateway answer to a PENDING order: PAID (reservation PURCHASED), FAILED
  // (reservation RELEASED), a later retry per `schedule`, or NEEDS_ATTENTION.
  PaymentReportResult RecordPayment(const PaymentReport& report, const RetrySchedule& schedule,
                                    Time now);
  // Settles a NEEDS_ATTENTION order by an operator's decision.
  ResolveResult ResolveOrder(const std::string& order_id, ResolveChoice choice, Time now);
  // Chains an event decided outside the writer (a reserve attempt the rate limiter refused,
  // a bot detection) into this batch: stored by the batch's commit, rolled back with it.
  // Its id and hashes are (re)assigned here. No-op when audit is off.
  void AppendAudit(AuditEvent event);
  // For state kept beside the inventory that commits in the same batch (the waiting room,
  // which keeps its own undo): adds `mutation` to the batch in order.
  void AppendMutation(Mutation mutation);
  // Audits a reserve attempt refused before Reserve() decided it (e.g. no valid queue pass):
  // FAILED with ReserveOutcomeName(outcome) as the reason and `detail` in the metadata.
  // REQUIRES: outcome is a refusal.
  void AuditRefusedReserve(const ReserveCommand& command, ReserveOutcome outcome,
                           std::string_view detail, Time now);

  // --- Queries (any time, on the owning thread) -------------------------------------------
  // nullptr when unknown. Valid until the next command.
  const Reservation* FindReservation(const std::string& reservation_id) const;
  std::optional<SaleSnapshot> FindSale(const std::string& sku_id) const;
  std::vector<std::string> SkuIds() const;
  std::optional<Time> NextExpiry();
  std::int32_t UserUnits(const std::string& sku_id, const std::string& user_id) const;
  // Whether the user's idempotency key is known (a repeated request will be replayed).
  bool HasIdempotencyKey(const std::string& user_id, const std::string& key) const;
  // nullptr when unknown. Valid until the next command.
  const Order* FindOrder(const std::string& order_id) const;
  // PENDING orders with next_attempt_at <= now, earliest first, at most `count_max`.
  std::vector<Order> DueOrders(Time now, std::size_t count_max) const;
  // Orders with `status`, oldest first, at most `count_max`.
  std::vector<Order> OrdersWithStatus(OrderStatus status, std::size_t count_max) const;
  std::int64_t EventSequence(const std::string& sku_id) const;
  std::size_t reservation_count() const { return reservations_.size(); }
  std::size_t idempotency_count() const { return idempotency_.size(); }
  // The last event of the audit chain, including this batch's events until rolled back.
  const AuditHead& audit_head() const { return audit_head_; }

  // Recounts every sale's counters and user units from the reservations and checks them
  // against the maintained ones and the stock. FS_CHECKs on any difference. O(reservations).
  void CheckInvariants() const;

 private:
  struct Book {
    Sale sale;
    StockCounters counters;
    std::unordered_map<std::string, std::int32_t> user_units;
    std::int64_t event_sequence = 0;  // the SKU's last outbox sequence number
  };
  struct UndoSaleCreated {
    std::string sku_id;
  };
  struct UndoCounters {
    std::string sku_id;
    StockCounters previous;
  };
  struct UndoUserUnits {
    std::string sku_id;
    std::string user_id;
    std::int32_t previous = 0;
  };
  struct UndoReservation {
    std::string reservation_id;
    std::optional<Reservation> previous;
  };
  struct UndoIdempotency {
    std::string map_key;
  };
  struct UndoSale {
    Sale previous;
  };
  struct UndoAuditHead {
    AuditHead previous;
  };
  struct UndoOrder {
    std::string order_id;
    std::optional<Order> previous;
  };
  struct UndoEventSequence {
    std::string sku_id;
    std::int64_t previous = 0;
  };
  using Undo = std::variant<UndoSaleCreated, UndoCounters, UndoUserUnits, UndoReservation,
                            UndoIdempotency, UndoSale, UndoAuditHead, UndoOrder, UndoEventSequence>;
  using ExpiryEntry = std::pair<Time, std::string>;

  static std::string IdempotencyMapKey(const std::string& user_id, const std::string& key);
  Book* FindBook(const std::string& sku_id);
  void AddUserUnits(Book& book, const std::string& user_id, std::int32_t delta);
  void SetCounters(Book& book, StockCounters counters);
  void Transition(Reservation& reservation, ReservationStatus to, Time now);
  void ApplyUndo(Undo& undo);
  // Chains `event` after the head and adds it to the batch (no-op when audit is off).
  void Audit(AuditEvent event);
  void AuditReserve(const ReserveCommand& command, ReserveOutcome outcome,
                    const std::optional<Reservation>& reservation, Time now);
  // Adds an outbox event for the book's SKU with the next sequence number.
  void AppendEvent(Book& book, std::string_view type, const std::string& user_id,
                   std::string payload_json, Time now);
  // Records undo for `order` (by id), then replaces it (or inserts it) with `next`.
  void PutOrder(Order next);
  void StoreIdempotency(const std::string& user_id, const std::string& key, std::string fingerprint,
                        std::int32_t http_status, std::string body, Time now);
  // Moves an order to `to` with its reservation (PAID: PURCHASED; FAILED: RELEASED) and
  // writes the order's events.
  Order SettleOrder(const Order& order, OrderStatus to, std::string failure_reason, Time now);
  void RequireBatch() const;

  std::map<std::string, Book> books_;
  std::unordered_map<std::string, Reservation> reservations_;
  std::unordered_map<std::string, IdempotencyRecord> idempotency_;
  std::deque<std::pair<Time, std::string>> idempotency_by_age_;
  std::priority_queue<ExpiryEntry, std::vector<ExpiryEntry>, std::greater<>> expiry_;
  std::unordered_map<std::string, Order> orders_;
  // PENDING orders: id -> next_attempt_at, and the same ordered by due time (the payment
  // worker's durable queue; DueOrders reads only the due head).
  std::map<std::string, Time> pending_orders_;
  std::set<std::pair<Time, std::string>> pending_by_due_;
  void SetPending(const std::string& order_id, std::optional<Time> next_attempt_at);

  AuditHasher audit_hasher_;  // empty: audit off
  AuditHead audit_head_;
  bool audit_head_saved_ = false;  // this batch's undo holds the head from before its events

  std::vector<std::pair<std::string, std::string>> synced_users_;  // (sku, user) since CheckSynced

  bool in_batch_ = false;
  Mutations mutations_;
  std::vector<Undo> undo_;
  std::vector<std::string> touched_skus_;
};

std::string_view ReserveOutcomeName(ReserveOutcome outcome);
std::string_view CheckoutOutcomeName(CheckoutOutcome outcome);

}  // namespace fs::core
