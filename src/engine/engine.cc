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

std::string DefaultReservationBody(const core::Reservation& reservation) {
  return reservation.reservation_id;
}

std::string DefaultOrderBody(const core::Order& order) { return order.order_id; }

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
      rooms_(options_.waiting_room),
      draw_rng_(options_.seed != 0 ? options_.seed + 1 : base::SeedFromOs()),
      inbox_(options_.inbox_capacity),
      fairness_audit_(options_.fairness_audit) {}

base::Result<std::unique_ptr<Engine>> Engine::Open(Options options,
                                                   std::unique_ptr<store::Store> store,
                                                   const base::Clock& clock) {
  if (options.batch_size_max == 0 || options.inbox_capacity == 0 || options.expiry_batch_max == 0) {
    return base::InvalidArgument("batch, inbox and expiry sizes must be positive");
  }
  if (!options.render_reservation) options.render_reservation = DefaultReservationBody;
  if (!options.render_order) options.render_order = DefaultOrderBody;
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
  std::set<std::string> with_room;
  for (const auto& room : loaded->waiting_rooms) {
    with_room.insert(room.sku_id);
    rooms_.LoadRoom(room);
  }
  for (auto sale : loaded->sales) {
    if (with_room.count(sale.sku_id) == 1) sale.waiting_room = core::WaitingRoomMode::kOn;
    inventory_.LoadSale(sale);
  }
  for (const auto& ticket : loaded->queue_tickets) rooms_.LoadTicket(ticket);
  if (const std::string problem = rooms_.FinishLoad(now); !problem.empty()) {
    return base::DataLoss("waiting room: " + problem);
  }
  for (const auto& reservation : loaded->reservations) inventory_.LoadReservation(reservation);
  for (const auto& record : loaded->idempotency) inventory_.LoadIdempotency(record);
  if (options_.audit_enabled) inventory_.EnableAudit(&crypto::Sha256Hex, loaded->audit_head);
  for (const auto& order : loaded->orders) inventory_.LoadOrder(order);
  for (const auto& [sku_id, sequence] : loaded->event_sequences)
    inventory_.LoadEventSequence(sku_id, sequence);
  if (shared_) {
    // Other nodes may commit between the load and now: compare inside the first batch's lock.
    inventory_.CheckInvariants();
    FS_RETURN_IF_ERROR(BeginSharedBatch());
    const Status compared = CompareWithStore();
    if (!compared.ok()) {
      store_->AbortBatch();
      return compared;
    }
  } else {
    FS_RETURN_IF_ERROR(CompareWithStore());
  }

  inventory_.BeginBatch();
  rooms_.BeginBatch();
  const std::size_t expired = inventory_.ExpireDue(now, SIZE_MAX);
  Status status;
  if (!inventory_.mutations().empty()) {
    status = store_->Commit(inventory_.mutations());
  } else if (shared_) {
    store_->AbortBatch();
  }
  if (!status.ok()) {
    inventory_.RollbackBatch();
    rooms_.RollbackBatch();
    return status;
  }
  if (shared_ && !inventory_.mutations().empty()) synced_through_ = batch_number_;
  inventory_.CommitBatch();
  rooms_.CommitBatch();
  PublishWaitingRooms();
  stats_.reservations_expired.fetch_add(expired, std::memory_order_relaxed);
  Publish(inventory_.SkuIds());
  PublishAuditHead();
  next_prune_ = now;
  return Status::Ok();
}

void Engine::Start() {
  writer_ = std::thread([this] { Run(); });
}

void Engine::Stop() {
  inbox_.Close();
  if (writer_.joinable()) writer_.join();
}

// --- Inbox ----------------------------------------------------------------------------------

void Engine::Reject(Command& command, const Status& status) {
  std::visit(
      [&](auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, CreateSaleCommand>) {
          c.done(CreateSaleReply{status, {}});
        } else if constexpr (std::is_same_v<T, ReserveCommandEntry>) {
          c.done(ReserveReply{status, {}});
        } else if constexpr (std::is_same_v<T, ReleaseCommand>) {
          c.done(ReleaseReply{status, {}});
        } else if constexpr (std::is_same_v<T, GetReservationCommand>) {
          c.done(ReservationReply{status, std::nullopt});
        } else if constexpr (std::is_same_v<T, SaleOverrideCommand> ||
                             std::is_same_v<T, AdjustStockCommand>) {
          c.done(AdminSaleReply{status, {}});
        } else if constexpr (std::is_same_v<T, GenericCommand>) {
          c.reject(status);
        } else {
          c.done(status);
        }
      },
      command);
}

bool Engine::Enqueue(Command command) {
  switch (inbox_.Push(command)) {
    case PushOutcome::kPushed:
      return true;
    case PushOutcome::kFull:
      stats_.inbox_rejections.fetch_add(1, std::memory_order_relaxed);
      Reject(command, base::ResourceExhausted("the writer queue is full"));
      return false;
    case PushOutcome::kClosed:
      Reject(command, base::Unavailable("the server is shutting down"));
      return false;
  }
  return false;
}

void Engine::CreateSale(core::Sale sale, CreateSaleCallback done) {
  Enqueue(CreateSaleCommand{std::move(sale), std::move(done)});
}

void Engine::Reserve(core::ReserveCommand command, ReserveCallback done) {
  Enqueue(ReserveCommandEntry{std::move(command), std::move(done), core::PresentedPass{}});
}

void Engine::Reserve(core::ReserveCommand command, core::PresentedPass pass, ReserveCallback done) {
  Enqueue(ReserveCommandEntry{std::move(command), std::move(done), std::move(pass)});
}

void Engine::Release(std::string reservation_id, std::string user_id, ReleaseCallback done) {
  Enqueue(ReleaseCommand{std::move(reservation_id), std::move(user_id), std::move(done)});
}

void Engine::GetReservation(std::string reservation_id, std::string user_id,
                            ReservationCallback done) {
  Enqueue(GetReservationCommand{std::move(reservation_id), std::move(user_id), std::move(done)});
}

void Engine::SetSaleOverride(std::string sku_id, core::SaleOverride to, AdminSaleCallback done) {
  Enqueue(SaleOverrideCommand{std::move(sku_id), to, std::move(done)});
}

void Engine::AdjustStock(std::string sku_id, std::int64_t delta, AdminSaleCallback done) {
  Enqueue(AdjustStockCommand{std::move(sku_id), delta, std::move(done)});
}

core::AuditHead Engine::audit_head() const {
  std::lock_guard<std::mutex> lock(audit_head_mutex_);
  return audit_head_;
}

void Engine::PublishAuditHead() {
  std::lock_guard<std::mutex> lock(audit_head_mutex_);
  audit_head_ = inventory_.audit_head();
}

// --- Checkout and the payment saga ---------------------------------------------------------

void Engine::Checkout(core::CheckoutCommand command, CheckoutCallback done) {
  auto shared_done = std::make_shared<CheckoutCallback>(std::move(done));
  Enqueue(GenericCommand{
      [this, command = std::move(command), shared_done](base::Time now) -> Completion {
        auto result = inventory_.Checkout(command, base::NewUuidV7(rng_, base::ToMillis(now)), now,
                                          options_.render_order);
        return [this, shared_done, result = std::move(result)](const Status& s) {
          if (s.ok() && result.outcome == core::CheckoutOutcome::kCreated)
            stats_.orders_created.fetch_add(1, std::memory_order_relaxed);
          (*shared_done)(CheckoutReply{s, s.ok() ? result : core::CheckoutResult{}});
        };
      },
      [shared_done](const Status& s) {
        (*shared_done)(CheckoutReply{s, {}});
      }});
}

namespace {

// Completion of a read: answered after the batch's commit like every other command, so a
// reader never sees state that could still be rolled back.
template <typename Reply, typename Value>
std::function<void(const Status&)> ReadCompletion(std::shared_ptr<std::function<void(Reply)>> done,
                                                  Value value) {
  return [done = std::move(done), value = std::move(value)](const Status& s) {
    (*done)(Reply{s, s.ok() ? value : Value{}});
  };
}

}  // namespace

void Engine::GetOrder(std::string order_id, std::string user_id, OrderCallback done) {
  auto shared_done = std::make_shared<OrderCallback>(std::move(done));
  Enqueue(GenericCommand{[this, order_id = std::move(order_id), user_id = std::move(user_id),
                          shared_done](base::Time) -> Completion {
                           std::optional<core::Order> found;
                           const core::Order* order = inventory_.FindOrder(order_id);
                           if (order != nullptr && order->user_id == user_id) found = *order;
                           return ReadCompletion<OrderReply>(shared_done, std::move(found));
                         },
                         [shared_done](const Status& s) {
                           (*shared_done)(OrderReply{s, std::nullopt});
                         }});
}

void Engine::GetOrderAsAdmin(std::string order_id, OrderCallback done) {
  auto shared_done = std::make_shared<OrderCallback>(std::move(done));
  Enqueue(
      GenericCommand{[this, order_id = std::move(order_id), shared_done](base::Time) -> Completion {
                       std::optional<core::Order> found;
                       const core::Order* order = inventory_.FindOrder(order_id);
                       if (order != nullptr) found = *order;
                       return ReadCompletion<OrderReply>(shared_done, std::move(found));
                     },
                     [shared_done](const Status& s) {
                       (*shared_done)(OrderReply{s, std::nullopt});
                     }});
}

void Engine::DueOrders(std::size_t count_max, OrdersCallback done) {
  auto shared_done = std::make_shared<OrdersCallback>(std::move(done));
  Enqueue(GenericCommand{[this, count_max, shared_done](base::Time now) -> Completion {
                           return ReadCompletion<OrdersReply>(shared_done,
                                                              inventory_.DueOrders(now, count_max));
                         },
                         [shared_done](const Status& s) {
                           (*shared_done)(OrdersReply{s, {}});
                         }});
}

void Engine::ListOrders(core::OrderStatus status, std::size_t count_max, OrdersCallback done) {
  auto shared_done = std::make_shared<OrdersCallback>(std::move(done));
  Enqueue(GenericCommand{[this, status, count_max, shared_done](base::Time) -> Completion {
                           return ReadCompletion<OrdersReply>(
                               shared_done, inventory_.OrdersWithStatus(status, count_max));
                         },
                         [shared_done](const Status& s) {
                           (*shared_done)(OrdersReply{s, {}});
                         }});
}

void Engine::RecordPayment(core::PaymentReport report, PaymentReportCallback done) {
  auto shared_done = std::make_shared<PaymentReportCallback>(std::move(done));
  Enqueue(GenericCommand{
      [this, report = std::move(report), shared_done](base::Time now) -> Completion {
        auto result = inventory_.RecordPayment(report, options_.retry_schedule, now);
        return [this, shared_done, result = std::move(result)](const Status& s) {
          if (s.ok() && result.outcome == core::PaymentReportOutcome::kRetryScheduled)
            stats_.payment_retries_scheduled.fetch_add(1, std::memory_order_relaxed);
          if (s.ok() && result.outcome != core::PaymentReportOutcome::kStale)
            CountOrder(result.order);
          (*shared_done)(PaymentReportReply{s, s.ok() ? result : core::PaymentReportResult{}});
        };
      },
      [shared_done](const Status& s) {
        (*shared_done)(PaymentReportReply{s, {}});
      }});
}

void Engine::ResolveOrder(std::string order_id, core::ResolveChoice choice, ResolveCallback done) {
  auto shared_done = std::make_shared<ResolveCallback>(std::move(done));
  Enqueue(GenericCommand{
      [this, order_id = std::move(order_id), choice, shared_done](base::Time now) -> Completion {
        auto result = inventory_.ResolveOrder(order_id, choice, now);
        return [this, shared_done, result = std::move(result)](const Status& s) {
          if (s.ok() && result.outcome == core::ResolveOutcome::kResolved) CountOrder(result.order);
          (*shared_done)(ResolveReply{s, s.ok() ? result : core::ResolveResult{}});
        };
      },
      [shared_done](const Status& s) {
        (*shared_done)(ResolveReply{s, {}});
      }});
}

void Engine::CountOrder(const std::optional<core::Order>& order) {
  if (!order) return;
  switch (order->status) {
    case core::OrderStatus::kPending:
      break;
    case core::OrderStatus::kPaid:
      stats_.orders_paid.fetch_add(1, std::memory_order_relaxed);
      break;
    case core::OrderStatus::kFailed:
      stats_.orders_failed.fetch_add(1, std::memory_order_relaxed);
      break;
    case core::OrderStatus::kNeedsAttention:
      stats_.orders_needs_attention.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

// --- The fair waiting room ------------------------------------------------------------------

void Engine::JoinQueue(std::string sku_id, std::string user_id, JoinQueueCallback done) {
  auto shared_done = std::make_shared<JoinQueueCallback>(std::move(done));
  Enqueue(GenericCommand{
      [this, sku_id = std::move(sku_id), user_id = std::move(user_id),
       shared_done](base::Time now) -> Completion {
        // Opaque and unguessable: 122 random bits (the ticket is only shown to its owner).
        auto result = rooms_.Join(sku_id, user_id, base::NewUuid(rng_), now, inventory_);
        return [shared_done, result = std::move(result)](const Status& s) {
          (*shared_done)(JoinQueueReply{s, s.ok() ? result : core::JoinResult{}});
        };
      },
      [shared_done](const Status& s) {
        (*shared_done)(JoinQueueReply{s, {}});
      }});
}

void Engine::GetQueueTicket(std::string sku_id, std::string ticket_id, std::string user_id,
                            QueueTicketCallback done) {
  auto shared_done = std::make_shared<QueueTicketCallback>(std::move(done));
  Enqueue(GenericCommand{[this, sku_id = std::move(sku_id), ticket_id = std::move(ticket_id),
                          user_id = std::move(user_id), shared_done](base::Time now) -> Completion {
                           auto found =
                               rooms_.FindTicket(sku_id, ticket_id, user_id, now, inventory_);
                           return [shared_done, found = std::move(found)](const Status& s) {
                             (*shared_done)(QueueTicketReply{s, s.ok() ? found : std::nullopt});
                           };
                         },
                         [shared_done](const Status& s) {
                           (*shared_done)(QueueTicketReply{s, std::nullopt});
                         }});
}

std::vector<core::WaitingRoomStats> Engine::WaitingRoomStats() const {
  std::lock_guard<std::mutex> lock(rooms_mutex_);
  return published_rooms_;
}

void Engine::PublishWaitingRooms() {
  std::vector<core::WaitingRoomStats> stats = rooms_.Stats();
  std::lock_guard<std::mutex> lock(rooms_mutex_);
  published_rooms_ = std::move(stats);
}

Status Engine::CheckConsistency() {
  std::promise<Status> promise;
  auto future = promise.get_future();
  Enqueue(CheckCommand{[&promise](Status status) { promise.set_value(std::move(status)); }});
  return future.get();
}

// --- Reads ----------------------------------------------------------------------------------

std::shared_ptr<const PublishedSale> Engine::FindSale(const std::string& sku_id) const {
  std::lock_guard<std::mutex> lock(published_mutex_);
  auto it = published_.find(sku_id);
  return it == published_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const PublishedSale>> Engine::AllSales() const {
  std::vector<std::shared_ptr<const PublishedSale>> out;
  {
    std::lock_guard<std::mutex> lock(published_mutex_);
    out.reserve(published_.size());
    for (const auto& [sku_id, sale] : published_) out.push_back(sale);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->sale.sku_id < b->sale.sku_id; });
  return out;
}

void Engine::Publish(const std::vector<std::string>& sku_ids) {
  for (const auto& sku_id : sku_ids) {
    auto snapshot = inventory_.FindSale(sku_id);
    if (!snapshot) continue;
    auto view = std::make_shared<const PublishedSale>(
        PublishedSale{std::move(snapshot->sale), snapshot->counters});
    std::lock_guard<std::mutex> lock(published_mutex_);
    published_[sku_id] = std::move(view);
  }
}

// --- Writer thread --------------------------------------------------------------------------

std::chrono::milliseconds Engine::WaitBudget() {
  auto next = inventory_.NextExpiry();
  if (!next) return options_.idle_wake;
  const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.Now());
  return std::clamp(delay, std::chrono::milliseconds(0), options_.idle_wake);
}

void Engine::Run() {
  // Reused: once it has grown to the largest batch so far, taking a batch allocates nothing.
  std::vector<Command> batch;
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
}

void Engine::FinishFairnessAudit() {
  // Fairness events offered until now are written before the writer ends. Bounded: the
  // channel holds at most its capacities, and a failed commit ends the loop.
  std::vector<Command> none;
  while (healthy() && !(fairness_audit_.empty() && fairness_pending_.empty())) {
    const std::uint64_t failed = stats_.batches_failed.load(std::memory_order_relaxed);
    ProcessBatch(none, DrainScope::kAll);
    if (stats_.batches_failed.load(std::memory_order_relaxed) != failed) break;
  }
}

void Engine::Housekeep(base::Time now) {
  if (now < next_prune_) return;
  // Keys older than the retention are deleted hourly: "kept at least 24 h".
  inventory_.PruneIdempotency(now - options_.idempotency_retention);
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
  for (const core::AuditEvent& event : fairness_pending_) inventory_.AppendAudit(event);
}

void Engine::ProcessBatch(std::vector<Command>& batch, DrainScope fairness_scope) {
  if (!healthy()) {
    for (auto& command : batch) Reject(command, base::Unavailable("the writer has stopped"));
    return;
  }
  const base::Time now = clock_.Now();
  batch_check_.reset();
  if (shared_) {
    // Nothing to decide: refresh what readers see without taking the cluster's lock.
    if (batch.empty() && !SharedWorkDue(now)) return RefreshShared();
    const Status begun = BeginSharedBatch();
    if (!begun.ok()) return FailBeforeDecisions(batch, begun);
    if (ContainsCheck(batch)) {
      batch_check_ = CompareWithStore();
      if (batch_check_->code() == StatusCode::kUnavailable) {
        // The read lost the connection and with it the batch's lock: decide nothing.
        store_->AbortBatch();
        return FailBeforeDecisions(batch, *batch_check_);
      }
    }
  }
  inventory_.BeginBatch();
  rooms_.BeginBatch();
  const std::size_t expired = inventory_.ExpireDue(now, options_.expiry_batch_max);
  Housekeep(now);
  // Decided before this batch's commands (on the HTTP threads), so chained first.
  AppendFairnessAudit(now, fairness_scope);
  // After the expiries, so units they returned are admitted in the same batch.
  rooms_.Tick(now, inventory_, draw_rng_);
  decisions_.clear();
  for (auto& command : batch) decisions_.push_back(Decide(command, now));

  Status status;
  if (!inventory_.mutations().empty()) {
    const auto started = std::chrono::steady_clock::now();
    status = store_->Commit(inventory_.mutations());
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    stats_.commit_micros_total.fetch_add(static_cast<std::uint64_t>(micros.count()),
                                         std::memory_order_relaxed);
  } else if (shared_) {
    store_->AbortBatch();
  }
  if (status.ok()) {
    // An empty batch was rolled back, and with it its batch number: only a commit is synced.
    if (shared_ && !inventory_.mutations().empty()) synced_through_ = batch_number_;
    // Only batches that wrote something count as commits; idle wake-ups are not batches.
    const bool wrote = !inventory_.mutations().empty();
    if (wrote) stats_.batches_committed.fetch_add(1, std::memory_order_relaxed);
    const std::vector<std::string> changed_skus = inventory_.CommitBatch();
    Publish(changed_skus);
    rooms_.CommitBatch();
    PublishAuditHead();
    PublishWaitingRooms();
    fairness_pending_.clear();
    if (!changed_skus.empty() && options_.on_skus_changed) options_.on_skus_changed(changed_skus);
    stats_.reservations_expired.fetch_add(expired, std::memory_order_relaxed);
    if (wrote && options_.on_committed) options_.on_committed();
  } else {
    inventory_.RollbackBatch();
    rooms_.RollbackBatch();
    stats_.batches_failed.fetch_add(1, std::memory_order_relaxed);
    if (options_.on_commit_failure) options_.on_commit_failure(status);
    // Only a clean rollback lets the writer go on; a refused guard or a failed sync means
    // memory and disk can no longer be trusted to agree. (A shared store's commit whose
    // outcome is unknown is kUnavailable: if it did commit, the next batch's refresh brings
    // its rows back into memory, since synced_through_ stays before it.)
    if (status.code() != StatusCode::kUnavailable) failed_.store(true, std::memory_order_release);
    status = base::Unavailable("the batch could not be committed");
  }
  stats_.commands_processed.fetch_add(batch.size(), std::memory_order_relaxed);
  if (!batch.empty()) stats_.last_batch_size.store(batch.size(), std::memory_order_relaxed);
  UpdateMax(stats_.batch_size_max_seen, static_cast<std::uint64_t>(batch.size()));
  if (options_.on_completions_begin) options_.on_completions_begin();
  for (std::size_t i = 0; i < batch.size(); ++i) Complete(batch[i], decisions_[i], status);
  decisions_.clear();
  if (options_.on_completions_end) options_.on_completions_end();
}

Engine::Decision Engine::Decide(Command& command, base::Time now) {
  return std::visit(
      [&](auto& c) -> Decision {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, CreateSaleCommand>) {
          if (shared_ && c.sale.waiting_room == core::WaitingRoomMode::kOn) {
            // The room's queue lives in one writer's memory; several nodes would each run
            // their own draw. Refused until rooms are shared (docs/operations.md).
            core::CreateSaleResult refused;
            refused.outcome = core::CreateSaleOutcome::kInvalid;
            refused.invalid_reason =
                "waiting_room needs the embedded store (one node); it is not available with "
                "--store postgres";
            return refused;
          }
          auto result = inventory_.CreateSale(std::move(c.sale), now);
          if (result.outcome == core::CreateSaleOutcome::kCreated &&
              result.sale->waiting_room == core::WaitingRoomMode::kOn) {
            rooms_.CreateRoom(result.sale->sku_id, now, inventory_);
          }
          return result;
        } else if constexpr (std::is_same_v<T, ReserveCommandEntry>) {
          auto queued = rooms_.Reserve(inventory_, c.command, c.pass,
                                       base::NewUuidV7(rng_, base::ToMillis(now)), now,
                                       options_.render_reservation);
          return ReserveDecision{std::move(queued.result),
                                 queued.pass_check != core::PassCheck::kValid};
        } else if constexpr (std::is_same_v<T, ReleaseCommand>) {
          return inventory_.Release(c.reservation_id, c.user_id, now);
        } else if constexpr (std::is_same_v<T, SaleOverrideCommand>) {
          return inventory_.SetSaleOverride(c.sku_id, c.to, now);
        } else if constexpr (std::is_same_v<T, AdjustStockCommand>) {
          return inventory_.AdjustStock(c.sku_id, c.delta, now);
        } else if constexpr (std::is_same_v<T, GenericCommand>) {
          return c.decide(now);
        } else if constexpr (std::is_same_v<T, GetReservationCommand>) {
          std::optional<core::Reservation> found;
          const core::Reservation* r = inventory_.FindReservation(c.reservation_id);
          if (r != nullptr && r->user_id == c.user_id) found = *r;
          return found;
        } else if (shared_) {
          // Compared right after the refresh, inside the batch's lock (ProcessBatch).
          return CheckDecision{batch_check_.value_or(base::Internal("no check in this batch"))};
        } else {
          return CheckDecision{};  // compared after the commit (Complete)
        }
      },
      command);
}

// Every answer is given only now, after the commit: a refusal in a batch whose commit failed
// is answered with the batch's status, never with the refusal.
void Engine::Complete(Command& command, Decision& decision, const Status& s) {
  std::visit(
      [&](auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, CreateSaleCommand>) {
          auto& result = std::get<core::CreateSaleResult>(decision);
          c.done(CreateSaleReply{s, s.ok() ? std::move(result) : core::CreateSaleResult{}});
        } else if constexpr (std::is_same_v<T, ReserveCommandEntry>) {
          auto& decided = std::get<ReserveDecision>(decision);
          if (s.ok() && decided.refused_pass)
            stats_.queue_pass_refusals.fetch_add(1, std::memory_order_relaxed);
          c.done(ReserveReply{s, s.ok() ? std::move(decided.result) : core::ReserveResult{}});
        } else if constexpr (std::is_same_v<T, ReleaseCommand>) {
          auto& result = std::get<core::ReleaseResult>(decision);
          c.done(ReleaseReply{s, s.ok() ? std::move(result) : core::ReleaseResult{}});
        } else if constexpr (std::is_same_v<T, SaleOverrideCommand> ||
                             std::is_same_v<T, AdjustStockCommand>) {
          auto& result = std::get<core::AdminSaleResult>(decision);
          c.done(AdminSaleReply{s, s.ok() ? std::move(result) : core::AdminSaleResult{}});
        } else if constexpr (std::is_same_v<T, GenericCommand>) {
          std::get<Completion>(decision)(s);
        } else if constexpr (std::is_same_v<T, GetReservationCommand>) {
          auto& found = std::get<std::optional<core::Reservation>>(decision);
          c.done(ReservationReply{s, s.ok() ? std::move(found) : std::nullopt});
        } else {
          const auto& checked = std::get<CheckDecision>(decision).checked;
          if (!s.ok()) {
            c.done(s);
          } else if (checked) {
            c.done(*checked);
          } else {
            c.done(CompareWithStore());
          }
        }
      },
      command);
}

// Runs on the writer thread after a commit: memory recounted from the reservations must match
// the maintained counters (FS_CHECK), and both must match the database's trigger-kept counters.
Status Engine::CompareWithStore() {
  inventory_.CheckInvariants();
  auto stored = store_->ReadCounters();
  if (!stored) return stored.error();
  if (stored->size() != inventory_.SkuIds().size())
    return base::DataLoss("the store and memory know different sales");
  for (const auto& counters : *stored) {
    auto sale = inventory_.FindSale(counters.sku_id);
    if (!sale) return base::DataLoss("sale " + counters.sku_id + " missing in memory");
    if (sale->counters.held != counters.held || sale->counters.sold != counters.sold)
      return base::DataLoss("counters of " + counters.sku_id + " differ from the store");
  }
  return Status::Ok();
}

// --- Shared stores (several nodes on one database) --------------------------------------------

bool Engine::ContainsCheck(const std::vector<Command>& batch) {
  return std::any_of(batch.begin(), batch.end(), [](const Command& command) {
    return std::holds_alternative<CheckCommand>(command);
  });
}

bool Engine::SharedWorkDue(base::Time now) {
  if (now >= next_prune_) return true;
  // Throttled attempts and detections wait for a batch to chain them.
  if (!fairness_audit_.empty()) return true;
  const auto next = inventory_.NextExpiry();
  return next && *next <= now;
}

// Brings memory to the database's state: rows other writers committed since synced_through_.
// A refresh is not a mutation: nothing is written and nothing is undone on rollback (the
// rows are committed).
void Engine::ApplyChanges(const store::ClusterChanges& changes) {
  std::vector<std::string> sku_ids;
  for (const auto& sale : changes.sales) {
    inventory_.SyncSale(sale);
    sku_ids.push_back(sale.sku_id);
  }
  for (const auto& reservation : changes.reservations) {
    inventory_.SyncReservation(reservation);
    sku_ids.push_back(reservation.sku_id);
  }
  for (const auto& record : changes.idempotency) inventory_.SyncIdempotency(record);
  for (const auto& order : changes.orders) inventory_.SyncOrder(order);
  for (const auto& [sku_id, sequence] : changes.event_sequences)
    inventory_.SyncEventSequence(sku_id, sequence);
  inventory_.SyncAuditHead(changes.audit_head);
  inventory_.CheckSynced();
  synced_through_ = changes.synced_through;
  const std::size_t rows = changes.sales.size() + changes.reservations.size() +
                           changes.idempotency.size() + changes.orders.size();
  stats_.rows_synced.fetch_add(rows, std::memory_order_relaxed);
  std::sort(sku_ids.begin(), sku_ids.end());
  sku_ids.erase(std::unique(sku_ids.begin(), sku_ids.end()), sku_ids.end());
  Publish(sku_ids);
  PublishAuditHead();
}

Status Engine::BeginSharedBatch() {
  auto changes = store_->BeginBatch(synced_through_);
  if (!changes) return changes.error();
  // This batch's own number: the one after everything the lock holder has seen.
  batch_number_ = changes->synced_through + 1;
  ApplyChanges(*changes);
  return Status::Ok();
}

void Engine::RefreshShared() {
  auto changes = store_->ReadChanges(synced_through_);
  if (!changes) {
    // Readers keep the last published state; the next batch or wake-up tries again.
    stats_.refresh_failures.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ApplyChanges(*changes);
}

void Engine::FailBeforeDecisions(std::vector<Command>& batch, const Status& status) {
  stats_.batches_failed.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_commit_failure) options_.on_commit_failure(status);
  if (status.code() != StatusCode::kUnavailable) failed_.store(true, std::memory_order_release);
  const Status answer = base::Unavailable("the batch could not be committed");
  for (auto& command : batch) Reject(command, answer);
}

}  // namespace fs::engine
