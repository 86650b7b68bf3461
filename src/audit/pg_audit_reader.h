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
#include <vector>

#include "audit/audit_source.h"
#include "base/status.h"

struct pg_conn;

namespace fs::audit {

class PgAuditReader final : public AuditRowSource {
 public:
  // Connects to `url`. kUnavailable when the server cannot be reached.
  static base::Result<std::unique_ptr<PgAuditReader>> Open(const std::string& url);
  ~PgAuditReader() override;
  PgAuditReader(const PgAuditReader&) = delete;
  PgAuditReader& operator=(const PgAuditReader&) = delete;

  // Verify, ForEachEvent and Reconcile: AuditRowSource's flows over the reads below. The walk
  // reads pages of kWalkPage events inside one snapshot: memory stays bounded for any chain,
  // and an export is one consistent cut even while nodes keep appending.
  base::Result<AuditPage> Query(const AuditQuery& query) override;
  base::Result<std::optional<core::Reservation>> ReadReservation(
      const std::string& reservation_id) override;
  base::Result<std::optional<core::Order>> ReadOrder(const std::string& order_id) override;
  base::Result<std::vector<core::Order>> ReadOrdersWithStatus(core::OrderStatus status,
                                                              std::size_t count_max) override;
  base::Result<std::vector<OrderTotals>> ReadOrderTotals(
      const std::optional<std::string>& sku_id) override;

 private:
  explicit PgAuditReader(pg_conn* connection) : connection_(connection) {}
  base::Status BeginSnapshot(SnapshotUse use) override;
  void EndSnapshot() override;
  base::Status WalkEvents(const EventVisitor& on_event) override;
  base::Result<std::vector<SkuReconciliation>> ReadSales(
      const std::optional<std::string>& sku_id) override;
  base::Status Recount(SkuReconciliation& sku) override;

  pg_conn* connection_;
};

}  // namespace fs::audit
