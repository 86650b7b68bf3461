#include "core/sales.h"

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "base/check.h"
#include "core/order.h"
#include "core/rules.h"

namespace fs::core {
namespace {

// An admin action's metadata starts with the operator request's id, when it had one.
AuditMetadata AdminMetadata(std::string_view request_id) {
  AuditMetadata metadata;
  if (!request_id.empty()) metadata.Add("request_id", request_id);
  return metadata;
}

}  // namespace

// --- Recovery and shared-store refresh -----------------------------------------------------

void Sales::Load(const Sale& sale) {
  FS_CHECK(!journal_.in_batch());
  Book book;
  book.sale = sale;
  book.counters.total = sale.total_stock;
  const bool inserted = books_.emplace(sale.sku_id, std::move(book)).second;
  FS_CHECK(inserted);
}

void Sales::LoadEventSequence(const std::string& sku_id, std::int64_t sequence) {
  FS_CHECK(!journal_.in_batch());
  Book* book = Find(sku_id);
  FS_CHECK(book != nullptr);
  FS_CHECK(sequence >= 0);
  book->event_sequence = sequence;
}

void Sales::Sync(const Sale& sale) {
  FS_CHECK(!journal_.in_batch());
  Book* book = Find(sale.sku_id);
  if (book == nullptr) return Load(sale);
  book->sale = sale;
  book->counters.total = sale.total_stock;
}

void Sales::SyncEventSequence(const std::string& sku_id, std::int64_t sequence) {
  FS_CHECK(!journal_.in_batch());
  Book* book = Find(sku_id);
  FS_CHECK(book != nullptr);
  book->event_sequence = std::max(book->event_sequence, sequence);
}

// --- Guarded changes -----------------------------------------------------------------------

void Sales::SetCounters(Book& book, StockCounters counters) {
  journal_.Record(this, &Sales::Undo, undo::Counters{book.sale.sku_id, book.counters});
  // The writer's guard against oversell: held + sold never exceed the stock.
  FS_CHECK(counters.held >= 0);
  FS_CHECK(counters.sold >= 0);
  FS_CHECK(counters.available() >= 0);
  book.counters = counters;
  journal_.Touch(book.sale.sku_id);
}

void Sales::AddUserUnits(Book& book, const std::string& user_id, std::int32_t delta) {
  auto it = book.user_units.find(user_id);
  const std::int32_t previous = it == book.user_units.end() ? 0 : it->second;
  journal_.Record(this, &Sales::Undo, undo::UserUnits{book.sale.sku_id, user_id, previous});
  const std::int32_t next = previous + delta;
  FS_CHECK(next >= 0);
  FS_CHECK(next <= book.sale.per_user_limit);
  if (next == 0) {
    book.user_units.erase(user_id);
  } else {
    book.user_units[user_id] = next;
  }
}

void Sales::AppendEvent(Book& book, std::string_view type, const std::string& user_id,
                        std::string payload_json, Time now) {
  journal_.Record(this, &Sales::Undo, undo::EventSequence{book.sale.sku_id, book.event_sequence});
  ++book.event_sequence;
  OutboxEvent event;
  event.event_id = book.sale.sku_id + ":" + std::to_string(book.event_sequence);
  event.type = std::string(type);
  event.sku_id = book.sale.sku_id;
  event.user_id = user_id;
  event.sequence = book.event_sequence;
  event.occurred_at = now;
  event.payload_json = std::move(payload_json);
  journal_.Add(EventAppended{std::move(event)});
}

void Sales::Undo(void* self, undo::Change& change) {
  auto& sales = *static_cast<Sales*>(self);
  if (auto* created = std::get_if<undo::SaleCreated>(&change)) {
    sales.books_.erase(created->sku_id);
    return;
  }
  if (auto* changed = std::get_if<undo::SaleChanged>(&change)) {
    Book* book = sales.Find(changed->previous.sku_id);
    FS_CHECK(book != nullptr);
    book->sale = std::move(changed->previous);
    return;
  }
  if (auto* counters = std::get_if<undo::Counters>(&change)) {
    Book* book = sales.Find(counters->sku_id);
    FS_CHECK(book != nullptr);
    book->counters = counters->previous;
    return;
  }
  if (auto* units = std::get_if<undo::UserUnits>(&change)) {
    Book* book = sales.Find(units->sku_id);
    FS_CHECK(book != nullptr);
    if (units->previous == 0) {
      book->user_units.erase(units->user_id);
    } else {
      book->user_units[units->user_id] = units->previous;
    }
    return;
  }
  auto& sequence = std::get<undo::EventSequence>(change);
  Book* book = sales.Find(sequence.sku_id);
  FS_CHECK(book != nullptr);
  book->event_sequence = sequence.previous;
}

// --- Decisions -----------------------------------------------------------------------------

CreateSaleResult Sales::Create(Sale sale, Time now, std::string_view request_id) {
  FS_CHECK(journal_.in_batch());
  CreateSaleResult result;
  result.invalid_reason = ValidateSale(sale);
  if (!result.invalid_reason.empty()) {
    result.outcome = CreateSaleOutcome::kInvalid;
    return result;
  }
  if (const Book* existing = Find(sale.sku_id)) {
    result.outcome = CreateSaleOutcome::kAlreadyExists;
    result.sale = existing->sale;
    return result;
  }
  sale.created_at = now;
  Book book;
  book.sale = sale;
  book.counters.total = sale.total_stock;
  books_.emplace(sale.sku_id, std::move(book));
  journal_.Record(this, &Sales::Undo, undo::SaleCreated{sale.sku_id});
  journal_.Touch(sale.sku_id);
  journal_.Add(SaleCreated{sale});
  if (audit_.enabled()) {
    AuditEvent event;
    event.type = AuditEventType::kSaleCreated;
    event.sku_id = sale.sku_id;
    event.occurred_at = now;
    event.metadata = AdminMetadata(request_id)
                         .Add("total_stock", sale.total_stock)
                         .Add("per_user_limit", sale.per_user_limit)
                         .Add("price_cents", sale.price_cents)
                         .Add("currency", sale.currency)
                         .Build();
    audit_.Append(std::move(event));
  }
  result.outcome = CreateSaleOutcome::kCreated;
  result.sale = std::move(sale);
  return result;
}

AdminSaleResult Sales::SetOverride(const std::string& sku_id, SaleOverride to, Time now,
                                   std::string_view request_id) {
  FS_CHECK(journal_.in_batch());
  AdminSaleResult result;
  Book* book = Find(sku_id);
  if (book == nullptr) return result;  // kSkuNotFound
  const SaleOverride from = book->sale.override_state;
  if (from != to) {
    journal_.Record(this, &Sales::Undo, undo::SaleChanged{book->sale});
    book->sale.override_state = to;
    journal_.Touch(sku_id);
    journal_.Add(SaleOverrideChanged{sku_id, from, to});
  }
  if (audit_.enabled()) {
    // Every admin action is recorded, a repeated one too: it is still a decision someone made.
    AuditEvent event;
    event.type =
        to == SaleOverride::kClosed ? AuditEventType::kSaleClosed : AuditEventType::kSaleOpened;
    event.sku_id = sku_id;
    event.occurred_at = now;
    event.metadata = AdminMetadata(request_id)
                         .Add("override_from", static_cast<std::int64_t>(from))
                         .Add("override_to", static_cast<std::int64_t>(to))
                         .Build();
    audit_.Append(std::move(event));
  }
  result.outcome = AdminSaleOutcome::kChanged;
  result.sale = book->sale;
  result.counters = book->counters;
  return result;
}

AdminSaleResult Sales::UpdateDetails(const std::string& sku_id, const SalePatch& patch, Time now,
                                     std::string_view request_id) {
  FS_CHECK(journal_.in_batch());
  AdminSaleResult result;
  Book* book = Find(sku_id);
  if (book == nullptr) return result;  // kSkuNotFound
  Sale next = book->sale;
  std::vector<std::string_view> changed;
  const auto set = [&changed](std::string_view field, std::string& target,
                              const std::optional<std::string>& value) {
    if (value && *value != target) {
      target = *value;
      changed.push_back(field);
    }
  };
  set("name", next.name, patch.name);
  set("description", next.details.description, patch.description);
  set("image_url", next.details.image_url, patch.image_url);
  set("category", next.details.category, patch.category);
  if (patch.tags && *patch.tags != next.details.tags) {
    next.details.tags = *patch.tags;
    changed.push_back("tags");
  }
  if (!ValidateSaleName(next.name).empty() || !ValidateSaleDetails(next.details).empty()) {
    result.outcome = AdminSaleOutcome::kInvalidDetails;
    return result;
  }
  std::string fields;
  for (const std::string_view field : changed) {
    if (!fields.empty()) fields += ',';
    fields += field;
  }
  if (!changed.empty()) {
    journal_.Record(this, &Sales::Undo, undo::SaleChanged{book->sale});
    book->sale.name = next.name;
    book->sale.details = next.details;
    journal_.Touch(sku_id);
    journal_.Add(SaleDetailsChanged{sku_id, next.name, next.details});
  }
  if (audit_.enabled()) {
    AuditEvent event;
    event.type = AuditEventType::kSaleUpdated;
    event.sku_id = sku_id;
    event.occurred_at = now;
    event.metadata = AdminMetadata(request_id).Add("fields", fields).Build();
    audit_.Append(std::move(event));
  }
  AppendEvent(*book, event_type::kSaleUpdated, "",
              "{\"sku_id\":" + JsonString(sku_id) + ",\"fields\":" + JsonString(fields) + "}", now);
  result.outcome = AdminSaleOutcome::kChanged;
  result.sale = book->sale;
  result.counters = book->counters;
  return result;
}

AdminSaleResult Sales::AdjustStock(const std::string& sku_id, std::int64_t delta, Time now,
                                   std::string_view request_id) {
  FS_CHECK(journal_.in_batch());
  AdminSaleResult result;
  Book* book = Find(sku_id);
  if (book == nullptr) return result;  // kSkuNotFound
  const std::int64_t from = book->sale.total_stock;
  const bool in_range = delta >= -kTotalStockMax && delta <= kTotalStockMax && from + delta >= 0 &&
                        from + delta <= kTotalStockMax;
  const std::int64_t to = in_range ? from + delta : from;
  const std::int64_t committed = book->counters.held + book->counters.sold;
  if (!in_range) {
    result.outcome = AdminSaleOutcome::kStockOutOfRange;
  } else if (to < committed) {
    result.outcome = AdminSaleOutcome::kStockBelowCommitted;
  } else {
    result.outcome = AdminSaleOutcome::kChanged;
    journal_.Record(this, &Sales::Undo, undo::SaleChanged{book->sale});
    book->sale.total_stock = to;
    StockCounters counters = book->counters;
    counters.total = to;
    SetCounters(*book, counters);
    journal_.Add(SaleStockChanged{sku_id, from, to});
  }
  if (audit_.enabled() && result.outcome != AdminSaleOutcome::kStockOutOfRange) {
    AuditEvent event;
    event.type = AuditEventType::kStockAdjusted;
    event.sku_id = sku_id;
    event.occurred_at = now;
    if (result.outcome != AdminSaleOutcome::kChanged) {
      event.outcome = AuditOutcome::kFailed;
      event.failure_reason = "STOCK_BELOW_COMMITTED";
    }
    event.metadata = AdminMetadata(request_id)
                         .Add("delta", delta)
                         .Add("total_stock_from", from)
                         .Add("total_stock_to", to)
                         .Add("held", book->counters.held)
                         .Add("sold", book->counters.sold)
                         .Build();
    audit_.Append(std::move(event));
  }
  result.sale = book->sale;
  result.counters = book->counters;
  return result;
}

// --- Queries -------------------------------------------------------------------------------

Book* Sales::Find(const std::string& sku_id) {
  auto it = books_.find(sku_id);
  return it == books_.end() ? nullptr : &it->second;
}

const Book* Sales::Find(const std::string& sku_id) const {
  auto it = books_.find(sku_id);
  return it == books_.end() ? nullptr : &it->second;
}

}  // namespace fs::core
