// The post-event report of `flashsale report`: what a sale (or every sale) sold and refused,
// computed from the system of record alone: the sales' counters, the orders summed by status,
// and one pass over the audit trail (reserve attempts and their outcomes, throttled attempts,
// bot detections). Rendered as short text or as JSON (docs/operations.md, "Post-event report").
// Thread-safety: plain values and pure functions; SaleReportTally is one thread's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_source.h"
#include "core/audit.h"

namespace fs::audit {

struct SaleUnits {
  std::string sku_id;
  std::int64_t total_stock = 0;
  std::int64_t sold = 0;  // units of PURCHASED reservations (the counters)
  std::int64_t held = 0;  // units of RESERVED and CHECKOUT_PENDING ones
};

struct OrderCount {
  std::int64_t orders = 0;
  std::int64_t units = 0;
};

struct SaleReport {
  std::optional<std::string> sku_id;                   // the one sale reported; nullopt: every sale
  std::vector<SaleUnits> sales;                        // by sku_id
  std::int64_t units_sold = 0;                         // over `sales`
  std::map<std::string, OrderCount> orders_by_status;  // "PAID" -> ...
  std::map<std::string, std::int64_t> revenue_cents;   // currency -> paid amount
  std::int64_t reserve_attempts = 0;  // decided by the writer or throttled before it
  std::int64_t reserve_succeeded = 0;
  std::map<std::string, std::int64_t> refusals_by_reason;  // writer refusals, by error code
  std::int64_t throttled = 0;      // reserve attempts refused by the rate limits
  std::int64_t throttled_bot = 0;  // of which by identities in the bot tier
  std::int64_t bot_detections = 0;
  VerifyReport audit;  // the chain's status and head
};

// Accumulates the audit events of a report, in any order.
class SaleReportTally {
 public:
  explicit SaleReportTally(std::optional<std::string> sku_id) : sku_id_(std::move(sku_id)) {}
  void Add(const core::AuditEvent& event);
  // Moves the event counts into `report`.
  void Finish(SaleReport& report);

 private:
  std::optional<std::string> sku_id_;
  SaleReport counts_;
};

// Fills `report` from the reconciliation's counters and chain status and the order totals.
void AddBooks(const ReconciliationReport& books, const std::vector<OrderTotals>& orders,
              SaleReport& report);

std::string RenderSaleReportText(const SaleReport& report);
std::string RenderSaleReportJson(const SaleReport& report);

}  // namespace fs::audit
