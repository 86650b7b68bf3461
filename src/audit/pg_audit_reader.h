// PgAuditReader: the audit trail and reconciliation reads of a cluster, on the shared
// PostgreSQL database (--store postgres://...). Same answers as the SQLite AuditReader over
// the PostgreSQL schema (store/postgres/pg_schema.cc). Each call runs in one READ ONLY
// REPEATABLE READ transaction on its own connection: one snapshot, no lock a writer waits on.
//
// Thread-safety: one thread at a time per instance; open one per request.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "audit/audit_source.h"
#include "base/status.h"

struct pg_conn;

namespace fs::audit {

class PgAuditReader final : public AuditSource {
 public:
  // Connects to `url`. kUnavailable when the server cannot be reached.
  static base::Result<std::unique_ptr<PgAuditReader>> Open(const std::string& url);
  ~PgAuditReader() override;
  PgAuditReader(const PgAuditReader&) = delete;
  PgAuditReader& operator=(const PgAuditReader&) = delete;

  base::Result<VerifyReport> Verify() override;
  base::Result<AuditPage> Query(const AuditQuery& query) override;
  // Pages of kWalkPage events inside one snapshot: memory stays bounded for any chain, and
  // the export is one consistent cut even while nodes keep appending.
  base::Status ForEachEvent(
      const std::function<base::Status(const core::AuditEvent&)>& on_event) override;
  base::Result<ReconciliationReport> Reconcile(const std::optional<std::string>& sku_id) override;

 private:
  explicit PgAuditReader(pg_conn* connection) : connection_(connection) {}
  base::Status Begin();
  void End();
  base::Result<VerifyReport> VerifyInSnapshot();
  base::Result<ReconciliationReport> ReconcileInSnapshot(const std::optional<std::string>& sku_id);
  base::Status ReconcileSku(SkuReconciliation& sku);

  pg_conn* connection_;
};

}  // namespace fs::audit
