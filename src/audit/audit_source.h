// AuditSource: the reads behind the audit and reconciliation endpoints, whatever the system
// of record: AuditReader reads the SQLite file, PgAuditReader the cluster's PostgreSQL
// database. Both answer each call from one snapshot and never block the writer.
// AuditRowSource writes the verify, export and reconcile flows once over the few reads a
// backend provides; the pieces of those flows (walking the chain, judging one sale's books)
// are here too.
//
// Thread-safety: one thread at a time per instance; open one per thread (or per request).
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
#include "core/order.h"
#include "core/types.h"
#include "store/store.h"

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

// Orders of one sale, status and currency, summed (the post-event report).
struct OrderTotals {
  std::string sku_id;
  core::OrderStatus status = core::OrderStatus::kPending;
  std::string currency;
  std::int64_t orders = 0;
  std::int64_t units = 0;         // sum of quantity
  std::int64_t amount_cents = 0;  // sum of amount_cents
};

struct ReconciliationReport {
  std::vector<SkuReconciliation> skus;
  VerifyReport audit;
  // True when no sale has a mismatch, nothing is oversold and the audit chain is valid.
  bool consistent() const;
};

class AuditSource {
 public:
  virtual ~AuditSource() = default;
  // Walks the whole chain in id order, recomputing each hash.
  virtual base::Result<VerifyReport> Verify() = 0;
  virtual base::Result<AuditPage> Query(const AuditQuery& query) = 0;
  // Calls `on_event` for every event in id order, all from one snapshot (for export), with
  // bounded memory whatever the chain's length. Stops at the first error, of the read or of
  // `on_event`, and returns it. An event whose type or outcome name this binary does not know
  // is passed with the decoder's default in its place (Verify reports such an event broken).
  virtual base::Status ForEachEvent(
      const std::function<base::Status(const core::AuditEvent&)>& on_event) = 0;
  // One sale (kNotFound when unknown) or every sale, plus the chain's status.
  virtual base::Result<ReconciliationReport> Reconcile(
      const std::optional<std::string>& sku_id) = 0;

  // Records the writer no longer keeps (it forgets ended reservations and final orders:
  // docs/operations.md, "Sizing"), read here instead of on the writer. Ended records never
  // change again, so a read beside the writer is as good as the writer's.
  virtual base::Result<std::optional<core::Reservation>> ReadReservation(
      const std::string& reservation_id) = 0;
  virtual base::Result<std::optional<core::Order>> ReadOrder(const std::string& order_id) = 0;
  // Orders with `status`, oldest first, at most `count_max`.
  virtual base::Result<std::vector<core::Order>> ReadOrdersWithStatus(core::OrderStatus status,
                                                                      std::size_t count_max) = 0;
  // Every order summed by sale, status and currency, of one sale or all (one row per group,
  // by sku_id, status, currency); empty when the database has no orders table yet.
  virtual base::Result<std::vector<OrderTotals>> ReadOrderTotals(
      const std::optional<std::string>& sku_id) = 0;
};

// The verify, export and reconcile flows written once, over the reads each backend provides.
// A backend implements the protected primitives; every flow runs them inside one snapshot
// (BeginSnapshot .. EndSnapshot).
class AuditRowSource : public AuditSource {
 public:
  base::Result<VerifyReport> Verify() final;
  base::Status ForEachEvent(
      const std::function<base::Status(const core::AuditEvent&)>& on_event) final;
  base::Result<ReconciliationReport> Reconcile(const std::optional<std::string>& sku_id) final;

 protected:
  // kExport: the snapshot may stay open while a slow consumer writes the events out.
  enum class SnapshotUse : std::uint8_t { kCheck, kExport };
  // Opens one consistent read snapshot; on error none is open.
  virtual base::Status BeginSnapshot(SnapshotUse use) = 0;
  // Ends the snapshot (nothing was written: a failure to end it loses nothing).
  virtual void EndSnapshot() = 0;
  // What WalkEvents' callback answers.
  enum class WalkStep : std::uint8_t { kContinue, kStop };
  using EventVisitor =
      std::function<WalkStep(const core::AuditEvent& event, const std::string& unknown_name)>;
  // Calls `on_event` for every event in id order until it answers kStop; `unknown_name` as
  // DecodeEventNames. Bounded memory whatever the chain's length.
  virtual base::Status WalkEvents(const EventVisitor& on_event) = 0;
  // One sale (none when unknown) or every sale by sku_id, with sku_id, total_stock and the
  // counters (counter_held, counter_sold) set.
  virtual base::Result<std::vector<SkuReconciliation>> ReadSales(
      const std::optional<std::string>& sku_id) = 0;
  // Sets the recounts of `sku` from its rows: reservation_rows, rows_held, rows_sold,
  // user_units_mismatches and the orders fields.
  virtual base::Status Recount(SkuReconciliation& sku) = 0;

 private:
  base::Result<VerifyReport> VerifyInSnapshot();
  base::Result<ReconciliationReport> ReconcileInSnapshot(const std::optional<std::string>& sku_id);
};

// Opens the source of a node: PostgreSQL when `store_url` is set, else the SQLite file at
// `database_path`. kUnavailable when neither is given.
base::Result<std::unique_ptr<AuditSource>> OpenAuditSource(const std::string& database_path,
                                                           const std::string& store_url);

// Sets event.type and event.outcome from their stored names. Returns what was not known
// (e.g. "event_type 'x'"), empty when both are: such an event cannot be re-encoded.
std::string DecodeEventNames(const std::string& type, const std::string& outcome,
                             core::AuditEvent& event);

// The chain walk shared by the readers: feed events in id order until Next() says stop.
class ChainWalk {
 public:
  ChainWalk();
  // False when the walk must stop (the chain is broken or the event is not understood).
  bool Next(const core::AuditEvent& event, const std::string& unknown_name);
  VerifyReport Report() const;

 private:
  core::AuditChainVerifier verifier_;
  std::optional<VerifyReport> unknown_;
};

// A sale's books as far as its counters go (the recounts still zero).
SkuReconciliation FromCounters(store::StoredCounters counters);

// From the counters and recounts already in `sku`: oversell and every mismatch, in words.
// `paid_order_units` is compared when sku.orders_checked.
void JudgeSku(SkuReconciliation& sku);

}  // namespace fs::audit
