#include "audit/audit_source.h"

#include <algorithm>
#include <utility>

#include "audit/audit_reader.h"
#include "audit/pg_audit_reader.h"
#include "crypto/sha256.h"
#include "store/audit_event_names.h"

namespace fs::audit {

base::Result<std::unique_ptr<AuditSource>> OpenAuditSource(const std::string& database_path,
                                                           const std::string& store_url) {
  if (!store_url.empty()) {
    auto reader = PgAuditReader::Open(store_url);
    if (!reader) return reader.error();
    return std::unique_ptr<AuditSource>(std::move(*reader));
  }
  if (database_path.empty()) return base::Unavailable("no database path");
  auto reader = AuditReader::Open(database_path);
  if (!reader) return reader.error();
  return std::unique_ptr<AuditSource>(std::move(*reader));
}

std::string DecodeEventNames(const std::string& type, const std::string& outcome,
                             core::AuditEvent& event) {
  return store::DecodeAuditEventNames(type, outcome, event);
}

ChainWalk::ChainWalk() : verifier_(&crypto::Sha256Hex) {}

bool ChainWalk::Next(const core::AuditEvent& event, const std::string& unknown_name) {
  if (unknown_.has_value()) return false;
  if (!verifier_.Next(event)) return false;
  if (!unknown_name.empty()) {
    // A name this binary does not know cannot be re-encoded: the event is reported broken.
    VerifyReport report;
    report.valid = false;
    report.events = verifier_.events() - 1;
    report.broken_event_id = event.event_id;
    report.reason = "unknown " + unknown_name;
    unknown_ = std::move(report);
    return false;
  }
  return true;
}

VerifyReport ChainWalk::Report() const {
  if (unknown_.has_value()) return *unknown_;
  VerifyReport report;
  report.valid = verifier_.valid();
  report.events = verifier_.events();
  report.head = verifier_.head();
  report.broken_event_id = verifier_.broken_event_id();
  report.reason = verifier_.reason();
  return report;
}

SkuReconciliation FromCounters(store::StoredCounters counters) {
  SkuReconciliation sku;
  sku.sku_id = std::move(counters.sku_id);
  sku.total_stock = counters.total_stock;
  sku.counter_held = counters.held;
  sku.counter_sold = counters.sold;
  return sku;
}

void JudgeSku(SkuReconciliation& sku) {
  sku.oversell = std::max<std::int64_t>({0, sku.counter_held + sku.counter_sold - sku.total_stock,
                                         sku.rows_held + sku.rows_sold - sku.total_stock});
  auto differs = [&](const char* what, std::int64_t counter, std::int64_t rows_value) {
    if (counter == rows_value) return;
    sku.mismatches.push_back(std::string(what) + ": counter " + std::to_string(counter) +
                             ", rows " + std::to_string(rows_value));
  };
  differs("held", sku.counter_held, sku.rows_held);
  differs("sold", sku.counter_sold, sku.rows_sold);
  if (sku.user_units_mismatches > 0) {
    sku.mismatches.push_back("user_units: " + std::to_string(sku.user_units_mismatches) +
                             " users' counts differ from their reservations");
  }
  if (sku.oversell > 0) {
    sku.mismatches.push_back("oversell: " + std::to_string(sku.oversell) +
                             " units held or sold beyond total_stock " +
                             std::to_string(sku.total_stock));
  }
  if (sku.orders_table && !sku.orders_checked && !sku.orders_note.empty()) {
    sku.mismatches.push_back(sku.orders_note);  // the orders table was not understood
  }
  if (sku.orders_checked && sku.paid_order_units != sku.rows_sold) {
    sku.mismatches.push_back("paid orders: " + std::to_string(sku.paid_order_units) +
                             " units, sold rows " + std::to_string(sku.rows_sold));
  }
}

// --- The flows, once for every backend ------------------------------------------------------

base::Result<VerifyReport> AuditRowSource::Verify() {
  FS_RETURN_IF_ERROR(BeginSnapshot(SnapshotUse::kCheck));
  auto report = VerifyInSnapshot();
  EndSnapshot();
  return report;
}

base::Result<VerifyReport> AuditRowSource::VerifyInSnapshot() {
  ChainWalk walk;
  FS_RETURN_IF_ERROR(
      WalkEvents([&](const core::AuditEvent& event, const std::string& unknown_name) {
        return walk.Next(event, unknown_name) ? WalkStep::kContinue : WalkStep::kStop;
      }));
  return walk.Report();
}

base::Status AuditRowSource::ForEachEvent(
    const std::function<base::Status(const core::AuditEvent&)>& on_event) {
  FS_RETURN_IF_ERROR(BeginSnapshot(SnapshotUse::kExport));
  base::Status failure = base::Status::Ok();
  base::Status status = WalkEvents([&](const core::AuditEvent& event, const std::string&) {
    failure = on_event(event);
    return failure.ok() ? WalkStep::kContinue : WalkStep::kStop;
  });
  EndSnapshot();
  if (!status.ok()) return status;
  return failure;
}

base::Result<ReconciliationReport> AuditRowSource::Reconcile(
    const std::optional<std::string>& sku_id) {
  FS_RETURN_IF_ERROR(BeginSnapshot(SnapshotUse::kCheck));
  auto report = ReconcileInSnapshot(sku_id);
  EndSnapshot();
  return report;
}

base::Result<ReconciliationReport> AuditRowSource::ReconcileInSnapshot(
    const std::optional<std::string>& sku_id) {
  ReconciliationReport report;
  auto sales = ReadSales(sku_id);
  if (!sales) return sales.error();
  report.skus = std::move(*sales);
  if (sku_id && report.skus.empty()) return base::NotFound("no sale " + *sku_id);
  for (SkuReconciliation& sku : report.skus) {
    FS_RETURN_IF_ERROR(Recount(sku));
    JudgeSku(sku);
  }
  auto audit = VerifyInSnapshot();
  if (!audit) return audit.error();
  report.audit = std::move(*audit);
  return report;
}

}  // namespace fs::audit
