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

struct sqlite3;

namespace fs::audit {

class AuditReader final : public AuditSource {
 public:
  // Opens `path` read-only (the file must exist). kNotFound without a database,
  // kFailedPrecondition when it cannot be opened or has no audit table.
  static base::Result<std::unique_ptr<AuditReader>> Open(const std::string& path);
  ~AuditReader() override;
  AuditReader(const AuditReader&) = delete;
  AuditReader& operator=(const AuditReader&) = delete;

  // Walks the whole chain in id order, recomputing each hash.
  base::Result<VerifyReport> Verify() override;
  base::Result<AuditPage> Query(const AuditQuery& query) override;
  // Calls `on_event` for every event in id order (for export); stops at the first error.
  base::Status ForEachEvent(
      const std::function<base::Status(const core::AuditEvent&)>& on_event) override;
  // One sale (kNotFound when unknown) or every sale, plus the chain's status.
  base::Result<ReconciliationReport> Reconcile(const std::optional<std::string>& sku_id) override;

 private:
  explicit AuditReader(sqlite3* db) : db_(db) {}
  base::Status Exec(const char* sql);
  base::Result<VerifyReport> VerifyInSnapshot();
  base::Result<AuditPage> QueryInSnapshot(const AuditQuery& query);
  std::optional<std::int64_t> IndexedThrough();
  base::Result<ReconciliationReport> ReconcileInSnapshot(const std::optional<std::string>& sku_id);
  base::Status ReconcileSku(SkuReconciliation& sku);
  base::Status CheckOrders(SkuReconciliation& sku);

  sqlite3* db_;
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
// A readable table for the CLI: one line per sale, then every mismatch.
std::string RenderReconciliationTable(const ReconciliationReport& report);

}  // namespace fs::audit
