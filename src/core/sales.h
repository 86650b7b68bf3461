// Sales: the ledger's part that holds every sale with its stock counters, the units each user
// holds or bought, and the SKU's outbox sequence, and guards them: held + sold never exceed
// the stock and no user passes the per-user limit (FS_CHECK on every change). Operator
// actions (create, open/close, stock) are decided here.
// Depends on: the journal and the audit chain. Thread-safety: none; owned with its ledger by
// one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/audit_chain.h"
#include "core/inventory.h"
#include "core/journal.h"
#include "core/types.h"

namespace fs::core {

// One sale and what is committed against it.
struct Book {
  Sale sale;
  StockCounters counters;
  std::unordered_map<std::string, std::int32_t> user_units;
  std::int64_t event_sequence = 0;  // the SKU's last outbox sequence number
};

class Sales {
 public:
  Sales(Journal& journal, AuditChain& audit) : journal_(journal), audit_(audit) {}
  Sales(const Sales&) = delete;
  Sales& operator=(const Sales&) = delete;

  // --- Recovery and shared-store refresh (outside any batch) -------------------------------
  void Load(const Sale& sale);
  // REQUIRES: the sale was loaded.
  void LoadEventSequence(const std::string& sku_id, std::int64_t sequence);
  // The stored row of a sale, new or changed by another writer.
  void Sync(const Sale& sale);
  void SyncEventSequence(const std::string& sku_id, std::int64_t sequence);

  // --- Decisions (REQUIRES: inside a batch) -------------------------------------------------
  // The admin actions' `request_id`: the operator request's X-Request-Id, put in the audit
  // metadata when not empty.
  CreateSaleResult Create(Sale sale, Time now, std::string_view request_id);
  AdminSaleResult SetOverride(const std::string& sku_id, SaleOverride to, Time now,
                              std::string_view request_id);
  AdminSaleResult AdjustStock(const std::string& sku_id, std::int64_t delta, Time now,
                              std::string_view request_id);
  // Applies `patch` (the fields it sets); audited (SALE_UPDATED, with the fields changed) and
  // told to the outbox (sale.updated) even when nothing changed, like every admin action.
  AdminSaleResult UpdateDetails(const std::string& sku_id, const SalePatch& patch, Time now,
                                std::string_view request_id);

  // --- Guarded changes for the other parts (REQUIRES: inside a batch) ------------------------
  // FS_CHECKs held >= 0, sold >= 0 and available >= 0.
  void SetCounters(Book& book, StockCounters counters);
  // FS_CHECKs 0 <= units <= per_user_limit.
  void AddUserUnits(Book& book, const std::string& user_id, std::int32_t delta);
  // Adds an outbox event for the book's SKU with the next sequence number.
  void AppendEvent(Book& book, std::string_view type, const std::string& user_id,
                   std::string payload_json, Time now);

  // --- Queries ------------------------------------------------------------------------------
  Book* Find(const std::string& sku_id);
  const Book* Find(const std::string& sku_id) const;
  const std::map<std::string, Book>& books() const { return books_; }

 private:
  static void Undo(void* self, undo::Change& change);

  Journal& journal_;
  AuditChain& audit_;
  std::map<std::string, Book> books_;
};

}  // namespace fs::core
