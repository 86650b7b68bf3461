// AuditReader: the read side of the audit trail and of reconciliation, on its OWN read-only
// SQLite connection (WAL lets it read a consistent snapshot while the writer commits, so a
// verification or an export never blocks the writer). Used by `flashsale audit verify|export`,
// `flashsale reconcile` and the admin endpoints (which open one reader per request).
//
// Every multi-row read runs in one read transaction: one snapshot of the database.
// Thread-safety: one thread at a time per instance; open one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_source.h"
#include "base/clock.h"
#include "base/status.h"
#include "core/audit.h"
#include "store/sqlite/sqlite_handles.h"

namespace fs::audit {

class AuditReader final : public AuditRowSource {
 public:
  // Opens `path` read-only (the file must exist). kNotFound without a database,
  // kFailedPrecondition when it cannot be opened or has no audit table.
  static base::Result<std::unique_ptr<AuditReader>> Open(const std::string& path);
  ~AuditReader() override;
  AuditReader(const AuditReader&) = delete;
  AuditReader& operator=(const AuditReader&) = delete;

  // Verify, ForEachEvent and Reconcile: AuditRowSource's flows over the reads below.
  base::Result<AuditPage> Query(const AuditQuery& query) override;
  base::Result<std::optional<core::Reservation>> ReadReservation(
      const std::string& reservation_id) override;
  base::Result<std::optional<core::Order>> ReadOrder(const std::string& order_id) override;
  base::Result<std::vector<core::Order>> ReadOrdersWithStatus(core::OrderStatus status,
                                                              std::size_t count_max) override;
  base::Result<std::vector<OrderTotals>> ReadOrderTotals(
      const std::optional<std::string>& sku_id) override;

 private:
  explicit AuditReader(store::sqlite::DatabaseHandle db);
  base::Status BeginSnapshot(SnapshotUse use) override;
  void EndSnapshot() override;
  base::Status WalkEvents(const EventVisitor& on_event) override;
  base::Result<std::vector<SkuReconciliation>> ReadSales(
      const std::optional<std::string>& sku_id) override;
  base::Status Recount(SkuReconciliation& sku) override;
  base::Status CheckOrders(SkuReconciliation& sku);
  base::Result<AuditPage> QueryInSnapshot(const AuditQuery& query);
  std::optional<std::int64_t> IndexedThrough();

  store::sqlite::DatabaseHandle db_;
  bool has_index_ = false;  // the disputes index (audit_index.h) is attached as "idx"
};

// JSON renderings (pure). An event's metadata is rendered as a JSON string holding the stored
// bytes exactly, so an exported chain can be re-verified byte for byte.
std::string RenderAuditEvent(const core::AuditEvent& event);
// {"valid":true,"events":N,"head":{"event_id":..,"event_hash":..}} or, when broken,
// {"valid":false,"events":N,"broken_event_id":..,"reason":..}
std::string RenderVerifyReport(const VerifyReport& report);
// {"events":[...],"next_after_id":N|null}
std::string RenderAuditPage(const AuditPage& page);
std::string RenderSkuReconciliation(const SkuReconciliation& sku, const VerifyReport& audit);
// {"consistent":bool,"skus":[RenderSkuReconciliation of each],"audit":RenderVerifyReport}
std::string RenderReconciliationJson(const ReconciliationReport& report);
// A readable table for the CLI: one line per sale, then every mismatch.
std::string RenderReconciliationTable(const ReconciliationReport& report);

}  // namespace fs::audit
