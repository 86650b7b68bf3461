#include "core/orders.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace fs::core {

std::string CheckoutFingerprint(const CheckoutCommand& command) {
  return "checkout|" + command.reservation_id + "|" + command.payment_method_id;
}

// --- Recovery and shared-store refresh -----------------------------------------------------

namespace {

bool IsFinal(OrderStatus status) {
  return status == OrderStatus::kPaid || status == OrderStatus::kFailed;
}

}  // namespace

void Orders::Load(const Order& order) {
  FS_CHECK(!journal_.in_batch());
  FS_CHECK(sales_.Find(order.sku_id) != nullptr);
  // A final order's reservation ended too and may have been left out of the load.
  FS_CHECK(IsFinal(order.status) || reservations_.Find(order.reservation_id) != nullptr);
  if (order.status == OrderStatus::kPending) SetPending(order.order_id, order.next_attempt_at);
  if (IsFinal(order.status)) final_.push_back(order.order_id);
  const bool inserted = orders_.emplace(order.order_id, order).second;
  FS_CHECK(inserted);
}

void Orders::Sync(const Order& order) {
  FS_CHECK(!journal_.in_batch());
  FS_CHECK(sales_.Find(order.sku_id) != nullptr);
  FS_CHECK(IsFinal(order.status) || reservations_.Find(order.reservation_id) != nullptr);
  SetPending(order.order_id, std::nullopt);
  if (order.status == OrderStatus::kPending) SetPending(order.order_id, order.next_attempt_at);
  if (IsFinal(order.status)) final_.push_back(order.order_id);
  orders_[order.order_id] = order;
}

std::size_t Orders::RetireFinal() {
  FS_CHECK(!journal_.in_batch());
  std::size_t retired = 0;
  for (const std::string& id : final_) {
    auto it = orders_.find(id);
    if (it == orders_.end() || !IsFinal(it->second.status)) continue;
    orders_.erase(it);
    ++retired;
  }
  final_.clear();
  return retired;
}

// --- Changes -------------------------------------------------------------------------------

void Orders::SetPending(const std::string& order_id, std::optional<Time> next_attempt_at) {
  auto it = pending_orders_.find(order_id);
  if (it != pending_orders_.end()) {
    pending_by_due_.erase({it->second, order_id});
    pending_orders_.erase(it);
  }
  if (!next_attempt_at) return;
  pending_orders_.emplace(order_id, *next_attempt_at);
  pending_by_due_.emplace(*next_attempt_at, order_id);
}

void Orders::Put(Order next) {
  auto it = orders_.find(next.order_id);
  std::optional<Order> previous;
  if (it != orders_.end()) previous = it->second;
  journal_.Record(this, &Orders::Undo, undo::OrderChanged{next.order_id, std::move(previous)});
  SetPending(next.order_id, std::nullopt);
  if (next.status == OrderStatus::kPending) SetPending(next.order_id, next.next_attempt_at);
  if (IsFinal(next.status)) final_.push_back(next.order_id);
  const std::string id = next.order_id;
  orders_[id] = std::move(next);
}

void Orders::Undo(void* self, undo::Change& change) {
  auto& orders = *static_cast<Orders*>(self);
  auto& changed = std::get<undo::OrderChanged>(change);
  orders.SetPending(changed.order_id, std::nullopt);
  if (!changed.previous) {
    orders.orders_.erase(changed.order_id);
    return;
  }
  if (changed.previous->status == OrderStatus::kPending)
    orders.SetPending(changed.order_id, changed.previous->next_attempt_at);
  orders.orders_[changed.order_id] = std::move(*changed.previous);
}

// --- Decisions -----------------------------------------------------------------------------

CheckoutResult Orders::Checkout(const CheckoutCommand& command, const std::string& order_id,
                                Time now) {
  FS_CHECK(journal_.in_batch());
  CheckoutResult result;
  if (!command.idempotency_key.empty()) {
    if (const IdempotencyRecord* record =
            reservations_.FindKey(command.user_id, command.idempotency_key)) {
      const bool same_request = record->request_fingerprint == CheckoutFingerprint(command);
      result.outcome =
          same_request ? CheckoutOutcome::kReplayed : CheckoutOutcome::kIdempotencyKeyReused;
      if (same_request) result.replay = *record;
      return result;
    }
  }
  Reservation* reservation = reservations_.Find(command.reservation_id);
  if (reservation == nullptr || reservation->user_id != command.user_id) {
    result.outcome = CheckoutOutcome::kReservationNotFound;
    return result;
  }
  switch (reservation->status) {
    case ReservationStatus::kReserved:
      break;
    case ReservationStatus::kExpired:
      result.outcome = CheckoutOutcome::kReservationExpired;
      return result;
    case ReservationStatus::kCheckoutPending:
    case ReservationStatus::kPurchased:
    case ReservationStatus::kReleased:
      result.outcome = CheckoutOutcome::kReservationNotActive;
      return result;
  }
  if (reservation->expires_at <= now) {
    // Due but not yet swept: expire it now so the answer and the state agree.
    reservations_.Transition(*reservation, ReservationStatus::kExpired, now);
    result.outcome = CheckoutOutcome::kReservationExpired;
    return result;
  }
  FS_CHECK(orders_.find(order_id) == orders_.end());
  Book* book = sales_.Find(reservation->sku_id);
  FS_CHECK(book != nullptr);
  reservations_.Transition(*reservation, ReservationStatus::kCheckoutPending, now,
                           command.request_id);

  Order order;
  order.order_id = order_id;
  order.reservation_id = reservation->reservation_id;
  order.sku_id = reservation->sku_id;
  order.user_id = reservation->user_id;
  order.quantity = reservation->quantity;
  // price <= 1e12 and quantity <= 1000: the product stays far below 2^63.
  order.amount_cents = book->sale.price_cents * reservation->quantity;
  order.currency = book->sale.currency;
  order.status = OrderStatus::kPending;
  order.payment_method_id = command.payment_method_id;
  order.buyer_email = command.buyer_email;
  order.request_id = command.request_id;
  order.traceparent = command.traceparent;
  order.attempts = 0;
  order.next_attempt_at = now;
  order.created_at = now;
  order.updated_at = now;
  Put(order);
  journal_.Add(OrderCreated{order});
  sales_.AppendEvent(*book, event_type::kCheckoutRequested, order.user_id, OrderEventPayload(order),
                     now);
  result.outcome = CheckoutOutcome::kCreated;
  result.order = std::move(order);
  return result;
}

Order Orders::Settle(const Order& order, OrderStatus to, std::string failure_reason, Time now,
                     std::string_view request_id) {
  const std::string_view cause =
      request_id.empty() ? std::string_view(order.request_id) : request_id;
  FS_CHECK(IsAllowedOrderTransition(order.status, to));
  Book* book = sales_.Find(order.sku_id);
  FS_CHECK(book != nullptr);
  Reservation* reservation = reservations_.Find(order.reservation_id);
  FS_CHECK(reservation != nullptr);
  Order next = order;
  next.status = to;
  next.failure_reason = std::move(failure_reason);
  next.updated_at = now;
  Put(next);
  journal_.Add(OrderStatusChanged{order.status, next});
  const std::string payload = OrderEventPayload(next);
  switch (to) {
    case OrderStatus::kPaid:
      // The payment's audit events carry the checkout's request id: it caused them (or the
      // operator's who resolved the order).
      reservations_.Transition(*reservation, ReservationStatus::kPurchased, now, cause);
      sales_.AppendEvent(*book, event_type::kPaymentSucceeded, next.user_id, payload, now);
      sales_.AppendEvent(*book, event_type::kOrderConfirmed, next.user_id,
                         OrderNotificationPayload(next, book->sale.name), now);
      break;
    case OrderStatus::kFailed:
      sales_.AppendEvent(*book, event_type::kPaymentFailed, next.user_id, payload, now);
      sales_.AppendEvent(*book, event_type::kOrderFailed, next.user_id,
                         OrderNotificationPayload(next, book->sale.name), now);
      reservations_.Transition(*reservation, ReservationStatus::kReleased, now, cause);
      break;
    case OrderStatus::kNeedsAttention:
      sales_.AppendEvent(*book, event_type::kOrderNeedsAttention, next.user_id, payload, now);
      break;
    case OrderStatus::kPending:
      FS_CHECK(false);
  }
  return next;
}

PaymentReportResult Orders::RecordPayment(const PaymentReport& report,
                                          const RetrySchedule& schedule, Time now) {
  FS_CHECK(journal_.in_batch());
  PaymentReportResult result;
  auto it = orders_.find(report.order_id);
  if (it == orders_.end()) {
    result.outcome = PaymentReportOutcome::kOrderNotFound;
    return result;
  }
  const Order order = it->second;
  // A report for an attempt already recorded (a duplicate from a restarted worker) or for an
  // order settled meanwhile (by an operator) changes nothing.
  if (order.status != OrderStatus::kPending || report.attempt != order.attempts + 1) {
    result.outcome = PaymentReportOutcome::kStale;
    result.order = order;
    return result;
  }
  Order counted = order;
  counted.attempts = report.attempt;
  switch (report.outcome) {
    case ChargeOutcome::kSucceeded:
      result.order = Settle(counted, OrderStatus::kPaid, "", now);
      result.outcome = PaymentReportOutcome::kPaid;
      return result;
    case ChargeOutcome::kDeclined: {
      const std::string reason = report.reason.empty() ? "card_declined" : report.reason;
      result.order = Settle(counted, OrderStatus::kFailed, reason, now);
      result.outcome = PaymentReportOutcome::kFailed;
      return result;
    }
    case ChargeOutcome::kRetryable:
      break;
  }
  const RetryDecision decision =
      DecideRetry(schedule, report.attempt, now, report.order_id, report.retry_after);
  if (decision.kind == RetryDecision::Kind::kNeedsAttention) {
    const std::string reason = "payment gateway unavailable after " +
                               std::to_string(report.attempt) + " attempts: " + report.reason;
    result.order = Settle(counted, OrderStatus::kNeedsAttention, reason, now);
    result.outcome = PaymentReportOutcome::kNeedsAttention;
    return result;
  }
  Order next = counted;
  next.next_attempt_at = decision.next_attempt_at;
  next.updated_at = now;
  Put(next);
  journal_.Add(OrderRetryScheduled{next.order_id, next.attempts, next.next_attempt_at, now});
  result.outcome = PaymentReportOutcome::kRetryScheduled;
  result.order = std::move(next);
  return result;
}

ResolveResult Orders::Resolve(const std::string& order_id, ResolveChoice choice, Time now,
                              std::string_view request_id) {
  FS_CHECK(journal_.in_batch());
  ResolveResult result;
  auto it = orders_.find(order_id);
  if (it == orders_.end()) {
    result.outcome = ResolveOutcome::kOrderNotFound;
    return result;
  }
  const Order order = it->second;
  if (order.status != OrderStatus::kNeedsAttention) {
    result.outcome = ResolveOutcome::kNotNeedsAttention;
    result.order = order;
    return result;
  }
  if (choice == ResolveChoice::kPaid) {
    result.order = Settle(order, OrderStatus::kPaid, "", now, request_id);
  } else {
    result.order =
        Settle(order, OrderStatus::kFailed, "resolved as failed by an operator", now, request_id);
  }
  result.outcome = ResolveOutcome::kResolved;
  return result;
}

// --- Queries -------------------------------------------------------------------------------

const Order* Orders::Find(const std::string& order_id) const {
  auto it = orders_.find(order_id);
  return it == orders_.end() ? nullptr : &it->second;
}

std::vector<Order> Orders::Due(Time now, std::size_t count_max) const {
  // Reads only the due head of the queue: O(count_max log n), cheap on the writer thread even
  // with a large backlog behind a slow gateway.
  std::vector<Order> out;
  for (const auto& [next_attempt_at, order_id] : pending_by_due_) {
    if (next_attempt_at > now || out.size() >= count_max) break;
    out.push_back(orders_.at(order_id));
  }
  return out;
}

std::vector<Order> Orders::WithStatus(OrderStatus status, std::size_t count_max) const {
  std::vector<const Order*> found;
  for (const auto& [order_id, order] : orders_) {
    if (order.status == status) found.push_back(&order);
  }
  std::sort(found.begin(), found.end(), [](const Order* a, const Order* b) {
    return a->created_at != b->created_at ? a->created_at < b->created_at
                                          : a->order_id < b->order_id;
  });
  if (found.size() > count_max) found.resize(count_max);
  std::vector<Order> out;
  out.reserve(found.size());
  for (const Order* order : found) out.push_back(*order);
  return out;
}

void Orders::CheckInvariants() const {
  for (const auto& [order_id, order] : orders_) {
    const Reservation* reservation = reservations_.Find(order.reservation_id);
    if (reservation == nullptr) {
      FS_CHECK(IsFinal(order.status));  // its ended reservation was retired first
      continue;
    }
    const ReservationStatus status = reservation->status;
    switch (order.status) {
      case OrderStatus::kPending:
      case OrderStatus::kNeedsAttention:
        FS_CHECK(status == ReservationStatus::kCheckoutPending);
        break;
      case OrderStatus::kPaid:
        FS_CHECK(status == ReservationStatus::kPurchased);
        break;
      case OrderStatus::kFailed:
        FS_CHECK(status == ReservationStatus::kReleased);
        break;
    }
    FS_CHECK((order.status == OrderStatus::kPending) == (pending_orders_.count(order_id) == 1));
  }
  FS_CHECK(pending_by_due_.size() == pending_orders_.size());
}

}  // namespace fs::core
