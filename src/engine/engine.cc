#include "engine/engine.h"

#include <algorithm>
#include <set>
#include <utility>

#include "base/check.h"
#include "crypto/sha256.h"

namespace fs::engine {

using base::Status;
using base::StatusCode;

namespace {

core::StoredReply DefaultReservationReply(const core::Reservation& reservation) {
  return {201, reservation.reservation_id};
}

core::StoredReply DefaultOrderReply(const core::Order& order) { return {202, order.order_id}; }

template <typename T>
void UpdateMax(std::atomic<T>& target, T value) {
  T seen = target.load(std::memory_order_relaxed);
  while (value > seen && !target.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace

Engine::Engine(Options options, std::unique_ptr<store::Store> store, const base::Clock& clock)
    : options_(std::move(options)),
      store_(std::move(store)),
      shared_(store_->shared()),
      clock_(clock),
      rng_(options_.seed != 0 ? options_.seed : base::SeedFromOs()),
      ledger_(options_.waiting_room),
      draw_rng_(options_.seed != 0 ? options_.seed + 1 : base::SeedFromOs()),
      compare_with_store_([this] { return CompareWithStore(); }),
      inbox_(options_.inbox_capacity),
      fairness_audit_(options_.fairness_audit) {}

base::Result<std::unique_ptr<Engine>> Engine::Open(Options options,
                                                   std::unique_ptr<store::Store> store,
                                                   const base::Clock& clock) {
  if (options.batch_size_max == 0 || options.inbox_capacity == 0 || options.expiry_batch_max == 0) {
    return base::InvalidArgument("batch, inbox and expiry sizes must be positive");
  }
  StoredReplies& replies = options.stored_replies;
  if (!replies.reservation_created) replies.reservation_created = DefaultReservationReply;
  if (!replies.order_created) replies.order_created = DefaultOrderReply;
  if (const std::string reason = core::ValidateWaitingRoomPolicy(options.waiting_room);
      !reason.empty()) {
    return base::InvalidArgument(reason);
  }
  if (options.retry_schedule.delays.empty() ||
      options.retry_schedule.delays.size() > core::kRetryScheduleLengthMax) {
    return base::InvalidArgument("the payment retry schedule needs 1 to 64 steps");
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(options), std::move(store), clock));
  FS_RETURN_IF_ERROR(engine->Recover());
  engine->Start();
  return engine;
}

Engine::~Engine() { Stop(); }

// Rebuilds memory from the store, checks it against the database's own counters, and expires
// what expired while the server was down, in one committed batch.
Status Engine::Recover() {
  const base::Time now = clock_.Now();
  auto loaded = store_->Load(now - options_.idempotency_retention);
  if (!loaded) return loaded.error();
  synced_through_ = loaded->synced_through;
  for (const auto& room : loaded->waiting_rooms) ledger_.LoadRoom(room);
  for (const auto& sale : loaded->sales) ledger_.LoadSale(sale);
  for (const auto& ticket : loaded->queue_tickets) ledger_.LoadTicket(ticket);
  if (const std::string problem = ledger_.FinishLoad(now); !problem.empty()) {
    return base::DataLoss("waiting room: " + problem);
  }
  for (const auto& reservation : loaded->reservations) ledger_.LoadReservation(reservation);
  for (const auto& record : loaded->idempotency) ledger_.LoadIdempotency(record);
  if (options_.audit_enabled) ledger_.EnableAudit(&crypto::Sha256Hex, loaded->audit_head);
  for (const auto& order : loaded->orders) ledger_.LoadOrder(order);
  for (const auto& [sku_id, sequence] : loaded->event_sequences)
    ledger_.LoadEventSequence(sku_id, sequence);
  // The units of what ended are not loaded row by row: the database's own counts carry them.
  if (loaded->counters.size() != loaded->sales.size()) {
    return base::DataLoss("the store loaded counters for " +
                          std::to_string(loaded->counters.size()) + " of " +
                          std::to_string(loaded->sales.size()) + " sales");
  }
  for (const auto& counters : loaded->counters) {
    const std::string problem =
        ledger_.LoadStoredCounts(counters.sku_id, counters.held, counters.sold);
    if (!problem.empty()) return base::DataLoss(problem);
  }
  for (const auto& units : loaded->user_units) {
    const std::string problem =
        ledger_.LoadStoredUserUnits(units.sku_id, units.user_id, units.units);
    if (!problem.empty()) return base::DataLoss(problem);
  }
  ledger_.RetireFinished();
  if (shared_) {
    // Other nodes may commit between the load and now: compare inside the first batch's lock.
    ledger_.CheckInvariants();
    FS_RETURN_IF_ERROR(BeginSharedBatch());
    Status compared = CompareWithStore();
    if (!compared.ok()) {
      store_->AbortBatch();
      return compared;
    }
  } else {
    FS_RETURN_IF_ERROR(CompareWithStore());
  }

  ledger_.BeginBatch();
  const std::size_t expired = ledger_.ExpireDue(now, SIZE_MAX);
  Status status;
  if (!ledger_.mutations().empty()) {
    status = store_->Commit(ledger_.mutations());
  } else if (shared_) {
    store_->AbortBatch();
  }
  if (!status.ok()) {
    ledger_.RollbackBatch();
    return status;
  }
  if (shared_ && !ledger_.mutations().empty()) synced_through_ = batch_number_;
  ledger_.CommitBatch();
  ledger_.RetireFinished();
  PublishWaitingRooms();
  stats_.reservations_expired.fetch_add(expired, std::memory_order_relaxed);
  Publish(ledger_.SkuIds());
  PublishAuditHead();
  next_prune_ = now;
  return Status::Ok();
}

void Engine::Start() {
  if (options_.writer_mode == WriterMode::kThread) writer_ = std::thread([this] { Run(); });
}

void Engine::Stop() {
  inbox_.Close();
  if (writer_.joinable()) writer_.join();
  if (options_.writer_mode == WriterMode::kStepped && !stepped_stopped_) {
    stepped_stopped_ = true;
    while (!inbox_.Drained()) Step();
    FinishFairnessAudit();
  }
}

std::size_t Engine::Step() {
  FS_CHECK(options_.writer_mode == WriterMode::kStepped);
  step_batch_.clear();
  inbox_.PopInto(step_batch_, options_.batch_size_max);
  ProcessBatch(step_batch_);
  return step_batch_.size();
}

// --- Inbox ----------------------------------------------------------------------------------

void Engine::Reject(Queued& queued, const Status& status) {
  std::visit([&](auto& pending) { pending.done({status, {}}); }, queued);
}

void Engine::Enqueue(Queued& queued) {
  switch (inbox_.Push(queued)) {
    case PushOutcome::kPushed:
      return;
    case PushOutcome::kFull:
      stats_.inbox_rejections.fetch_add(1, std::memory_order_relaxed);
      Reject(queued, base::ResourceExhausted("the writer queue is full"));
      return;
    case PushOutcome::kClosed:
      Reject(queued, base::Unavailable("the server is shutting down"));
      return;
  }
}

Status Engine::CheckConsistency() {
  std::promise<Status> promise;
  auto future = promise.get_future();
  Submit(engine::CheckConsistency{}, [&promise](const Reply<std::optional<Status>>& reply) {
    promise.set_value(reply.status.ok() ? reply.value.value_or(Status::Ok()) : reply.status);
  });
  if (options_.writer_mode == WriterMode::kStepped) {
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) Step();
  }
  return future.get();
}

core::AuditHead Engine::audit_head() const {
  base::MutexLock lock(audit_head_mutex_);
  return audit_head_;
}

void Engine::PublishAuditHead() {
  core::AuditHead head = ledger_.audit_head();
  base::MutexLock lock(audit_head_mutex_);
  audit_head_ = std::move(head);
}

std::vector<core::WaitingRoomStats> Engine::WaitingRoomStats() const {
  base::MutexLock lock(rooms_mutex_);
  return published_rooms_;
}

void Engine::PublishWaitingRooms() {
  std::vector<core::WaitingRoomStats> stats = ledger_.RoomStats();
  base::MutexLock lock(rooms_mutex_);
  published_rooms_ = std::move(stats);
}

// --- Reads ----------------------------------------------------------------------------------

std::shared_ptr<const PublishedSale> Engine::FindSale(const std::string& sku_id) const {
  base::MutexLock lock(published_mutex_);
  auto it = published_.find(sku_id);
  return it == published_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const PublishedSale>> Engine::AllSales() const {
  std::vector<std::shared_ptr<const PublishedSale>> out;
  {
    base::MutexLock lock(published_mutex_);
    out.reserve(published_.size());
    for (const auto& [sku_id, sale] : published_) out.push_back(sale);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->sale.sku_id < b->sale.sku_id; });
  return out;
}

void Engine::LookupSale(const std::string& sku_id, SaleCallback done) {
  if (auto found = FindSale(sku_id); found || !shared_ || !StartLookup(sku_id)) {
    return done(std::move(found));
  }
  Submit(engine::LookupSale{sku_id},
         [this, sku_id, done = std::move(done)](const ReplyOf<engine::LookupSale>& reply) {
           // Published by the batch's refresh before the command decided.
           auto found = FindSale(sku_id);
           // A failed batch read nothing: the SKU is not remembered as unknown.
           FinishLookup(sku_id, found != nullptr || !reply.status.ok());
           done(std::move(found));
         });
}

bool Engine::StartLookup(const std::string& sku_id) {
  const base::Time now = clock_.Now();
  base::MutexLock lock(lookups_mutex_);
  if (const auto it = unknown_skus_.find(sku_id); it != unknown_skus_.end()) {
    if (now < it->second) return false;
    unknown_skus_.erase(it);
  }
  if (lookups_in_flight_ >= options_.sku_lookups_in_flight_max) return false;
  ++lookups_in_flight_;
  return true;
}

void Engine::FinishLookup(const std::string& sku_id, bool found) {
  const base::Time now = clock_.Now();
  base::MutexLock lock(lookups_mutex_);
  --lookups_in_flight_;
  if (found) return;
  if (unknown_skus_.size() >= options_.unknown_skus_max) {
    std::erase_if(unknown_skus_, [now](const auto& entry) { return entry.second <= now; });
  }
  // Still full of live entries: a flood of distinct unknown SKUs. Start over rather than
  // grow; the in-flight bound keeps the lookups themselves bounded meanwhile.
  if (unknown_skus_.size() >= options_.unknown_skus_max) unknown_skus_.clear();
  unknown_skus_[sku_id] = now + options_.unknown_sku_ttl;
}

void Engine::Publish(const std::vector<std::string>& sku_ids) {
  ledger_.owner().AssertCurrent();
  for (const auto& sku_id : sku_ids) {
    auto snapshot = ledger_.FindSale(sku_id);
    if (!snapshot) continue;
    auto view = std::make_shared<const PublishedSale>(
        PublishedSale{std::move(snapshot->sale), snapshot->counters});
    base::MutexLock lock(published_mutex_);
    published_[sku_id] = std::move(view);
  }
  if (!sku_ids.empty() && options_.on_published) options_.on_published(sku_ids);
}

// --- Writer thread --------------------------------------------------------------------------

std::chrono::milliseconds Engine::WaitBudget() {
  auto next = ledger_.NextExpiry();
  if (!next) return options_.idle_wake;
  const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.Now());
  return std::clamp(delay, std::chrono::milliseconds(0), options_.idle_wake);
}

void Engine::Run() {
  ledger_.owner().Bind();
  // Reused: once it has grown to the largest batch so far, taking a batch allocates nothing.
  std::vector<Queued> batch;
  for (;;) {
    if (!inbox_.Ready()) {
      const auto budget = WaitBudget();
      if (budget.count() > 0) inbox_.WaitFor(budget);
    }
    batch.clear();
    inbox_.PopInto(batch, options_.batch_size_max);
    if (batch.empty()) {
      // Closed by Stop() and everything accepted before was answered.
      if (inbox_.Drained()) break;
      // A producer claimed a slot and is still filling it: take it in a moment.
      if (inbox_.Ready()) {
        std::this_thread::yield();
        continue;
      }
    }
    // Group commit: up to batch_size_max commands are one transaction. An empty batch (the
    // wait timed out) still runs so due reservations expire without any request arriving.
    ProcessBatch(batch);
  }
  FinishFairnessAudit();
  ledger_.owner().Unbind();
}

void Engine::FinishFairnessAudit() {
  // Fairness events offered until now are written before the writer ends. Bounded: the
  // channel holds at most its capacities, and a failed commit ends the loop.
  std::vector<Queued> none;
  while (healthy() && !(fairness_audit_.empty() && fairness_pending_.empty())) {
    const std::uint64_t failed = stats_.batches_failed.load(std::memory_order_relaxed);
    ProcessBatch(none, DrainScope::kAll);
    if (stats_.batches_failed.load(std::memory_order_relaxed) != failed) break;
  }
}

void Engine::Housekeep(base::Time now) {
  if (now < next_prune_) return;
  // Keys older than the retention are deleted hourly: "kept at least 24 h".
  ledger_.PruneIdempotency(now - options_.idempotency_retention);
  next_prune_ = now + std::chrono::hours(1);
}

void Engine::AppendFairnessAudit(base::Time now, DrainScope scope) {
  if (!options_.audit_enabled) {
    (void)fairness_audit_.Drain(now, DrainScope::kAll);  // nothing to write them to
    return;
  }
  if (fairness_pending_.empty()) {
    fairness_pending_ = FairnessAuditEvents(fairness_audit_.Drain(now, scope));
  }
  for (const core::AuditEvent& event : fairness_pending_) ledger_.AppendAudit(event);
}

void Engine::ProcessBatch(std::vector<Queued>& batch, DrainScope fairness_scope) {
  ledger_.owner().AssertCurrent();
  batch_trace_.Begin(batch);
  if (!healthy()) {
    const Status stopped = base::Unavailable("the writer has stopped");
    batch_trace_.End(batch.size(), stopped);
    for (auto& queued : batch) Reject(queued, stopped);
    return;
  }
  const base::Time now = clock_.Now();
  // Nothing to decide: refresh what readers see without taking the cluster's lock.
  if (shared_ && batch.empty() && !SharedWorkDue(now)) return RefreshShared();
  decisions_.clear();
  const Part whole{0, batch.size(), /*housekeeping=*/true};
  const Status status = DecideAndCommit(batch, whole, now, fairness_scope);
  stats_.commands_processed.fetch_add(batch.size(), std::memory_order_relaxed);
  if (!batch.empty()) stats_.last_batch_size.store(batch.size(), std::memory_order_relaxed);
  UpdateMax(stats_.batch_size_max_seen, static_cast<std::uint64_t>(batch.size()));
  if (store::IsDataError(status)) {
    SettleDataError(batch, now, fairness_scope);
    batch_trace_.End(batch.size(), Status::Ok());
    return CompleteBatch(batch, Status::Ok(), &settled_);
  }
  batch_trace_.End(batch.size(), status);
  CompleteBatch(batch, status);
}

Status Engine::DecideAndCommit(std::vector<Queued>& batch, Part part, base::Time now,
                               DrainScope fairness_scope) {
  batch_check_.reset();
  if (shared_) {
    const Status begun = BeginSharedBatch();
    if (!begun.ok()) return FailBeforeDecisions(begun);
    if (ContainsCheck(batch, part)) {
      batch_check_ = CompareWithStore();
      if (batch_check_->code() == StatusCode::kUnavailable) {
        // The read lost the connection and with it the batch's lock: decide nothing.
        store_->AbortBatch();
        return FailBeforeDecisions(*batch_check_);
      }
    }
  }
  const std::size_t expired = DecideBatch(batch, part, now, fairness_scope);
  return CommitDecided(expired);
}

std::size_t Engine::DecideBatch(std::vector<Queued>& batch, Part part, base::Time now,
                                DrainScope fairness_scope) {
  ledger_.owner().AssertCurrent();
  ledger_.BeginBatch();
  std::size_t expired = 0;
  if (part.housekeeping) {
    expired = ledger_.ExpireDue(now, options_.expiry_batch_max);
    Housekeep(now);
    // Decided before this batch's commands (on the HTTP threads), so chained first.
    AppendFairnessAudit(now, fairness_scope);
    // After the expiries, so units they returned are admitted in the same batch.
    ledger_.TickRooms(now, draw_rng_);
  }
  const DecideContext context{
      now, rng_, options_.stored_replies, options_.retry_schedule, shared_, batch_check_};
  for (std::size_t i = part.begin; i < part.end; ++i) {
    std::visit(
        [&](auto& pending) {
          using C = typename std::decay_t<decltype(pending)>::Command;
          Decision decision(std::in_place_type<Decided<C>>,
                            Decided<C>{pending.command.Decide(ledger_, context)});
          // A part decided again after a refused commit replaces its earlier decisions.
          if (i < decisions_.size()) {
            decisions_[i] = std::move(decision);
          } else {
            decisions_.push_back(std::move(decision));
          }
        },
        batch[i]);
  }
  return expired;
}

Status Engine::CommitDecided(std::size_t expired) {
  ledger_.owner().AssertCurrent();
  const bool wrote = !ledger_.mutations().empty();
  Status status;
  if (wrote) {
    const auto started = std::chrono::steady_clock::now();
    status = store_->Commit(ledger_.mutations());
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    stats_.commit_micros_total.fetch_add(static_cast<std::uint64_t>(micros.count()),
                                         std::memory_order_relaxed);
  } else if (shared_) {
    store_->AbortBatch();
  }
  if (!status.ok()) {
    ledger_.RollbackBatch();
    stats_.batches_failed.fetch_add(1, std::memory_order_relaxed);
    if (options_.on_commit_failure) options_.on_commit_failure(status);
    // The store refused a value of one of the commands, and nothing was applied: the writer
    // goes on, and the batch is committed again without that command (SettleDataError).
    if (store::IsDataError(status)) return status;
    SetWriteRefusal(status);
    // Only a clean rollback lets the writer go on; a refused guard or a failed sync means
    // memory and disk can no longer be trusted to agree. (A shared store's commit whose
    // outcome is unknown is kUnavailable: if it did commit, the next batch's refresh brings
    // its rows back into memory, since synced_through_ stays before it.)
    if (status.code() != StatusCode::kUnavailable) failed_.store(true, std::memory_order_release);
    return base::Unavailable("the batch could not be committed");
  }
  // An empty batch was rolled back, and with it its batch number: only a commit is synced.
  if (shared_ && wrote) synced_through_ = batch_number_;
  // Only batches that wrote something count as commits; idle wake-ups are not batches.
  if (wrote) stats_.batches_committed.fetch_add(1, std::memory_order_relaxed);
  if (wrote) SetWriteRefusal(Status::Ok());
  if (options_.on_orders_changed) {
    std::vector<core::Order> changed_orders;
    for (const core::Mutation& mutation : ledger_.mutations()) {
      if (const auto* changed = std::get_if<core::OrderStatusChanged>(&mutation)) {
        changed_orders.push_back(changed->order);
      }
    }
    if (!changed_orders.empty()) options_.on_orders_changed(changed_orders);
  }
  const std::vector<std::string> changed_skus = ledger_.CommitBatch();
  // What ended in this batch leaves memory (docs/operations.md, "Sizing").
  ledger_.RetireFinished();
  Publish(changed_skus);
  PublishAuditHead();
  PublishWaitingRooms();
  fairness_pending_.clear();
  if (!changed_skus.empty() && options_.on_skus_changed) options_.on_skus_changed(changed_skus);
  stats_.reservations_expired.fetch_add(expired, std::memory_order_relaxed);
  if (wrote && options_.on_committed) options_.on_committed();
  return Status::Ok();
}

// The store refused the batch for one command's data (an encoding it does not accept, a
// constraint the writer did not predict) and memory is rolled back. The batch's housekeeping
// is committed alone, then its commands in halves, halving again only a part the store
// refuses, left to right so each part is decided on the state the parts before it committed.
// A command refused alone gets the store's refusal; every other command commits. A few
// poisoned commands in a batch of n cost about 2 log2(n) commits each, not n.
void Engine::SettleDataError(std::vector<Queued>& batch, base::Time now,
                             DrainScope fairness_scope) {
  ledger_.owner().AssertCurrent();
  settled_.assign(batch.size(), Status::Ok());
  const auto fail_from = [&](std::size_t first, const Status& status) {
    for (std::size_t i = first; i < batch.size(); ++i) settled_[i] = status;
  };
  const Status housekeeping = DecideAndCommit(batch, Part{0, 0, true}, now, fairness_scope);
  if (!housekeeping.ok()) {
    if (store::IsDataError(housekeeping)) {
      // Expiries and housekeeping are the writer's own rows: refusing them is a writer bug.
      failed_.store(true, std::memory_order_release);
    }
    return fail_from(0, base::Unavailable("the batch could not be committed"));
  }
  std::vector<Part> parts{Part{0, batch.size(), false}};  // a stack: the next part is last
  while (!parts.empty()) {
    const Part part = parts.back();
    parts.pop_back();
    const Status status = DecideAndCommit(batch, part, now, fairness_scope);
    if (status.ok()) continue;
    if (!store::IsDataError(status)) return fail_from(part.begin, status);
    if (part.end - part.begin > 1) {
      const std::size_t middle = part.begin + (part.end - part.begin) / 2;
      parts.push_back(Part{middle, part.end, false});
      parts.push_back(Part{part.begin, middle, false});
    } else if (part.end - part.begin == 1) {
      stats_.commands_refused_by_store.fetch_add(1, std::memory_order_relaxed);
      settled_[part.begin] = base::InvalidArgument("the store refused a value of this request");
    }
  }
}

// Every answer is given only now, after the commit: a refusal in a batch whose commit failed
// is answered with the batch's status, never with the refusal. `each`, when given, holds
// every command's own status instead (SettleDataError).
void Engine::CompleteBatch(std::vector<Queued>& batch, const Status& status,
                           const std::vector<Status>* each) {
  ledger_.owner().AssertCurrent();
  const CommitContext context{stats_, compare_with_store_};
  if (options_.on_completions_begin) options_.on_completions_begin();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Status& own = each != nullptr ? (*each)[i] : status;
    std::visit(
        [&](auto& pending) {
          using C = typename std::decay_t<decltype(pending)>::Command;
          if (!own.ok()) return pending.done({own, {}});
          auto& decided = std::get<Decided<C>>(decisions_[i]).value;
          if constexpr (HasCommitted<C>) pending.command.Committed(decided, context);
          pending.done({own, std::move(decided)});
        },
        batch[i]);
  }
  decisions_.clear();
  if (options_.on_completions_end) options_.on_completions_end();
}

// Runs on the writer thread after a commit: memory recounted from the reservations must match
// the maintained counters (FS_CHECK), and both must match the database's trigger-kept counters.
Status Engine::CompareWithStore() {
  ledger_.owner().AssertCurrent();
  ledger_.CheckInvariants();
  auto stored = store_->ReadCounters();
  if (!stored) return stored.error();
  if (stored->size() != ledger_.SkuIds().size())
    return base::DataLoss("the store and memory know different sales");
  for (const auto& counters : *stored) {
    auto sale = ledger_.FindSale(counters.sku_id);
    if (!sale) return base::DataLoss("sale " + counters.sku_id + " missing in memory");
    if (sale->counters.held != counters.held || sale->counters.sold != counters.sold)
      return base::DataLoss("counters of " + counters.sku_id + " differ from the store");
  }
  return Status::Ok();
}

// --- Shared stores (several nodes on one database) --------------------------------------------

bool Engine::ContainsCheck(const std::vector<Queued>& batch, Part part) {
  const auto first = batch.begin() + static_cast<std::ptrdiff_t>(part.begin);
  const auto last = batch.begin() + static_cast<std::ptrdiff_t>(part.end);
  return std::any_of(first, last, [](const Queued& queued) {
    return std::holds_alternative<Pending<engine::CheckConsistency>>(queued);
  });
}

bool Engine::SharedWorkDue(base::Time now) {
  if (now >= next_prune_) return true;
  // Throttled attempts and detections wait for a batch to chain them.
  if (!fairness_audit_.empty()) return true;
  const auto next = ledger_.NextExpiry();
  return next && *next <= now;
}

// Brings memory to the database's state: rows other writers committed since synced_through_.
// A refresh is not a mutation: nothing is written and nothing is undone on rollback (the
// rows are committed).
void Engine::ApplyChanges(const store::ClusterChanges& changes) {
  ledger_.owner().AssertCurrent();
  std::vector<std::string> sku_ids;
  for (const auto& sale : changes.sales) {
    ledger_.SyncSale(sale);
    sku_ids.push_back(sale.sku_id);
  }
  for (const auto& reservation : changes.reservations) {
    ledger_.SyncReservation(reservation);
    sku_ids.push_back(reservation.sku_id);
  }
  for (const auto& record : changes.idempotency) ledger_.SyncIdempotency(record);
  for (const auto& order : changes.orders) ledger_.SyncOrder(order);
  for (const auto& [sku_id, sequence] : changes.event_sequences)
    ledger_.SyncEventSequence(sku_id, sequence);
  ledger_.SyncAuditHead(changes.audit_head);
  ledger_.CheckSynced();
  ledger_.RetireFinished();
  synced_through_ = changes.synced_through;
  const std::size_t rows = changes.sales.size() + changes.reservations.size() +
                           changes.idempotency.size() + changes.orders.size();
  stats_.rows_synced.fetch_add(rows, std::memory_order_relaxed);
  std::sort(sku_ids.begin(), sku_ids.end());
  sku_ids.erase(std::unique(sku_ids.begin(), sku_ids.end()), sku_ids.end());
  Publish(sku_ids);
  PublishAuditHead();
  if (options_.on_orders_changed && !changes.orders.empty()) {
    options_.on_orders_changed(changes.orders);
  }
}

Status Engine::BeginSharedBatch() {
  auto changes = store_->BeginBatch(synced_through_);
  if (!changes) return changes.error();
  // This batch's own number: the one after everything the lock holder has seen.
  batch_number_ = changes->synced_through + 1;
  ApplyChanges(*changes);
  return Status::Ok();
}

void Engine::SetWriteRefusal(const Status& status) {
  const bool refused = status.code() == StatusCode::kUnavailable;
  // Most batches commit: only a change of state takes the lock.
  if (!refused && !writes_refused_.load(std::memory_order_relaxed)) return;
  base::MutexLock lock(refusal_mutex_);
  write_refusal_ = refused ? std::string(base::StatusCodeName(status.code())) : std::string();
  writes_refused_.store(refused, std::memory_order_relaxed);
}

std::string Engine::write_refusal() const {
  base::MutexLock lock(refusal_mutex_);
  return write_refusal_;
}

void Engine::RefreshShared() {
  auto changes = store_->ReadChanges(synced_through_);
  if (!changes) {
    // Readers keep the last published state; the next batch or wake-up tries again.
    stats_.refresh_failures.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The database answers again: a node the balancer took out for a refused write must be able
  // to come back without a write reaching it first.
  SetWriteRefusal(Status::Ok());
  ApplyChanges(*changes);
}

Status Engine::FailBeforeDecisions(const Status& status) {
  stats_.batches_failed.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_commit_failure) options_.on_commit_failure(status);
  SetWriteRefusal(status);
  if (status.code() != StatusCode::kUnavailable) failed_.store(true, std::memory_order_release);
  return base::Unavailable("the batch could not be committed");
}

}  // namespace fs::engine
