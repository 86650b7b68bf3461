#include "engine/commands.h"

#include <utility>

#include "base/random.h"

namespace fs::engine {
namespace {

void CountOrder(const std::optional<core::Order>& order, EngineStats& stats) {
  if (!order) return;
  switch (order->status) {
    case core::OrderStatus::kPending:
      break;
    case core::OrderStatus::kPaid:
      stats.orders_paid.fetch_add(1, std::memory_order_relaxed);
      break;
    case core::OrderStatus::kFailed:
      stats.orders_failed.fetch_add(1, std::memory_order_relaxed);
      break;
    case core::OrderStatus::kNeedsAttention:
      stats.orders_needs_attention.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

std::string NewTimeOrderedId(const DecideContext& context) {
  return base::NewUuidV7(context.ids, base::ToMillis(context.now));
}

}  // namespace

CreateSale::Result CreateSale::Decide(core::Ledger& ledger, const DecideContext& context) const {
  if (context.shared && sale.waiting_room == core::WaitingRoomMode::kOn) {
    // The room's queue lives in one writer's memory; several nodes would each run their own
    // draw. Refused until rooms are shared (docs/operations.md).
    Result refused;
    refused.outcome = core::CreateSaleOutcome::kInvalid;
    refused.invalid_reason =
        "waiting_room needs the embedded store (one node); it is not available with "
        "--store postgres";
    return refused;
  }
  return ledger.CreateSale(sale, context.now, request_id);
}

Reserve::Result Reserve::Decide(core::Ledger& ledger, const DecideContext& context) const {
  Result result = ledger.Reserve(request, pass, NewTimeOrderedId(context), context.now);
  if (result.outcome == core::ReserveOutcome::kReserved && !request.idempotency_key.empty()) {
    ledger.StoreReply(request, context.replies.reservation_created(*result.reservation),
                      context.now);
  }
  return result;
}

void Reserve::Committed(Result& result, const CommitContext& context) const {
  if (result.outcome == core::ReserveOutcome::kQueuePassRequired ||
      result.outcome == core::ReserveOutcome::kQueuePassInvalid) {
    context.stats.queue_pass_refusals.fetch_add(1, std::memory_order_relaxed);
  }
}

Release::Result Release::Decide(core::Ledger& ledger, const DecideContext& context) const {
  return ledger.Release(reservation_id, user_id, context.now, request_id);
}

GetReservation::Result GetReservation::Decide(core::Ledger& ledger, const DecideContext&) const {
  const core::Reservation* found = ledger.FindReservation(reservation_id);
  if (found == nullptr || found->user_id != user_id) return std::nullopt;
  return *found;
}

SetSaleOverride::Result SetSaleOverride::Decide(core::Ledger& ledger,
                                                const DecideContext& context) const {
  return ledger.SetSaleOverride(sku_id, to, context.now, request_id);
}

AdjustStock::Result AdjustStock::Decide(core::Ledger& ledger, const DecideContext& context) const {
  return ledger.AdjustStock(sku_id, delta, context.now, request_id);
}

UpdateSale::Result UpdateSale::Decide(core::Ledger& ledger, const DecideContext& context) const {
  return ledger.UpdateSale(sku_id, patch, context.now, request_id);
}

Checkout::Result Checkout::Decide(core::Ledger& ledger, const DecideContext& context) const {
  Result result = ledger.Checkout(request, NewTimeOrderedId(context), context.now);
  if (result.outcome == core::CheckoutOutcome::kCreated && !request.idempotency_key.empty()) {
    ledger.StoreReply(request, context.replies.order_created(*result.order), context.now);
  }
  return result;
}

void Checkout::Committed(Result& result, const CommitContext& context) const {
  if (result.outcome == core::CheckoutOutcome::kCreated)
    context.stats.orders_created.fetch_add(1, std::memory_order_relaxed);
}

GetOrder::Result GetOrder::Decide(core::Ledger& ledger, const DecideContext&) const {
  const core::Order* found = ledger.FindOrder(order_id);
  if (found == nullptr || found->user_id != user_id) return std::nullopt;
  return *found;
}

GetOrderAsAdmin::Result GetOrderAsAdmin::Decide(core::Ledger& ledger, const DecideContext&) const {
  const core::Order* found = ledger.FindOrder(order_id);
  if (found == nullptr) return std::nullopt;
  return *found;
}

DueOrders::Result DueOrders::Decide(core::Ledger& ledger, const DecideContext& context) const {
  return ledger.DueOrders(context.now, count_max);
}

ListOrders::Result ListOrders::Decide(core::Ledger& ledger, const DecideContext&) const {
  return ledger.OrdersWithStatus(status, count_max);
}

RecordPayment::Result RecordPayment::Decide(core::Ledger& ledger,
                                            const DecideContext& context) const {
  return ledger.RecordPayment(report, context.retry_schedule, context.now);
}

void RecordPayment::Committed(Result& result, const CommitContext& context) const {
  if (result.outcome == core::PaymentReportOutcome::kRetryScheduled)
    context.stats.payment_retries_scheduled.fetch_add(1, std::memory_order_relaxed);
  if (result.outcome != core::PaymentReportOutcome::kStale) CountOrder(result.order, context.stats);
}

ResolveOrder::Result ResolveOrder::Decide(core::Ledger& ledger,
                                          const DecideContext& context) const {
  return ledger.ResolveOrder(order_id, choice, context.now, request_id);
}

void ResolveOrder::Committed(Result& result, const CommitContext& context) const {
  if (result.outcome == core::ResolveOutcome::kResolved) CountOrder(result.order, context.stats);
}

JoinQueue::Result JoinQueue::Decide(core::Ledger& ledger, const DecideContext& context) const {
  // Opaque and unguessable: 122 random bits (the ticket is only shown to its owner).
  return ledger.JoinQueue(sku_id, user_id, base::NewUuid(context.ids), context.now);
}

GetQueueTicket::Result GetQueueTicket::Decide(core::Ledger& ledger,
                                              const DecideContext& context) const {
  return ledger.FindTicket(sku_id, ticket_id, user_id, context.now);
}

CheckConsistency::Result CheckConsistency::Decide(core::Ledger&,
                                                  const DecideContext& context) const {
  // Shared stores: compared right after the refresh, inside the batch's lock (ProcessBatch).
  if (context.shared) return context.batch_check.value_or(base::Internal("no check in this batch"));
  return std::nullopt;  // compared after the commit
}

void CheckConsistency::Committed(Result& result, const CommitContext& context) const {
  if (!result) result = context.compare_with_store();
}

LookupSale::Result LookupSale::Decide(core::Ledger& ledger, const DecideContext&) const {
  return ledger.FindSale(sku_id).has_value();
}

}  // namespace fs::engine
