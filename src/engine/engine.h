// Engine: the single writer. Every write for every SKU (and reads that must see the writer's
// state) is a command in one bounded inbox (inbox.h: lock-free, woken once per sleep),
// drained by one writer thread that:
//   1. takes up to `batch_size_max` commands,
//   2. expires due reservations and decides every command in arrival order in memory
//      (core::Ledger; each command decides itself, see command.h and commands.h),
//   3. commits the batch's mutations in one store transaction (group commit), and
//   4. only then completes the commands (their callbacks run on the writer thread).
// If the commit fails, every command of the batch completes with kUnavailable and memory is
// rolled back, except when the store refused one command's data (store::IsDataError): then
// the batch commits again without it and only that command fails (kInvalidArgument). A full
// inbox completes the command with kResourceExhausted at once.
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
// thread and must not block: post the answer to the caller's own executor. The ledger and
// everything marked "writer thread only" is touched only by the writer (asserted), or by
// recovery before the writer starts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "core/ledger.h"
#include "engine/batch_trace.h"
#include "engine/command.h"
#include "engine/commands.h"
#include "engine/fairness_audit.h"
#include "engine/inbox.h"
#include "engine/stats.h"
#include "store/store.h"
#include "trace/span.h"

namespace fs::engine {

// How the writer runs. kThread: on its own thread, started by Open() (every server). kStepped:
// no thread; the caller drives the writer one batch at a time with Engine::Step(), so a
// simulation runs the whole engine on one thread, each run a function of its seed
// (tests/sim/deterministic_sim.h).
enum class WriterMode : std::uint8_t { kThread, kStepped };

struct Options {
  WriterMode writer_mode = WriterMode::kThread;
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
  std::uint64_t seed = 0;  // for reservation ids; 0 = from the OS
  // Audit events in the same transaction as every decision (docs/storage.md). Turning it off
  // exists only to measure what auditing costs (flashsale-engine-bench --audit off); a server
  // always runs with it on.
  bool audit_enabled = true;
  // Bounds of the side channel for the fairness layer's audit events (fairness_audit.h).
  FairnessAuditOptions fairness_audit;
  // The replies stored with idempotency keys (command.h); empty members get defaults.
  StoredReplies stored_replies;
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
  // Told (on the writer thread) with the SKUs whose published snapshot was just replaced (after
  // a commit, a cluster refresh or recovery), so read models (the catalog) re-read them. Must
  // not block. May be empty.
  std::function<void(const std::vector<std::string>&)> on_published;
  // Told (on the writer thread) with the orders whose status a commit changed, or that another
  // node's commit did (a cluster refresh), after they are durable and published and before the
  // batch's commands complete, so held order reads (GET /api/v1/orders/{id}?wait_seconds) are
  // answered when their order leaves PENDING. Must not block. May be empty.
  std::function<void(const std::vector<core::Order>&)> on_orders_changed;
  // Told (on the writer thread) when a commit fails, a data refusal included; for logs. May be
  // empty.
  std::function<void(const base::Status&)> on_commit_failure;
  // Tracing (batch_trace.h): gets the spans of sampled commands' inbox waits and of the batches
  // that answered them, on the writer thread (must not block). Empty: nothing is recorded.
  trace::SpanSink on_span;
  // The fair waiting room of sales created with waiting_room on (core/waiting_room.h).
  core::WaitingRoomPolicy waiting_room;
  // Shared stores (LookupSale): a SKU looked up in the database and not found is not looked up
  // again for this long; at most `unknown_skus_max` are remembered and at most
  // `sku_lookups_in_flight_max` lookups wait at once (beyond: answered unknown at once), so a
  // flood of requests for SKUs that do not exist stays off the database and the writer.
  std::chrono::milliseconds unknown_sku_ttl{1000};
  std::size_t unknown_skus_max = 10'000;
  std::size_t sku_lookups_in_flight_max = 64;
};

// What readers see without queueing: the state after the last committed batch.
struct PublishedSale {
  core::Sale sale;
  core::StockCounters counters;
};

// The continuation of a command of type C (command.h).
template <typename C>
using Done = std::function<void(ReplyOf<C>)>;

class Engine {
 public:
  // Rebuilds memory from the store, expires what expired while down (one committed batch),
  // and starts the writer thread.
  static base::Result<std::unique_ptr<Engine>> Open(Options options,
                                                    std::unique_ptr<store::Store> store,
                                                    const base::Clock& clock);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues `command` (one of engine::Commands). `done` runs on the writer thread once the
  // command's batch committed or failed, or at once when the inbox is full (kResourceExhausted)
  // or closed (kUnavailable). `trace`: the caller's span, recorded from when sampled and
  // tracing is on (Options::on_span).
  template <typename C>
  void Submit(C command, Done<C> done, const trace::ParentContext& trace = {}) {
    static_assert(CommandTypes<Commands>::kListed<C>, "add the command to engine::Commands");
    Queued queued(std::in_place_type<Pending<C>>, Pending<C>{std::move(command), std::move(done)});
    if (trace.sampled && options_.on_span) {
      auto& pending = std::get<Pending<C>>(queued);
      pending.trace = trace;
      pending.queued_unix_nanos = trace::UnixNanosNow();
    }
    Enqueue(queued);
  }

  // Every room as of the last batch, by sku id. Any thread.
  std::vector<core::WaitingRoomStats> WaitingRoomStats() const;
  // The last committed audit event (id 0 when none or audit is off). Any thread.
  core::AuditHead audit_head() const;
  // Throttled reserve attempts and bot detections for the audit trail: offered from any
  // thread without waiting, written by the writer in its next batches (bounded; Stop()
  // writes what is left).
  FairnessAuditChannel& fairness_audit() { return fairness_audit_; }
  const FairnessAuditChannel& fairness_audit() const { return fairness_audit_; }

  // Lock-light read of the last committed state; nullptr for an unknown SKU.
  std::shared_ptr<const PublishedSale> FindSale(const std::string& sku_id) const;
  // FindSale, but on a shared store a SKU this node does not know yet (another node created
  // it since the last refresh) is looked up in the database first: one batch of the writer,
  // whose refresh reads every change. `done` gets the sale or nullptr, at once when it is
  // known, not shared, or recently not found (Options::unknown_sku_ttl), else on the writer
  // thread (it must not block).
  using SaleCallback = std::function<void(std::shared_ptr<const PublishedSale>)>;
  void LookupSale(const std::string& sku_id, SaleCallback done);
  std::vector<std::shared_ptr<const PublishedSale>> AllSales() const;

  // Stops taking commands, completes everything queued (committing it), joins the writer.
  // Idempotent. Stepped: runs the remaining batches on the calling thread.
  void Stop();

  // WriterMode::kStepped only, from one thread at a time: runs one batch of the writer on the
  // calling thread with what is queued (up to batch_size_max commands; none still expires
  // and housekeeps), completing its commands before it returns. Returns how many it took.
  std::size_t Step();

  // False after a commit failed in a way that makes further writes unsafe.
  bool healthy() const { return !failed_.load(std::memory_order_acquire); }
  // While the store refuses writes (the last batch that wrote, or its cluster lock, failed
  // with kUnavailable: disk full, database down): the kind of that failure, e.g.
  // "UNAVAILABLE". Empty once a batch commits again (or, on a shared store, once a refresh
  // reads the database again). Any thread.
  std::string write_refusal() const;
  std::size_t queue_length() const { return inbox_.size(); }
  std::size_t queue_capacity() const { return options_.inbox_capacity; }
  const EngineStats& stats() const { return stats_; }
  const base::Clock& clock() const { return clock_; }

  // For tests: recounts memory and checks it against the store's own counters.
  // Runs on the writer thread; blocks the caller until done.
  base::Status CheckConsistency();

 private:
  using Queued = CommandTypes<Commands>::Queued;
  using Decision = CommandTypes<Commands>::Decision;

  Engine(Options options, std::unique_ptr<store::Store> store, const base::Clock& clock);
  base::Status Recover();
  void Start();
  // Pushes `queued` or answers it at once (full or closed inbox).
  void Enqueue(Queued& queued);
  static void Reject(Queued& queued, const base::Status& status);
  // The stop path of Run(): writes the fairness events still offered (writer thread).
  void FinishFairnessAudit();
  void Run();
  void ProcessBatch(std::vector<Queued>& batch, DrainScope fairness_scope = DrainScope::kDue);
  // Commands [begin, end) of a batch, after its expiries, housekeeping, fairness events and
  // the rooms' tick when `housekeeping`.
  struct Part {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool housekeeping = false;
  };
  // Shared stores: locks and refreshes first. Then decides `part` and commits it. Returns Ok,
  // the store's data refusal (store::IsDataError; memory rolled back, the writer goes on), or
  // kUnavailable (writer thread).
  base::Status DecideAndCommit(std::vector<Queued>& batch, Part part, base::Time now,
                               DrainScope fairness_scope);
  // Decides `part` into decisions_. Returns how many reservations expired.
  std::size_t DecideBatch(std::vector<Queued>& batch, Part part, base::Time now,
                          DrainScope fairness_scope);
  // Commits the batch's mutations, then publishes; on failure rolls memory back (writer
  // thread). Returns as DecideAndCommit.
  base::Status CommitDecided(std::size_t expired);
  // After a data refusal: commits the batch again without the commands the store refuses,
  // each command's answer in settled_ (writer thread).
  void SettleDataError(std::vector<Queued>& batch, base::Time now, DrainScope fairness_scope);
  // Chains the fairness channel's events into the current batch (writer thread).
  void AppendFairnessAudit(base::Time now, DrainScope scope);
  // Answers every decided command with its batch's commit status, or with its own status in
  // `each` (writer thread).
  void CompleteBatch(std::vector<Queued>& batch, const base::Status& status,
                     const std::vector<base::Status>* each = nullptr);
  void Publish(const std::vector<std::string>& sku_ids);
  void PublishAuditHead();
  void PublishWaitingRooms();
  void Housekeep(base::Time now);
  std::chrono::milliseconds WaitBudget();
  base::Status CompareWithStore();
  // Shared stores (writer thread): the refresh at the start of each batch and while idle.
  static bool ContainsCheck(const std::vector<Queued>& batch, Part part);
  bool SharedWorkDue(base::Time now);
  base::Status BeginSharedBatch();
  void RefreshShared();
  void ApplyChanges(const store::ClusterChanges& changes);
  // A batch that failed before deciding anything: counted and logged; returns kUnavailable.
  base::Status FailBeforeDecisions(const base::Status& status);

  const Options options_;
  std::unique_ptr<store::Store> store_;
  // Several nodes write the database (store::Store::shared): each batch begins by locking and
  // refreshing memory from it, so the database, not this memory, arbitrates.
  const bool shared_;
  const base::Clock& clock_;
  base::Rng rng_;        // writer thread only
  core::Ledger ledger_;  // writer thread only
  // The draws' seeds. Separate from rng_, whose output shows in public ids: nobody can learn
  // this generator's state, so nobody can predict a draw.
  base::Rng draw_rng_;       // writer thread only
  base::Time next_prune_{};  // writer thread only
  // Shared stores, writer thread only: the last cluster batch memory reflects, the number of
  // the batch in progress, and a CheckConsistency's result computed right after the refresh.
  std::int64_t synced_through_ = 0;
  std::int64_t batch_number_ = 0;
  std::optional<base::Status> batch_check_;
  BatchTrace batch_trace_{options_.on_span};  // writer thread only
  std::vector<Decision> decisions_;           // writer thread only: the batch's, in command order
  std::vector<base::Status> settled_;         // writer thread only: SettleDataError's answers
  // CheckConsistency's comparison after a commit (CommitContext).
  const std::function<base::Status()> compare_with_store_;

  // The hand-off from every calling thread to the writer; closed by Stop().
  Inbox<Queued> inbox_;

  mutable base::Mutex published_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const PublishedSale>> published_
      GUARDED_BY(published_mutex_);

  // LookupSale's negative cache: SKUs not found, until when; and the lookups under way.
  bool StartLookup(const std::string& sku_id);
  void FinishLookup(const std::string& sku_id, bool found);
  mutable base::Mutex lookups_mutex_;
  std::unordered_map<std::string, base::Time> unknown_skus_ GUARDED_BY(lookups_mutex_);
  std::size_t lookups_in_flight_ GUARDED_BY(lookups_mutex_) = 0;

  FairnessAuditChannel fairness_audit_;
  // Drained fairness events whose batch has not committed yet: written again by the next
  // batch if the commit fails, so a failed commit loses none. Writer thread only.
  std::vector<core::AuditEvent> fairness_pending_;

  mutable base::Mutex audit_head_mutex_;
  core::AuditHead audit_head_ GUARDED_BY(audit_head_mutex_);  // the last committed event

  mutable base::Mutex rooms_mutex_;
  std::vector<core::WaitingRoomStats> published_rooms_ GUARDED_BY(rooms_mutex_);

  std::atomic<bool> failed_{false};
  // Set and cleared by the writer after each batch that wrote; read by /readyz.
  void SetWriteRefusal(const base::Status& status);
  std::atomic<bool> writes_refused_{false};
  mutable base::Mutex refusal_mutex_;
  std::string write_refusal_ GUARDED_BY(refusal_mutex_);
  EngineStats stats_;
  std::thread writer_;
  // WriterMode::kStepped: Step()'s batch (reused) and whether Stop() already drained.
  std::vector<Queued> step_batch_;
  bool stepped_stopped_ = false;
};

}  // namespace fs::engine
