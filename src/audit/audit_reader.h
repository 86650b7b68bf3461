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

#include "base/clock.h"
#include "base/status.h"
#include "core/audit.h"

struct sqlite3;

namespace fs::audit {

struct VerifyReport {
  bool valid = true;
  std::int64_t events = 0;                      // events that verified (all of them when valid)
  core::AuditHead head;                         // the last verified event
  std::optional<std::int64_t> broken_event_id;  // the first stored event that does not fit
  std::string reason;
};

// Page size bounds of the disputes query: enough for one user's whole sale history in a few
// pages, small enough that one answer stays well under a megabyte.
inline constexpr int kAuditPageDefault = 100;
inline constexpr int kAuditPageMax = 1000;

struct AuditQuery {
  std::optional<std::string> user_id;
  std::optional<std::string> sku_id;
  std::optional<base::Time> from;  // occurred_at >= from
  std::optional<base::Time> to;    // occurred_at < to
  std::int64_t after_id = 0;       // cursor: only events with event_id > after_id
  int limit = kAuditPageDefault;   // 1..kAuditPageMax
};

struct AuditPage {
  std::vector<core::AuditEvent> events;       // ascending event_id
  std::optional<std::int64_t> next_after_id;  // set when more events may match
};

// One sale's books: the counters the database keeps against the rows recounted.
struct SkuReconciliation {
  std::string sku_id;
  std::int64_t total_stock = 0;
  std::int64_t counter_held = 0;  // skus.held (trigger-kept)
  std::int64_t counter_sold = 0;  // skus.sold
  std::int64_t rows_held = 0;     // units in RESERVED / CHECKOUT_PENDING rows
  std::int64_t rows_sold = 0;     // units in PURCHASED rows
  std::int64_t reservation_rows = 0;
  std::int64_t user_units_mismatches = 0;  // (sku, user) pairs whose user_units row is off
  std::int64_t oversell = 0;  // max(0, held + sold - total) over both counts; must be 0
  // Paid orders against sold units, when the database has an `orders` table.
  bool orders_table = false;
  bool orders_checked = false;
  std::int64_t paid_order_units = 0;
  std::string orders_note;
  std::vector<std::string> mismatches;  // every difference found, in words
};

struct ReconciliationReport {
  std::vector<SkuReconciliation> skus;
  VerifyReport audit;
  // True when no sale has a mismatch, nothing is oversold and the audit chain is valid.
  bool consistent() const;
};

class AuditReader {
 public:
  // Opens `path` read-only (the file must exist). kNotFound without a database,
  // kFailedPrecondition when it cannot be opened or has no audit table.
  static base::Result<std::unique_ptr<AuditReader>> Open(const std::string& path);
  ~AuditReader();
  AuditReader(const AuditReader&) = delete;
  AuditReader& operator=(const AuditReader&) = delete;

  // Walks the whole chain in id order, recomputing each hash.
  base::Result<VerifyReport> Verify();
  base::Result<AuditPage> Query(const AuditQuery& query);
  // Calls `on_event` for every event in id order (for export); stops at the first error.
  base::Status ForEachEvent(const std::function<base::Status(const core::AuditEvent&)>& on_event);
  // One sale (kNotFound when unknown) or every sale, plus the chain's status.
  base::Result<ReconciliationReport> Reconcile(const std::optional<std::string>& sku_id);

 private:
  explicit AuditReader(sqlite3* db) : db_(db) {}
  base::Status Exec(const char* sql);
  base::Result<VerifyReport> VerifyInSnapshot();
  base::Result<ReconciliationReport> ReconcileInSnapshot(const std::optional<std::string>& sku_id);
  base::Status ReconcileSku(SkuReconciliation& sku);
  base::Status CheckOrders(SkuReconciliation& sku);

  sqlite3* db_;
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
