// Orders: the ledger's part that holds every order and the queue of PENDING orders due for a
// gateway call, and decides checkout and the payment saga's transitions. An order moves its
// reservation (CHECKOUT_PENDING, then PURCHASED or RELEASED) in the same batch.
// Depends on: the journal, sales and reservations. Thread-safety: none; owned with its ledger
// by one thread.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/inventory.h"
#include "core/journal.h"
#include "core/order.h"
#include "core/reservations.h"
#include "core/sales.h"

namespace fs::core {

class Orders {
 public:
  Orders(Journal& journal, Sales& sales, Reservations& reservations)
      : journal_(journal), sales_(sales), reservations_(reservations) {}
  Orders(const Orders&) = delete;
  Orders& operator=(const Orders&) = delete;

  // --- Recovery and shared-store refresh (outside any batch) -------------------------------
  // REQUIRES: the order's sale and reservation are known.
  void Load(const Order& order);
  void Sync(const Order& order);

  // --- Decisions (REQUIRES: inside a batch) -------------------------------------------------
  // Creates a PENDING order for a RESERVED, unexpired reservation of the caller and moves the
  // reservation to CHECKOUT_PENDING (it no longer expires). An expired one is expired now. A
  // repeated key is replayed or refused.
  CheckoutResult Checkout(const CheckoutCommand& command, const std::string& order_id, Time now);
  // Applies a gateway answer to a PENDING order: PAID (reservation PURCHASED), FAILED
  // (reservation RELEASED), a later retry per `schedule`, or NEEDS_ATTENTION.
  PaymentReportResult RecordPayment(const PaymentReport& report, const RetrySchedule& schedule,
                                    Time now);
  // Settles a NEEDS_ATTENTION order by an operator's decision.
  // `request_id`: the operator request's X-Request-Id; the settled order's audit events carry
  // it (the checkout's when empty).
  ResolveResult Resolve(const std::string& order_id, ResolveChoice choice, Time now,
                        std::string_view request_id);

  // --- Queries ------------------------------------------------------------------------------
  const Order* Find(const std::string& order_id) const;
  // PENDING orders with next_attempt_at <= now, earliest first, at most `count_max`.
  std::vector<Order> Due(Time now, std::size_t count_max) const;
  // Orders with `status`, oldest first, at most `count_max`.
  std::vector<Order> WithStatus(OrderStatus status, std::size_t count_max) const;
  // FS_CHECKs that every order's reservation is in the state its order implies and that the
  // due queue holds exactly the PENDING orders.
  void CheckInvariants() const;
  // Forgets the orders that became final (PAID, FAILED) since the last call (reads of one go
  // to the store). Outside any batch, after a commit or a sync.
  std::size_t RetireFinal();

 private:
  static void Undo(void* self, undo::Change& change);
  // Records undo for `next`'s order (by id), then replaces or inserts it.
  void Put(Order next);
  void SetPending(const std::string& order_id, std::optional<Time> next_attempt_at);
  // Moves an order to `to` with its reservation and writes the order's events. The audit
  // events name `request_id` as their cause, empty: the checkout's.
  Order Settle(const Order& order, OrderStatus to, std::string failure_reason, Time now,
               std::string_view request_id = {});

  Journal& journal_;
  Sales& sales_;
  Reservations& reservations_;
  std::unordered_map<std::string, Order> orders_;
  std::vector<std::string> final_;  // became final since the last RetireFinal
  // PENDING orders: id -> next_attempt_at, and the same ordered by due time (the payment
  // worker's durable queue; Due() reads only the due head).
  std::map<std::string, Time> pending_orders_;
  std::set<std::pair<Time, std::string>> pending_by_due_;
};

}  // namespace fs::core
