// The engine's commands: one struct per request, each with its Result and its decision
// (command.h explains the shape). Adding a request: a struct here, its Decide (and Committed,
// if it counts something) in commands.cc, and an entry in `Commands` below.
// Thread-safety: plain values; Decide and Committed run on the writer thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/inventory.h"
#include "core/ledger.h"
#include "core/order.h"
#include "core/queue_types.h"
#include "core/waiting_room.h"
#include "engine/command.h"

namespace fs::engine {

struct CreateSale {
  using Result = core::CreateSaleResult;
  core::Sale sale;
  std::string request_id{};  // the operator request's X-Request-Id (audit metadata), or empty
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// A sale with a waiting room needs a valid queue pass, used in the batch of the reservation
// it allows (core::Ledger::Reserve).
struct Reserve {
  using Result = core::ReserveResult;
  core::ReserveCommand request;
  core::PresentedPass pass = {};
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
  void Committed(Result& result, const CommitContext& context) const;
};

struct Release {
  using Result = core::ReleaseResult;
  std::string reservation_id;
  std::string user_id;
  std::string request_id{};  // the HTTP request's X-Request-Id, or empty
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// The reservation if it exists and belongs to `user_id` (nullopt otherwise).
struct GetReservation {
  using Result = std::optional<core::Reservation>;
  std::string reservation_id;
  std::string user_id;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// Operator: open early or close (core::Ledger::SetSaleOverride).
struct SetSaleOverride {
  using Result = core::AdminSaleResult;
  std::string sku_id;
  core::SaleOverride to = core::SaleOverride::kNone;
  std::string request_id{};  // the operator request's X-Request-Id (audit metadata), or empty
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// Operator: add `delta` (may be negative) to the sale's total stock.
struct AdjustStock {
  using Result = core::AdminSaleResult;
  std::string sku_id;
  std::int64_t delta = 0;
  std::string request_id{};  // the operator request's X-Request-Id (audit metadata), or empty
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

struct UpdateSale {
  using Result = core::AdminSaleResult;
  std::string sku_id;
  core::SalePatch patch;
  std::string request_id{};  // the operator request's X-Request-Id (audit metadata), or empty
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

struct Checkout {
  using Result = core::CheckoutResult;
  core::CheckoutCommand request;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
  void Committed(Result& result, const CommitContext& context) const;
};

// The order if it exists and belongs to `user_id` (nullopt otherwise).
struct GetOrder {
  using Result = std::optional<core::Order>;
  std::string order_id;
  std::string user_id;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// The order whoever owns it (admin).
struct GetOrderAsAdmin {
  using Result = std::optional<core::Order>;
  std::string order_id;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// PENDING orders due for a gateway call now, earliest first (the payment worker's poll).
struct DueOrders {
  using Result = std::vector<core::Order>;
  std::size_t count_max = 0;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// Orders with `status`, oldest first.
struct ListOrders {
  using Result = std::vector<core::Order>;
  core::OrderStatus status = core::OrderStatus::kPending;
  std::size_t count_max = 0;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

struct RecordPayment {
  using Result = core::PaymentReportResult;
  core::PaymentReport report;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
  void Committed(Result& result, const CommitContext& context) const;
};

struct ResolveOrder {
  using Result = core::ResolveResult;
  std::string order_id;
  core::ResolveChoice choice = core::ResolveChoice::kFailed;
  std::string request_id{};  // the operator request's X-Request-Id (audit metadata), or empty
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
  void Committed(Result& result, const CommitContext& context) const;
};

// A ticket for the user in the sale's room (the existing one when the user already joined).
struct JoinQueue {
  using Result = core::JoinResult;
  std::string sku_id;
  std::string user_id;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// The ticket if it exists in the sale's room and belongs to `user_id` (nullopt otherwise).
struct GetQueueTicket {
  using Result = std::optional<core::TicketView>;
  std::string sku_id;
  std::string ticket_id;
  std::string user_id;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// For tests (Engine::CheckConsistency): memory recounted and compared with the store's own
// counters. Shared stores compare right after the batch's refresh, inside its lock; the others
// after the commit.
struct CheckConsistency {
  using Result = std::optional<base::Status>;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
  void Committed(Result& result, const CommitContext& context) const;
};

// Engine::LookupSale on a shared store: the batch's refresh brings a sale another node created
// into memory (and publishes it) before this decides. True when the sale is known now.
struct LookupSale {
  using Result = bool;
  std::string sku_id;
  Result Decide(core::Ledger& ledger, const DecideContext& context) const;
};

// Every command the engine takes. Append new ones anywhere: nothing persists the order.
using Commands =
    CommandList<CreateSale, Reserve, Release, GetReservation, SetSaleOverride, AdjustStock,
                Checkout, GetOrder, GetOrderAsAdmin, DueOrders, ListOrders, RecordPayment,
                ResolveOrder, JoinQueue, GetQueueTicket, CheckConsistency, LookupSale, UpdateSale>;

}  // namespace fs::engine
