#include "audit/sale_report.h"

#include <rapidjson/document.h>

#include <cstdio>
#include <utility>

#include "audit/audit_reader.h"
#include "core/order.h"

namespace fs::audit {
namespace {

// The attempts one throttled event stands for: 1, or the exact count of an aggregate event
// (engine/fairness_audit.h: past the per-second bound, attempts are written as counts); and
// the tier of the identities it names.
struct ThrottledAttempts {
  std::int64_t count = 1;
  std::string tier;
};

ThrottledAttempts ThrottledOf(const core::AuditEvent& event) {
  ThrottledAttempts attempts;
  rapidjson::Document metadata;
  metadata.Parse(event.metadata.data(), event.metadata.size());
  if (metadata.HasParseError() || !metadata.IsObject()) return attempts;
  const auto count = metadata.FindMember("count");
  if (count != metadata.MemberEnd() && count->value.IsInt64() && count->value.GetInt64() > 0) {
    attempts.count = count->value.GetInt64();
  }
  const auto tier = metadata.FindMember("tier");
  if (tier != metadata.MemberEnd() && tier->value.IsString()) {
    attempts.tier = tier->value.GetString();
  }
  return attempts;
}

// Part of all in percent, one decimal ("-" when there is nothing to divide by).
std::string Percent(std::int64_t part, std::int64_t all) {
  if (all == 0) return "-";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(all));
  return text;
}

std::string Fraction(std::int64_t part, std::int64_t all) {
  if (all == 0) return "null";
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", static_cast<double>(part) / static_cast<double>(all));
  return text;
}

template <typename Value, typename Render>
std::string JsonObject(const std::map<std::string, Value>& map, Render render) {
  std::string out = "{";
  for (const auto& [key, value] : map) {
    if (out.size() > 1) out += ',';
    out += core::JsonQuote(key) + ":" + render(value);
  }
  return out + "}";
}

std::string Money(std::int64_t cents) {
  char text[48];
  std::snprintf(text, sizeof(text), "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return text;
}

}  // namespace

void SaleReportTally::Add(const core::AuditEvent& event) {
  if (sku_id_ && event.sku_id != sku_id_) return;
  if (event.type == core::AuditEventType::kBotDetected) {
    ++counts_.bot_detections;
    return;
  }
  if (event.type != core::AuditEventType::kReserveAttempt) return;
  switch (event.outcome) {
    case core::AuditOutcome::kSuccess:
      ++counts_.reserve_attempts;
      ++counts_.reserve_succeeded;
      break;
    case core::AuditOutcome::kFailed:
      ++counts_.reserve_attempts;
      ++counts_.refusals_by_reason[event.failure_reason.value_or("UNKNOWN")];
      break;
    case core::AuditOutcome::kThrottled: {
      const ThrottledAttempts attempts = ThrottledOf(event);
      counts_.reserve_attempts += attempts.count;
      counts_.throttled += attempts.count;
      if (attempts.tier == "bot") counts_.throttled_bot += attempts.count;
      break;
    }
  }
}

void SaleReportTally::Finish(SaleReport& report) {
  report.sku_id = sku_id_;
  report.reserve_attempts = counts_.reserve_attempts;
  report.reserve_succeeded = counts_.reserve_succeeded;
  report.refusals_by_reason = std::move(counts_.refusals_by_reason);
  report.throttled = counts_.throttled;
  report.throttled_bot = counts_.throttled_bot;
  report.bot_detections = counts_.bot_detections;
}

void AddBooks(const ReconciliationReport& books, const std::vector<OrderTotals>& orders,
              SaleReport& report) {
  for (const SkuReconciliation& sku : books.skus) {
    report.sales.push_back({sku.sku_id, sku.total_stock, sku.counter_sold, sku.counter_held});
    report.units_sold += sku.counter_sold;
  }
  for (const OrderTotals& total : orders) {
    OrderCount& count = report.orders_by_status[std::string(core::OrderStatusName(total.status))];
    count.orders += total.orders;
    count.units += total.units;
    if (total.status == core::OrderStatus::kPaid) {
      report.revenue_cents[total.currency] += total.amount_cents;
    }
  }
  report.audit = books.audit;
}

std::string RenderSaleReportText(const SaleReport& report) {
  std::string out = "report: " + report.sku_id.value_or("every sale") + "\n\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%-24s %12s %12s %12s\n", "sku", "total", "sold", "held");
  out += line;
  for (const SaleUnits& sale : report.sales) {
    std::snprintf(line, sizeof(line), "%-24s %12lld %12lld %12lld\n", sale.sku_id.c_str(),
                  static_cast<long long>(sale.total_stock), static_cast<long long>(sale.sold),
                  static_cast<long long>(sale.held));
    out += line;
  }
  out += "\nunits sold: " + std::to_string(report.units_sold) + "\n";
  out += "orders:";
  if (report.orders_by_status.empty()) out += " none";
  for (const auto& [status, count] : report.orders_by_status) {
    out += " " + status + " " + std::to_string(count.orders);
  }
  out += "\nrevenue (paid orders):";
  if (report.revenue_cents.empty()) out += " none";
  for (const auto& [currency, cents] : report.revenue_cents) {
    out += " " + Money(cents) + " " + currency;
  }
  out += "\n\nreserve attempts: " + std::to_string(report.reserve_attempts) + ", reserved " +
         std::to_string(report.reserve_succeeded) + "\n";
  out += "refusals:";
  if (report.refusals_by_reason.empty()) out += " none";
  for (const auto& [reason, count] : report.refusals_by_reason) {
    out += " " + reason + " " + std::to_string(count);
  }
  out += "\nthrottled: " + std::to_string(report.throttled) + " (" +
         Percent(report.throttled, report.reserve_attempts) + " of attempts)\n";
  out += "bot tier: " + std::to_string(report.throttled_bot) + " throttled (" +
         Percent(report.throttled_bot, report.reserve_attempts) + " of attempts), " +
         std::to_string(report.bot_detections) + " detections\n\n";
  if (report.audit.valid) {
    out += "audit chain: valid, " + std::to_string(report.audit.events) + " events, head " +
           std::to_string(report.audit.head.event_id) + " " + report.audit.head.event_hash + "\n";
  } else {
    out += "audit chain: BROKEN at event " +
           std::to_string(report.audit.broken_event_id.value_or(0)) + ": " + report.audit.reason +
           "\n";
  }
  return out;
}

std::string RenderSaleReportJson(const SaleReport& report) {
  std::string out = "{\"sku_id\":";
  out += report.sku_id ? core::JsonQuote(*report.sku_id) : "null";
  out += ",\"sales\":[";
  for (std::size_t i = 0; i < report.sales.size(); ++i) {
    const SaleUnits& sale = report.sales[i];
    if (i > 0) out += ',';
    out += "{\"sku_id\":" + core::JsonQuote(sale.sku_id) +
           ",\"total_stock\":" + std::to_string(sale.total_stock) +
           ",\"sold\":" + std::to_string(sale.sold) + ",\"held\":" + std::to_string(sale.held) +
           "}";
  }
  out += "],\"units_sold\":" + std::to_string(report.units_sold);
  out += ",\"orders_by_status\":" + JsonObject(report.orders_by_status, [](const OrderCount& c) {
           return "{\"orders\":" + std::to_string(c.orders) +
                  ",\"units\":" + std::to_string(c.units) + "}";
         });
  const auto number = [](std::int64_t value) { return std::to_string(value); };
  out += ",\"revenue_cents\":" + JsonObject(report.revenue_cents, number);
  out += ",\"reserve_attempts\":" + std::to_string(report.reserve_attempts);
  out += ",\"reserve_succeeded\":" + std::to_string(report.reserve_succeeded);
  out += ",\"refusals_by_reason\":" + JsonObject(report.refusals_by_reason, number);
  out += ",\"throttled\":" + std::to_string(report.throttled);
  out += ",\"throttled_share\":" + Fraction(report.throttled, report.reserve_attempts);
  out += ",\"throttled_bot\":" + std::to_string(report.throttled_bot);
  out += ",\"bot_share\":" + Fraction(report.throttled_bot, report.reserve_attempts);
  out += ",\"bot_detections\":" + std::to_string(report.bot_detections);
  out += ",\"audit\":" + RenderVerifyReport(report.audit) + "}";
  return out;
}

}  // namespace fs::audit
