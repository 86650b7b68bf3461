// Engine: the single writer. Every write for every SKU (and reads that must see the writer's
// state) is a command in one bounded inbox (inbox.h: lock-free, woken once per sleep),
// drained by one writer thread that:
//   1. takes up to `batch_size_max` commands,
//   2. expires due reservations and decides every command in arrival order in memory
//      (core::Inventory),
//   3. commits the batch's mutations in one store transaction (group commit), and
//   4. only then completes the commands (their callbacks run on the writer thread).
// If the commit fails, every command of the batch completes with kUnavailable and memory is
// rolled back. A full inbox completes the command with kResourceExhausted at once.
//
// Several nodes (store::Store::shared, the PostgreSQL store): each node has its own writer and
// its memory is only a cache. Each batch first takes the cluster's batch lock in the database
// and applies every row other nodes committed since its last batch (a refresh, not a
// mutation), then decides and commits in that same transaction. Batches of all nodes are thus
// serialized by the database and each decides on the database's current state. While idle
// the writer refreshes without the lock so published availability stays fresh (idle_wake).
//
// One writer thread serves every SKU (each SKU has exactly one writer); the embedded SQLite
// store has a single write lock anyway. A sharded engine (SKU -> writer) fits behind the same
// interface for stores that allow parallel writers.
//
// Thread-safety: every public method is safe from any thread. Callbacks run on the writer
// thread and must not block: post the answer to the caller's own executor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "core/inventory.h"
#include "core/waiting_room.h"
#include "engine/fairness_audit.h"
#include "engine/inbox.h"
#include "store/store.h"

namespace fs::engine {

struct Options {
  // Commands decided and committed together. 4096 amortizes one fsync over a whole burst
  // while keeping a batch's transaction well under a millisecond of SQLite work.
  std::size_t batch_size_max = 4096;
  // Commands waiting at most. At 25k writes/s this is 4 s of backlog: past that a client is
  // better told 503 at once than answered after its own timeout. The inbox's slots are
  // allocated at start: about 384 bytes each (38 MB for 100,000).
  std::size_t inbox_capacity = 100'000;
  // Reservations expired per batch at most, so a mass expiry cannot starve requests.
  std::size_t expiry_batch_max = 4096;
  // Idempotency keys are kept at least this long.
  std::chrono::hours idempotency_retention{24};
  // The writer wakes at least this often to expire and housekeep, even when idle.
  std::chrono::milliseconds idle_wake{50};
  // Makes the body stored with an idempotency key for a new reservation.
  core::ReservationBodyRenderer render_reservation;
  std::uint64_t seed = 0;  // for reservation ids; 0 = from the OS
  // Audit events in the same transaction as every decision (docs/storage.md). Turning it off
  // exists only to measure what auditing costs (flashsale-engine-bench --audit off); a server
  // always runs with it on.
  bool audit_enabled = true;
  // Bounds of the side channel for the fairness layer's audit events (fairness_audit.h).
  FairnessAuditOptions fairness_audit;
  // Makes the 202 body stored with an idempotency key for a new order (checkout).
  core::OrderBodyRenderer render_order;
  // Waits between payment attempts that failed transiently (the saga's retries).
  core::RetrySchedule retry_schedule = core::DefaultRetrySchedule();
  // Told (on the writer thread) after every commit that wrote something, so the outbox relay
  // and the payment worker wake at once instead of polling. Must not block. May be empty.
  std::function<void()> on_committed;
  // Told (on the writer thread) just before and just after a batch's requests are answered,
  // so replies can be handed to the I/O threads per batch instead of one by one
  // (http::ReplyBatch). Must not block. May be empty.
  std::function<void()> on_completions_begin;
  std::function<void()> on_completions_end;
  // Told (on the writer thread) after a successful batch, after its snapshots were published
  // and before its commands complete, with the SKUs whose published state changed (the Redis
  // availability cache deletes them). Must not block. May be empty.
  std::function<void(const std::vector<std::string>&)> on_skus_changed;
  // Told (on the writer thread) when a commit fails; for logs. May be empty.
  std::function<void(const base::Status&)> on_commit_failure;
  // The fair waiting room of sales created with waiting_room on (core/waiting_room.h).
  core::WaitingRoomPolicy waiting_room;
};

// Counters the metrics endpoint reads. Written by the writer thread only.
struct EngineStats {
  std::atomic<std::uint64_t> batches_committed{0};
  std::atomic<std::uint64_t> batches_failed{0};
  std::atomic<std::uint64_t> commands_processed{0};
  std::atomic<std::uint64_t> reservations_expired{0};
  std::atomic<std::uint64_t> last_batch_size{0};
  std::atomic<std::uint64_t> batch_size_max_seen{0};
  std::atomic<std::uint64_t> commit_micros_total{0};
  std::atomic<std::uint64_t> inbox_rejections{0};
  // The payment saga (issue 3): committed transitions.
  std::atomic<std::uint64_t> orders_created{0};
  std::atomic<std::uint64_t> orders_paid{0};
  std::atomic<std::uint64_t> orders_failed{0};
  std::atomic<std::uint64_t> orders_needs_attention{0};
  std::atomic<std::uint64_t> payment_retries_scheduled{0};
  // The waiting room: reserves refused for a missing or invalid queue pass (committed).
  std::atomic<std::uint64_t> queue_pass_refusals{0};
  // Shared stores: rows other nodes committed that this writer applied, and failed idle
  // refreshes (readers then see the last state until the next one succeeds).
  std::atomic<std::uint64_t> rows_synced{0};
  std::atomic<std::uint64_t> refresh_failures{0};
};

// What readers see without queueing: the state after the last committed batch.
struct PublishedSale {
  core::Sale sale;
  core::StockCounters counters;
};

struct CreateSaleReply {
  base::Status status;  // not ok: unavailable, answer 503
  core::CreateSaleResult result;
};
struct ReserveReply {
  base::Status status;
  core::ReserveResult result;
};
struct ReleaseReply {
  base::Status status;
  core::ReleaseResult result;
};
struct AdminSaleReply {
  base::Status status;
  core::AdminSaleResult result;
};
struct ReservationReply {
  base::Status status;
  std::optional<core::Reservation> reservation;  // nullopt: unknown or not the caller's
};

struct CheckoutReply {
  base::Status status;
  core::CheckoutResult result;
};
struct OrderReply {
  base::Status status;
  std::optional<core::Order> order;  // nullopt: unknown or not the caller's
};
struct OrdersReply {
  base::Status status;
  std::vector<core::Order> orders;
};
struct PaymentReportReply {
  base::Status status;
  core::PaymentReportResult result;
};
struct ResolveReply {
  base::Status status;
  core::ResolveResult result;
};
struct JoinQueueReply {
  base::Status status;
  core::JoinResult result;
};
struct QueueTicketReply {
  base::Status status;
  std::optional<core::TicketView> ticket;  // nullopt: unknown or not the caller's
};

class Engine {
 public:
  using CreateSaleCallback = std::function<void(CreateSaleReply)>;
  using ReserveCallback = std::function<void(ReserveReply)>;
  using ReleaseCallback = std::function<void(ReleaseReply)>;
  using ReservationCallback = std::function<void(ReservationReply)>;
  using AdminSaleCallback = std::function<void(AdminSaleReply)>;
  using CheckoutCallback = std::function<void(CheckoutReply)>;
  using OrderCallback = std::function<void(OrderReply)>;
  using OrdersCallback = std::function<void(OrdersReply)>;
  using PaymentReportCallback = std::function<void(PaymentReportReply)>;
  using ResolveCallback = std::function<void(ResolveReply)>;
  using JoinQueueCallback = std::function<void(JoinQueueReply)>;
  using QueueTicketCallback = std::function<void(QueueTicketReply)>;

  // Rebuilds memory from the store, expires what expired while down (one committed batch),
  // and starts the writer thread.
  static base::Result<std::unique_ptr<Engine>> Open(Options options,
                                                    std::unique_ptr<store::Store> store,
                                                    const base::Clock& clock);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void CreateSale(core::Sale sale, CreateSaleCallback done);
  void Reserve(core::ReserveCommand command, ReserveCallback done);
  // Reserve presenting a queue pass: a sale with a waiting room needs a valid one, used in the
  // batch of the reservation it allows (core::WaitingRooms::Reserve).
  void Reserve(core::ReserveCommand command, core::PresentedPass pass, ReserveCallback done);
  // --- The fair waiting room (issue 4) ---
  // A ticket for the user in the sale's room (the existing one when the user already joined).
  void JoinQueue(std::string sku_id, std::string user_id, JoinQueueCallback done);
  // The ticket if it exists in the sale's room and belongs to `user_id`.
  void GetQueueTicket(std::string sku_id, std::string ticket_id, std::string user_id,
                      QueueTicketCallback done);
  // Every room as of the last batch, by sku id. Any thread.
  std::vector<core::WaitingRoomStats> WaitingRoomStats() const;
  void Release(std::string reservation_id, std::string user_id, ReleaseCallback done);
  // The reservation if it exists and belongs to `user_id`.
  void GetReservation(std::string reservation_id, std::string user_id, ReservationCallback done);
  // Operator actions: open early / close (core::Inventory::SetSaleOverride) and stock changes.
  void SetSaleOverride(std::string sku_id, core::SaleOverride to, AdminSaleCallback done);
  void AdjustStock(std::string sku_id, std::int64_t delta, AdminSaleCallback done);

  // The last committed audit event (id 0 when none or audit is off). Any thread.
  core::AuditHead audit_head() const;
  // Throttled reserve attempts and bot detections for the audit trail: offered from any
  // thread without waiting, written by the writer in its next batches (bounded; Stop()
  // writes what is left).
  FairnessAuditChannel& fairness_audit() { return fairness_audit_; }
  const FairnessAuditChannel& fairness_audit() const { return fairness_audit_; }

  // --- Checkout and the payment saga (issue 3) ---
  void Checkout(core::CheckoutCommand command, CheckoutCallback done);
  // The order if it exists and belongs to `user_id`.
  void GetOrder(std::string order_id, std::string user_id, OrderCallback done);
  // The order whoever owns it (admin).
  void GetOrderAsAdmin(std::string order_id, OrderCallback done);
  // PENDING orders due for a gateway call now, earliest first (the payment worker's poll).
  void DueOrders(std::size_t count_max, OrdersCallback done);
  void ListOrders(core::OrderStatus status, std::size_t count_max, OrdersCallback done);
  void RecordPayment(core::PaymentReport report, PaymentReportCallback done);
  void ResolveOrder(std::string order_id, core::ResolveChoice choice, ResolveCallback done);

  // Lock-light read of the last committed state; nullptr for an unknown SKU.
  std::shared_ptr<const PublishedSale> FindSale(const std::string& sku_id) const;
  std::vector<std::shared_ptr<const PublishedSale>> AllSales() const;

  // Stops taking commands, completes everything queued (committing it), joins the writer.
  // Idempotent.
  void Stop();

  // False after a commit failed in a way that makes further writes unsafe.
  bool healthy() const { return !failed_.load(std::memory_order_acquire); }
  std::size_t queue_length() const { return inbox_.size(); }
  const EngineStats& stats() const { return stats_; }
  const base::Clock& clock() const { return clock_; }

  // For tests: recounts memory and checks it against the store's own counters.
  // Runs on the writer thread; blocks the caller until done.
  base::Status CheckConsistency();

 private:
  struct CreateSaleCommand {
    core::Sale sale;
    CreateSaleCallback done;
  };
  struct ReserveCommandEntry {
    core::ReserveCommand command;
    ReserveCallback done;
    core::PresentedPass pass;
  };
  struct ReleaseCommand {
    std::string reservation_id;
    std::string user_id;
    ReleaseCallback done;
  };
  struct GetReservationCommand {
    std::string reservation_id;
    std::string user_id;
    ReservationCallback done;
  };
  struct CheckCommand {
    std::function<void(base::Status)> done;
  };
  struct SaleOverrideCommand {
    std::string sku_id;
    core::SaleOverride to = core::SaleOverride::kNone;
    AdminSaleCallback done;
  };
  struct AdjustStockCommand {
    std::string sku_id;
    std::int64_t delta = 0;
    AdminSaleCallback done;
  };
  // A decided command waiting for its batch's commit.
  using Completion = std::function<void(const base::Status&)>;
  // Any other command: `decide` runs on the writer inside the batch; `reject` answers a
  // command that never reached it.
  struct GenericCommand {
    std::function<Completion(base::Time now)> decide;
    std::function<void(const base::Status&)> reject;
  };
  using Command =
      std::variant<CreateSaleCommand, ReserveCommandEntry, ReleaseCommand, GetReservationCommand,
                   CheckCommand, GenericCommand, SaleOverrideCommand, AdjustStockCommand>;
  // What Decide() found for a command, answered by Complete() once the batch's commit is
  // known: one alternative per command type above. Values rather than closures, in a vector
  // every batch reuses, so deciding a command allocates nothing to hold its answer.
  struct ReserveDecision {
    core::ReserveResult result;
    bool refused_pass = false;  // a waiting room refused the queue pass (counted if committed)
  };
  struct CheckDecision {
    std::optional<base::Status> checked;  // shared stores: compared inside the batch's lock
  };
  using Decision = std::variant<core::CreateSaleResult, ReserveDecision, core::ReleaseResult,
                                std::optional<core::Reservation>, CheckDecision, Completion,
                                core::AdminSaleResult>;

  Engine(Options options, std::unique_ptr<store::Store> store, const base::Clock& clock);
  base::Status Recover();
  void Start();
  bool Enqueue(Command command);
  // The stop path of Run(): writes the fairness events still offered (writer thread).
  void FinishFairnessAudit();
  static void Reject(Command& command, const base::Status& status);
  void Run();
  void ProcessBatch(std::vector<Command>& batch, DrainScope fairness_scope = DrainScope::kDue);
  // Chains the fairness channel's events into the current batch (writer thread).
  void AppendFairnessAudit(base::Time now, DrainScope scope);
  Decision Decide(Command& command, base::Time now);
  // Answers a decided command with its batch's commit status (writer thread).
  void Complete(Command& command, Decision& decision, const base::Status& status);
  void Publish(const std::vector<std::string>& sku_ids);
  void PublishAuditHead();
  void PublishWaitingRooms();
  void Housekeep(base::Time now);
  std::chrono::milliseconds WaitBudget();
  base::Status CompareWithStore();
  // Counts a committed order status (writer thread).
  void CountOrder(const std::optional<core::Order>& order);
  // Shared stores (writer thread): the refresh at the start of each batch and while idle.
  static bool ContainsCheck(const std::vector<Command>& batch);
  bool SharedWorkDue(base::Time now);
  base::Status BeginSharedBatch();
  void RefreshShared();
  void ApplyChanges(const store::ClusterChanges& changes);
  void FailBeforeDecisions(std::vector<Command>& batch, const base::Status& status);

  const Options options_;
  std::unique_ptr<store::Store> store_;
  // Several nodes write the database (store::Store::shared): each batch begins by locking and
  // refreshing memory from it, so the database, not this memory, arbitrates.
  const bool shared_;
  const base::Clock& clock_;
  base::Rng rng_;              // writer thread only
  core::Inventory inventory_;  // writer thread only
  core::WaitingRooms rooms_;   // writer thread only
  // The draws' seeds. Separate from rng_, whose output shows in public ids: nobody can learn
  // this generator's state, so nobody can predict a draw.
  base::Rng draw_rng_;       // writer thread only
  base::Time next_prune_{};  // writer thread only
  // Shared stores, writer thread only: the last cluster batch memory reflects, the number of
  // the batch in progress, and a CheckCommand's result computed right after the refresh.
  std::int64_t synced_through_ = 0;
  std::int64_t batch_number_ = 0;
  std::optional<base::Status> batch_check_;
  std::vector<Decision> decisions_;  // writer thread only: the batch's, in command order

  // The hand-off from every calling thread to the writer; closed by Stop().
  Inbox<Command> inbox_;

  mutable std::mutex published_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const PublishedSale>> published_;

  FairnessAuditChannel fairness_audit_;
  // Drained fairness events whose batch has not committed yet: written again by the next
  // batch if the commit fails, so a failed commit loses none. Writer thread only.
  std::vector<core::AuditEvent> fairness_pending_;

  mutable std::mutex audit_head_mutex_;
  core::AuditHead audit_head_;  // guarded by audit_head_mutex_; the last committed event

  mutable std::mutex rooms_mutex_;
  std::vector<core::WaitingRoomStats> published_rooms_;  // guarded by rooms_mutex_

  std::atomic<bool> failed_{false};
  EngineStats stats_;
  std::thread writer_;
};

}  // namespace fs::engine
