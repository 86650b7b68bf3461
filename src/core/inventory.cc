#include "core/inventory.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace fs::core {

std::string_view ReserveOutcomeName(ReserveOutcome outcome) {
  switch (outcome) {
    case ReserveOutcome::kReserved: return "RESERVED";
    case ReserveOutcome::kReplayed: return "REPLAYED";
    case ReserveOutcome::kIdempotencyKeyReused: return "IDEMPOTENCY_KEY_REUSED";
    case ReserveOutcome::kSkuNotFound: return "SKU_NOT_FOUND";
    case ReserveOutcome::kSoldOut: return "SOLD_OUT";
    case ReserveOutcome::kLimitExceeded: return "LIMIT_EXCEEDED";
    case ReserveOutcome::kSaleNotOpen: return "SALE_NOT_OPEN";
    case ReserveOutcome::kSaleClosed: return "SALE_CLOSED";
  }
  return "UNKNOWN";
}

std::string Inventory::IdempotencyMapKey(const std::string& user_id, const std::string& key) {
  std::string out;
  out.reserve(user_id.size() + key.size() + 1);
  out += user_id;
  out += '\n';  // user ids and keys never contain a newline (validated at the edge)
  out += key;
  return out;
}

Inventory::Book* Inventory::FindBook(const std::string& sku_id) {
  auto it = books_.find(sku_id);
  return it == books_.end() ? nullptr : &it->second;
}

void Inventory::RequireBatch() const { FS_CHECK(in_batch_); }

// --- Recovery -------------------------------------------------------------------------------

void Inventory::LoadSale(const Sale& sale) {
  FS_CHECK(!in_batch_);
  Book book;
  book.sale = sale;
  book.counters.total = sale.total_stock;
  const bool inserted = books_.emplace(sale.sku_id, std::move(book)).second;
  FS_CHECK(inserted);
}

void Inventory::LoadReservation(const Reservation& reservation) {
  FS_CHECK(!in_batch_);
  Book* book = FindBook(reservation.sku_id);
  FS_CHECK(book != nullptr);
  if (IsHeld(reservation.status)) book->counters.held += reservation.quantity;
  if (reservation.status == ReservationStatus::kPurchased) book->counters.sold += reservation.quantity;
  if (CountsTowardUserLimit(reservation.status))
    book->user_units[reservation.user_id] += reservation.quantity;
  if (reservation.status == ReservationStatus::kReserved)
    expiry_.emplace(reservation.expires_at, reservation.reservation_id);
  const bool inserted = reservations_.emplace(reservation.reservation_id, reservation).second;
  FS_CHECK(inserted);
  // Zero oversell is checked on every load: a store that hands back more than the stock is
  // damaged, and serving from it could sell a unit twice.
  FS_CHECK(book->counters.available() >= 0);
}

void Inventory::EnableAudit(AuditHasher hasher, AuditHead head) {
  FS_CHECK(!in_batch_);
  FS_CHECK(hasher != nullptr);
  audit_hasher_ = std::move(hasher);
  audit_head_ = std::move(head);
}

void Inventory::LoadIdempotency(const IdempotencyRecord& record) {
  FS_CHECK(!in_batch_);
  std::string map_key = IdempotencyMapKey(record.user_id, record.key);
  idempotency_by_age_.emplace_back(record.created_at, map_key);
  idempotency_[std::move(map_key)] = record;
}

// --- Batch protocol -------------------------------------------------------------------------

void Inventory::BeginBatch() {
  FS_CHECK(!in_batch_);
  in_batch_ = true;
  mutations_.clear();
  undo_.clear();
  touched_skus_.clear();
}

std::vector<std::string> Inventory::CommitBatch() {
  RequireBatch();
  in_batch_ = false;
  mutations_.clear();
  undo_.clear();
  std::sort(touched_skus_.begin(), touched_skus_.end());
  touched_skus_.erase(std::unique(touched_skus_.begin(), touched_skus_.end()),
                      touched_skus_.end());
  return std::exchange(touched_skus_, {});
}

void Inventory::ApplyUndo(Undo& undo) {
  if (auto* u = std::get_if<UndoSaleCreated>(&undo)) {
    books_.erase(u->sku_id);
  } else if (auto* c = std::get_if<UndoCounters>(&undo)) {
    Book* book = FindBook(c->sku_id);
    FS_CHECK(book != nullptr);
    book->counters = c->previous;
  } else if (auto* uu = std::get_if<UndoUserUnits>(&undo)) {
    Book* book = FindBook(uu->sku_id);
    FS_CHECK(book != nullptr);
    if (uu->previous == 0) {
      book->user_units.erase(uu->user_id);
    } else {
      book->user_units[uu->user_id] = uu->previous;
    }
  } else if (auto* r = std::get_if<UndoReservation>(&undo)) {
    if (!r->previous) {
      reservations_.erase(r->reservation_id);
    } else {
      // An expiry popped from the heap in this batch must be scheduled again.
      if (r->previous->status == ReservationStatus::kReserved)
        expiry_.emplace(r->previous->expires_at, r->reservation_id);
      reservations_[r->reservation_id] = std::move(*r->previous);
    }
  } else if (auto* i = std::get_if<UndoIdempotency>(&undo)) {
    idempotency_.erase(i->map_key);
  } else if (auto* sale = std::get_if<UndoSale>(&undo)) {
    Book* book = FindBook(sale->previous.sku_id);
    FS_CHECK(book != nullptr);
    book->sale = std::move(sale->previous);
  } else if (auto* head = std::get_if<UndoAuditHead>(&undo)) {
    audit_head_ = std::move(head->previous);
  }
}

void Inventory::RollbackBatch() {
  RequireBatch();
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) ApplyUndo(*it);
  in_batch_ = false;
  mutations_.clear();
  undo_.clear();
  touched_skus_.clear();
}

// --- Helpers that record undo ---------------------------------------------------------------

void Inventory::Audit(AuditEvent event) {
  if (!audit_hasher_) return;
  undo_.emplace_back(UndoAuditHead{audit_head_});
  audit_head_ = ChainAfter(audit_head_, event, audit_hasher_);
  mutations_.emplace_back(AuditAppended{std::move(event)});
}

namespace {

// The audit record of a reservation's status change: which decision it was.
struct TransitionAudit {
  AuditEventType type;
  AuditOutcome outcome;
  std::optional<std::string> failure_reason;
};

TransitionAudit AuditOfTransition(ReservationStatus from, ReservationStatus to) {
  switch (to) {
    case ReservationStatus::kExpired: return {AuditEventType::kExpiry, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kCheckoutPending:
      return {AuditEventType::kCheckout, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kPurchased:
      return {AuditEventType::kPayment, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kReleased:
      if (from == ReservationStatus::kCheckoutPending) {
        return {AuditEventType::kPayment, AuditOutcome::kFailed, "PAYMENT_FAILED"};
      }
      return {AuditEventType::kRelease, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kReserved: break;
  }
  return {AuditEventType::kRelease, AuditOutcome::kSuccess, {}};
}

}  // namespace

void Inventory::SetCounters(Book& book, StockCounters counters) {
  undo_.emplace_back(UndoCounters{book.sale.sku_id, book.counters});
  // The writer's guard against oversell: held + sold never exceed the stock.
  FS_CHECK(counters.held >= 0);
  FS_CHECK(counters.sold >= 0);
  FS_CHECK(counters.available() >= 0);
  book.counters = counters;
  touched_skus_.push_back(book.sale.sku_id);
}

void Inventory::AddUserUnits(Book& book, const std::string& user_id, std::int32_t delta) {
  auto it = book.user_units.find(user_id);
  const std::int32_t previous = it == book.user_units.end() ? 0 : it->second;
  undo_.emplace_back(UndoUserUnits{book.sale.sku_id, user_id, previous});
  const std::int32_t next = previous + delta;
  FS_CHECK(next >= 0);
  FS_CHECK(next <= book.sale.per_user_limit);
  if (next == 0) {
    book.user_units.erase(user_id);
  } else {
    book.user_units[user_id] = next;
  }
}

void Inventory::Transition(Reservation& reservation, ReservationStatus to, Time now) {
  FS_CHECK(IsAllowedTransition(reservation.status, to));
  Book* book = FindBook(reservation.sku_id);
  FS_CHECK(book != nullptr);
  undo_.emplace_back(UndoReservation{reservation.reservation_id, reservation});
  const ReservationStatus from = reservation.status;
  StockCounters counters = book->counters;
  if (IsHeld(from)) counters.held -= reservation.quantity;
  if (IsHeld(to)) counters.held += reservation.quantity;
  if (to == ReservationStatus::kPurchased) counters.sold += reservation.quantity;
  SetCounters(*book, counters);
  if (CountsTowardUserLimit(from) && !CountsTowardUserLimit(to))
    AddUserUnits(*book, reservation.user_id, -reservation.quantity);
  reservation.status = to;
  reservation.updated_at = now;
  mutations_.emplace_back(
      ReservationStatusChanged{reservation.reservation_id, reservation.sku_id, from, to, now});
  if (audit_hasher_) {
    const TransitionAudit kind = AuditOfTransition(from, to);
    AuditEvent event;
    event.type = kind.type;
    event.outcome = kind.outcome;
    event.failure_reason = kind.failure_reason;
    event.user_id = reservation.user_id;
    event.sku_id = reservation.sku_id;
    event.occurred_at = now;
    event.metadata = AuditMetadata()
                         .Add("reservation_id", reservation.reservation_id)
                         .Add("quantity", reservation.quantity)
                         .Add("from", ReservationStatusName(from))
                         .Add("to", ReservationStatusName(to))
                         .Build();
    Audit(std::move(event));
  }
}

// --- Commands -------------------------------------------------------------------------------

CreateSaleResult Inventory::CreateSale(Sale sale, Time now) {
  RequireBatch();
  CreateSaleResult result;
  result.invalid_reason = ValidateSale(sale);
  if (!result.invalid_reason.empty()) {
    result.outcome = CreateSaleOutcome::kInvalid;
    return result;
  }
  if (FindBook(sale.sku_id) != nullptr) {
    result.outcome = CreateSaleOutcome::kAlreadyExists;
    result.sale = books_.at(sale.sku_id).sale;
    return result;
  }
  sale.created_at = now;
  Book book;
  book.sale = sale;
  book.counters.total = sale.total_stock;
  books_.emplace(sale.sku_id, std::move(book));
  undo_.emplace_back(UndoSaleCreated{sale.sku_id});
  touched_skus_.push_back(sale.sku_id);
  mutations_.emplace_back(SaleCreated{sale});
  if (audit_hasher_) {
    AuditEvent event;
    event.type = AuditEventType::kSaleCreated;
    event.sku_id = sale.sku_id;
    event.occurred_at = now;
    event.metadata = AuditMetadata()
                         .Add("total_stock", sale.total_stock)
                         .Add("per_user_limit", sale.per_user_limit)
                         .Add("price_cents", sale.price_cents)
                         .Add("currency", sale.currency)
                         .Build();
    Audit(std::move(event));
  }
  result.outcome = CreateSaleOutcome::kCreated;
  result.sale = std::move(sale);
  return result;
}

namespace {

std::string ReserveFingerprint(const ReserveCommand& command) {
  return "reserve|" + command.sku_id + "|" + std::to_string(command.quantity);
}

ReserveOutcome FromDecision(ReserveDecision decision) {
  switch (decision) {
    case ReserveDecision::kGrant: return ReserveOutcome::kReserved;
    case ReserveDecision::kSoldOut: return ReserveOutcome::kSoldOut;
    case ReserveDecision::kLimitExceeded: return ReserveOutcome::kLimitExceeded;
    case ReserveDecision::kSaleNotOpen: return ReserveOutcome::kSaleNotOpen;
    case ReserveDecision::kSaleClosed: return ReserveOutcome::kSaleClosed;
  }
  return ReserveOutcome::kSoldOut;
}

}  // namespace

ReserveResult Inventory::Reserve(const ReserveCommand& command,
                                 const std::string& reservation_id, Time now,
                                 const ReservationBodyRenderer& render_body) {
  RequireBatch();
  ReserveResult result;
  const bool keyed = !command.idempotency_key.empty();
  std::string map_key;
  if (keyed) {
    map_key = IdempotencyMapKey(command.user_id, command.idempotency_key);
    auto it = idempotency_.find(map_key);
    if (it != idempotency_.end()) {
      const bool same_request = it->second.request_fingerprint == ReserveFingerprint(command);
      result.outcome = same_request ? ReserveOutcome::kReplayed
                                    : ReserveOutcome::kIdempotencyKeyReused;
      if (same_request) result.replay = it->second;
      // A replay repeats an audited decision; it is not a new one.
      if (!same_request) AuditReserve(command, result.outcome, std::nullopt, now);
      return result;
    }
  }
  Book* book = FindBook(command.sku_id);
  if (book == nullptr) {
    result.outcome = ReserveOutcome::kSkuNotFound;
    AuditReserve(command, result.outcome, std::nullopt, now);
    return result;
  }
  auto units_it = book->user_units.find(command.user_id);
  const std::int32_t user_units = units_it == book->user_units.end() ? 0 : units_it->second;
  result.outcome = FromDecision(
      DecideReserve(book->sale, book->counters, user_units, command.quantity, now));
  if (result.outcome != ReserveOutcome::kReserved) {
    AuditReserve(command, result.outcome, std::nullopt, now);
    return result;
  }

  FS_CHECK(reservations_.find(reservation_id) == reservations_.end());
  Reservation reservation;
  reservation.reservation_id = reservation_id;
  reservation.sku_id = command.sku_id;
  reservation.user_id = command.user_id;
  reservation.quantity = command.quantity;
  reservation.status = ReservationStatus::kReserved;
  reservation.created_at = now;
  reservation.expires_at = now + std::chrono::seconds(book->sale.reservation_ttl_seconds);
  reservation.updated_at = now;

  StockCounters counters = book->counters;
  counters.held += command.quantity;
  SetCounters(*book, counters);
  AddUserUnits(*book, command.user_id, command.quantity);
  undo_.emplace_back(UndoReservation{reservation_id, std::nullopt});
  reservations_.emplace(reservation_id, reservation);
  expiry_.emplace(reservation.expires_at, reservation_id);
  mutations_.emplace_back(ReservationCreated{reservation});

  if (keyed) {
    IdempotencyRecord record;
    record.user_id = command.user_id;
    record.key = command.idempotency_key;
    record.request_fingerprint = ReserveFingerprint(command);
    record.http_status = 201;
    record.response_body = render_body(reservation);
    record.created_at = now;
    undo_.emplace_back(UndoIdempotency{map_key});
    idempotency_by_age_.emplace_back(now, map_key);
    idempotency_.emplace(map_key, record);
    mutations_.emplace_back(IdempotencyStored{std::move(record)});
  }
  result.reservation = std::move(reservation);
  AuditReserve(command, result.outcome, result.reservation, now);
  return result;
}

void Inventory::AuditReserve(const ReserveCommand& command, ReserveOutcome outcome,
                             const std::optional<Reservation>& reservation, Time now) {
  if (!audit_hasher_) return;
  AuditEvent event;
  event.type = AuditEventType::kReserveAttempt;
  event.user_id = command.user_id;
  event.sku_id = command.sku_id;
  event.occurred_at = now;
  event.client_ip = command.client_ip;
  event.device_fingerprint = command.device_fingerprint;
  AuditMetadata metadata;
  metadata.Add("quantity", command.quantity);
  if (reservation) {
    event.outcome = AuditOutcome::kSuccess;
    // The reservation row holds the rest (expiry, status); the id links to it.
    metadata.Add("reservation_id", reservation->reservation_id);
  } else {
    event.outcome = AuditOutcome::kFailed;
    event.failure_reason = std::string(ReserveOutcomeName(outcome));
  }
  if (!command.idempotency_key.empty()) metadata.Add("idempotency_key", command.idempotency_key);
  event.metadata = metadata.Build();
  Audit(std::move(event));
}

ReleaseResult Inventory::Release(const std::string& reservation_id, const std::string& user_id,
                                 Time now) {
  RequireBatch();
  ReleaseResult result;
  auto it = reservations_.find(reservation_id);
  if (it == reservations_.end() || it->second.user_id != user_id) {
    result.outcome = ReleaseOutcome::kNotFound;
    return result;
  }
  Reservation& reservation = it->second;
  switch (reservation.status) {
    case ReservationStatus::kReserved:
      if (reservation.expires_at <= now) {
        Transition(reservation, ReservationStatus::kExpired, now);
        result.outcome = ReleaseOutcome::kExpired;
      } else {
        Transition(reservation, ReservationStatus::kReleased, now);
        result.outcome = ReleaseOutcome::kReleased;
      }
      break;
    case ReservationStatus::kReleased: result.outcome = ReleaseOutcome::kAlreadyReleased; break;
    case ReservationStatus::kExpired: result.outcome = ReleaseOutcome::kExpired; break;
    case ReservationStatus::kCheckoutPending:
    case ReservationStatus::kPurchased: result.outcome = ReleaseOutcome::kNotActive; break;
  }
  result.reservation = reservation;
  return result;
}

std::size_t Inventory::ExpireDue(Time now, std::size_t count_max) {
  RequireBatch();
  std::size_t expired = 0;
  while (expired < count_max && !expiry_.empty() && expiry_.top().first <= now) {
    ExpiryEntry entry = expiry_.top();
    expiry_.pop();
    auto it = reservations_.find(entry.second);
    // Entries are dropped lazily: the reservation may have been released or checked out.
    if (it == reservations_.end()) continue;
    Reservation& reservation = it->second;
    if (reservation.status != ReservationStatus::kReserved) continue;
    if (reservation.expires_at != entry.first) continue;
    Transition(reservation, ReservationStatus::kExpired, now);
    ++expired;
  }
  return expired;
}

void Inventory::PruneIdempotency(Time before) {
  RequireBatch();
  while (!idempotency_by_age_.empty() && idempotency_by_age_.front().first < before) {
    auto it = idempotency_.find(idempotency_by_age_.front().second);
    if (it != idempotency_.end() && it->second.created_at < before) idempotency_.erase(it);
    idempotency_by_age_.pop_front();
  }
  mutations_.emplace_back(IdempotencyPruned{before});
}

AdminSaleResult Inventory::SetSaleOverride(const std::string& sku_id, SaleOverride to,
                                           Time now) {
  RequireBatch();
  AdminSaleResult result;
  Book* book = FindBook(sku_id);
  if (book == nullptr) return result;  // kSkuNotFound
  const SaleOverride from = book->sale.override_state;
  if (from != to) {
    undo_.emplace_back(UndoSale{book->sale});
    book->sale.override_state = to;
    touched_skus_.push_back(sku_id);
    mutations_.emplace_back(SaleOverrideChanged{sku_id, from, to});
  }
  if (audit_hasher_) {
    // Every admin action is recorded, a repeated one too: it is still a decision someone made.
    AuditEvent event;
    event.type =
        to == SaleOverride::kClosed ? AuditEventType::kSaleClosed : AuditEventType::kSaleOpened;
    event.sku_id = sku_id;
    event.occurred_at = now;
    event.metadata = AuditMetadata()
                         .Add("override_from", static_cast<std::int64_t>(from))
                         .Add("override_to", static_cast<std::int64_t>(to))
                         .Build();
    Audit(std::move(event));
  }
  result.outcome = AdminSaleOutcome::kChanged;
  result.sale = book->sale;
  result.counters = book->counters;
  return result;
}

AdminSaleResult Inventory::AdjustStock(const std::string& sku_id, std::int64_t delta,
                                       Time now) {
  RequireBatch();
  AdminSaleResult result;
  Book* book = FindBook(sku_id);
  if (book == nullptr) return result;  // kSkuNotFound
  const std::int64_t from = book->sale.total_stock;
  const bool in_range = delta >= -kTotalStockMax && delta <= kTotalStockMax &&
                        from + delta >= 0 && from + delta <= kTotalStockMax;
  const std::int64_t to = in_range ? from + delta : from;
  const std::int64_t committed = book->counters.held + book->counters.sold;
  if (!in_range) {
    result.outcome = AdminSaleOutcome::kStockOutOfRange;
  } else if (to < committed) {
    result.outcome = AdminSaleOutcome::kStockBelowCommitted;
  } else {
    result.outcome = AdminSaleOutcome::kChanged;
    undo_.emplace_back(UndoSale{book->sale});
    book->sale.total_stock = to;
    StockCounters counters = book->counters;
    counters.total = to;
    SetCounters(*book, counters);
    mutations_.emplace_back(SaleStockChanged{sku_id, from, to});
  }
  if (audit_hasher_ && result.outcome != AdminSaleOutcome::kStockOutOfRange) {
    AuditEvent event;
    event.type = AuditEventType::kStockAdjusted;
    event.sku_id = sku_id;
    event.occurred_at = now;
    if (result.outcome != AdminSaleOutcome::kChanged) {
      event.outcome = AuditOutcome::kFailed;
      event.failure_reason = "STOCK_BELOW_COMMITTED";
    }
    event.metadata = AuditMetadata()
                         .Add("delta", delta)
                         .Add("total_stock_from", from)
                         .Add("total_stock_to", to)
                         .Add("held", book->counters.held)
                         .Add("sold", book->counters.sold)
                         .Build();
    Audit(std::move(event));
  }
  result.sale = book->sale;
  result.counters = book->counters;
  return result;
}

// --- Queries --------------------------------------------------------------------------------

const Reservation* Inventory::FindReservation(const std::string& reservation_id) const {
  auto it = reservations_.find(reservation_id);
  return it == reservations_.end() ? nullptr : &it->second;
}

std::optional<SaleSnapshot> Inventory::FindSale(const std::string& sku_id) const {
  auto it = books_.find(sku_id);
  if (it == books_.end()) return std::nullopt;
  return SaleSnapshot{it->second.sale, it->second.counters};
}

std::vector<std::string> Inventory::SkuIds() const {
  std::vector<std::string> out;
  out.reserve(books_.size());
  for (const auto& [sku_id, book] : books_) out.push_back(sku_id);
  return out;
}

std::optional<Time> Inventory::NextExpiry() {
  // Drop stale heads so the writer does not wake for nothing.
  while (!expiry_.empty()) {
    const ExpiryEntry& top = expiry_.top();
    auto it = reservations_.find(top.second);
    const bool live = it != reservations_.end() &&
                      it->second.status == ReservationStatus::kReserved &&
                      it->second.expires_at == top.first;
    if (live) return top.first;
    if (in_batch_) return top.first;  // never drop entries an undo might still need
    expiry_.pop();
  }
  return std::nullopt;
}

std::int32_t Inventory::UserUnits(const std::string& sku_id, const std::string& user_id) const {
  auto it = books_.find(sku_id);
  if (it == books_.end()) return 0;
  auto units = it->second.user_units.find(user_id);
  return units == it->second.user_units.end() ? 0 : units->second;
}

void Inventory::CheckInvariants() const {
  std::map<std::string, StockCounters> counted;
  std::map<std::string, std::unordered_map<std::string, std::int32_t>> units;
  for (const auto& [id, reservation] : reservations_) {
    StockCounters& c = counted[reservation.sku_id];
    if (IsHeld(reservation.status)) c.held += reservation.quantity;
    if (reservation.status == ReservationStatus::kPurchased) c.sold += reservation.quantity;
    if (CountsTowardUserLimit(reservation.status))
      units[reservation.sku_id][reservation.user_id] += reservation.quantity;
  }
  for (const auto& [sku_id, book] : books_) {
    const StockCounters& c = counted[sku_id];
    FS_CHECK(c.held == book.counters.held);
    FS_CHECK(c.sold == book.counters.sold);
    FS_CHECK(book.counters.total == book.sale.total_stock);
    FS_CHECK(book.counters.available() >= 0);
    const auto& expected_units = units[sku_id];
    FS_CHECK(expected_units.size() == book.user_units.size());
    for (const auto& [user_id, n] : book.user_units) {
      auto it = expected_units.find(user_id);
      FS_CHECK(it != expected_units.end());
      FS_CHECK(it->second == n);
      FS_CHECK(n <= book.sale.per_user_limit);
    }
  }
}

}  // namespace fs::core
