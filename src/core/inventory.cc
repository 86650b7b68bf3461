#include "core/inventory.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace fs::core {

std::string_view CheckoutOutcomeName(CheckoutOutcome outcome) {
  switch (outcome) {
    case CheckoutOutcome::kCreated:
      return "CREATED";
    case CheckoutOutcome::kReplayed:
      return "REPLAYED";
    case CheckoutOutcome::kIdempotencyKeyReused:
      return "IDEMPOTENCY_KEY_REUSED";
    case CheckoutOutcome::kReservationNotFound:
      return "RESERVATION_NOT_FOUND";
    case CheckoutOutcome::kReservationExpired:
      return "RESERVATION_EXPIRED";
    case CheckoutOutcome::kReservationNotActive:
      return "RESERVATION_NOT_ACTIVE";
  }
  return "UNKNOWN";
}

std::string_view ReserveOutcomeName(ReserveOutcome outcome) {
  switch (outcome) {
    case ReserveOutcome::kReserved:
      return "RESERVED";
    case ReserveOutcome::kReplayed:
      return "REPLAYED";
    case ReserveOutcome::kIdempotencyKeyReused:
      return "IDEMPOTENCY_KEY_REUSED";
    case ReserveOutcome::kSkuNotFound:
      return "SKU_NOT_FOUND";
    case ReserveOutcome::kSoldOut:
      return "SOLD_OUT";
    case ReserveOutcome::kLimitExceeded:
      return "LIMIT_EXCEEDED";
    case ReserveOutcome::kSaleNotOpen:
      return "SALE_NOT_OPEN";
    case ReserveOutcome::kSaleClosed:
      return "SALE_CLOSED";
    case ReserveOutcome::kQueuePassRequired:
      return "QUEUE_PASS_REQUIRED";
    case ReserveOutcome::kQueuePassInvalid:
      return "QUEUE_PASS_INVALID";
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
  if (reservation.status == ReservationStatus::kPurchased)
    book->counters.sold += reservation.quantity;
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

void Inventory::LoadOrder(const Order& order) {
  FS_CHECK(!in_batch_);
  FS_CHECK(FindBook(order.sku_id) != nullptr);
  FS_CHECK(reservations_.count(order.reservation_id) == 1);
  if (order.status == OrderStatus::kPending) SetPending(order.order_id, order.next_attempt_at);
  const bool inserted = orders_.emplace(order.order_id, order).second;
  FS_CHECK(inserted);
}

void Inventory::LoadEventSequence(const std::string& sku_id, std::int64_t sequence) {
  FS_CHECK(!in_batch_);
  Book* book = FindBook(sku_id);
  FS_CHECK(book != nullptr);
  FS_CHECK(sequence >= 0);
  book->event_sequence = sequence;
}

void Inventory::LoadIdempotency(const IdempotencyRecord& record) {
  FS_CHECK(!in_batch_);
  std::string map_key = IdempotencyMapKey(record.user_id, record.key);
  idempotency_by_age_.emplace_back(record.created_at, map_key);
  idempotency_[std::move(map_key)] = record;
}

// --- Shared stores ---------------------------------------------------------------------------

void Inventory::SyncSale(const Sale& sale) {
  FS_CHECK(!in_batch_);
  Book* book = FindBook(sale.sku_id);
  if (book == nullptr) {
    LoadSale(sale);
    return;
  }
  book->sale = sale;
  book->counters.total = sale.total_stock;
}

void Inventory::SyncReservation(const Reservation& reservation) {
  FS_CHECK(!in_batch_);
  Book* book = FindBook(reservation.sku_id);
  FS_CHECK(book != nullptr);
  auto it = reservations_.find(reservation.reservation_id);
  if (it != reservations_.end()) {
    const Reservation& known = it->second;
    FS_CHECK(known.sku_id == reservation.sku_id);
    FS_CHECK(known.user_id == reservation.user_id);
    FS_CHECK(known.quantity == reservation.quantity);
    if (known.status == reservation.status) return;
    // Take the known row's share out; the stored row's share goes in below.
    if (IsHeld(known.status)) book->counters.held -= known.quantity;
    if (known.status == ReservationStatus::kPurchased) book->counters.sold -= known.quantity;
    if (CountsTowardUserLimit(known.status)) {
      auto units = book->user_units.find(known.user_id);
      FS_CHECK(units != book->user_units.end());
      units->second -= known.quantity;
      if (units->second == 0) book->user_units.erase(units);
    }
    reservations_.erase(it);
  }
  if (IsHeld(reservation.status)) book->counters.held += reservation.quantity;
  if (reservation.status == ReservationStatus::kPurchased)
    book->counters.sold += reservation.quantity;
  if (CountsTowardUserLimit(reservation.status)) {
    book->user_units[reservation.user_id] += reservation.quantity;
    synced_users_.emplace_back(reservation.sku_id, reservation.user_id);
  }
  if (reservation.status == ReservationStatus::kReserved)
    expiry_.emplace(reservation.expires_at, reservation.reservation_id);
  reservations_.emplace(reservation.reservation_id, reservation);
}

void Inventory::SyncIdempotency(const IdempotencyRecord& record) {
  FS_CHECK(!in_batch_);
  std::string map_key = IdempotencyMapKey(record.user_id, record.key);
  if (idempotency_.count(map_key) == 1) return;
  idempotency_by_age_.emplace_back(record.created_at, map_key);
  idempotency_.emplace(std::move(map_key), record);
}

void Inventory::SyncOrder(const Order& order) {
  FS_CHECK(!in_batch_);
  FS_CHECK(FindBook(order.sku_id) != nullptr);
  FS_CHECK(reservations_.count(order.reservation_id) == 1);
  SetPending(order.order_id, std::nullopt);
  if (order.status == OrderStatus::kPending) SetPending(order.order_id, order.next_attempt_at);
  orders_[order.order_id] = order;
}

void Inventory::SyncEventSequence(const std::string& sku_id, std::int64_t sequence) {
  FS_CHECK(!in_batch_);
  Book* book = FindBook(sku_id);
  FS_CHECK(book != nullptr);
  book->event_sequence = std::max(book->event_sequence, sequence);
}

void Inventory::SyncAuditHead(AuditHead head) {
  FS_CHECK(!in_batch_);
  if (!audit_hasher_) return;
  audit_head_ = std::move(head);
}

void Inventory::CheckSynced() {
  for (const auto& [sku_id, book] : books_) {
    FS_CHECK(book.counters.held >= 0);
    FS_CHECK(book.counters.sold >= 0);
    FS_CHECK(book.counters.available() >= 0);
  }
  // Only the users whose units grew: O(changes), not O(users).
  for (const auto& [sku_id, user_id] : synced_users_) {
    const Book& book = books_.at(sku_id);
    auto units = book.user_units.find(user_id);
    if (units == book.user_units.end()) continue;
    FS_CHECK(units->second <= book.sale.per_user_limit);
  }
  synced_users_.clear();
}

// --- Batch protocol -------------------------------------------------------------------------

void Inventory::BeginBatch() {
  FS_CHECK(!in_batch_);
  in_batch_ = true;
  audit_head_saved_ = false;
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
  touched_skus_.erase(std::unique(touched_skus_.begin(), touched_skus_.end()), touched_skus_.end());
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
  } else if (auto* o = std::get_if<UndoOrder>(&undo)) {
    SetPending(o->order_id, std::nullopt);
    if (!o->previous) {
      orders_.erase(o->order_id);
    } else {
      if (o->previous->status == OrderStatus::kPending)
        SetPending(o->order_id, o->previous->next_attempt_at);
      orders_[o->order_id] = std::move(*o->previous);
    }
  } else if (auto* e = std::get_if<UndoEventSequence>(&undo)) {
    Book* book = FindBook(e->sku_id);
    FS_CHECK(book != nullptr);
    book->event_sequence = e->previous;
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

void Inventory::AppendAudit(AuditEvent event) {
  RequireBatch();
  Audit(std::move(event));
}

void Inventory::Audit(AuditEvent event) {
  if (!audit_hasher_) return;
  // Only the batch's first event records the head to roll back to: the head moves only
  // forward within a batch, so one undo entry restores it (not a copy per event).
  if (!audit_head_saved_) {
    undo_.emplace_back(UndoAuditHead{audit_head_});
    audit_head_saved_ = true;
  }
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
    case ReservationStatus::kExpired:
      return {AuditEventType::kExpiry, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kCheckoutPending:
      return {AuditEventType::kCheckout, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kPurchased:
      return {AuditEventType::kPayment, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kReleased:
      if (from == ReservationStatus::kCheckoutPending) {
        return {AuditEventType::kPayment, AuditOutcome::kFailed, "PAYMENT_FAILED"};
      }
      return {AuditEventType::kRelease, AuditOutcome::kSuccess, {}};
    case ReservationStatus::kReserved:
      break;
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
  // CHECKOUT_PENDING and PURCHASED are told by the order's own events.
  if (to == ReservationStatus::kExpired) {
    AppendEvent(*book, event_type::kReservationExpired, reservation.user_id,
                ReservationEventPayload(reservation), now);
  } else if (to == ReservationStatus::kReleased) {
    AppendEvent(*book, event_type::kReservationReleased, reservation.user_id,
                ReservationEventPayload(reservation), now);
  }
}

void Inventory::AppendEvent(Book& book, std::string_view type, const std::string& user_id,
                            std::string payload_json, Time now) {
  undo_.emplace_back(UndoEventSequence{book.sale.sku_id, book.event_sequence});
  ++book.event_sequence;
  OutboxEvent event;
  event.event_id = book.sale.sku_id + ":" + std::to_string(book.event_sequence);
  event.type = std::string(type);
  event.sku_id = book.sale.sku_id;
  event.user_id = user_id;
  event.sequence = book.event_sequence;
  event.occurred_at = now;
  event.payload_json = std::move(payload_json);
  mutations_.emplace_back(EventAppended{std::move(event)});
}

void Inventory::PutOrder(Order next) {
  auto it = orders_.find(next.order_id);
  std::optional<Order> previous;
  if (it != orders_.end()) previous = it->second;
  undo_.emplace_back(UndoOrder{next.order_id, std::move(previous)});
  SetPending(next.order_id, std::nullopt);
  if (next.status == OrderStatus::kPending) SetPending(next.order_id, next.next_attempt_at);
  const std::string id = next.order_id;
  orders_[id] = std::move(next);
}

void Inventory::StoreIdempotency(const std::string& user_id, const std::string& key,
                                 std::string fingerprint, std::int32_t http_status,
                                 std::string body, Time now) {
  std::string map_key = IdempotencyMapKey(user_id, key);
  IdempotencyRecord record;
  record.user_id = user_id;
  record.key = key;
  record.request_fingerprint = std::move(fingerprint);
  record.http_status = http_status;
  record.response_body = std::move(body);
  record.created_at = now;
  undo_.emplace_back(UndoIdempotency{map_key});
  idempotency_by_age_.emplace_back(now, map_key);
  idempotency_.emplace(std::move(map_key), record);
  mutations_.emplace_back(IdempotencyStored{std::move(record)});
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
    case ReserveDecision::kGrant:
      return ReserveOutcome::kReserved;
    case ReserveDecision::kSoldOut:
      return ReserveOutcome::kSoldOut;
    case ReserveDecision::kLimitExceeded:
      return ReserveOutcome::kLimitExceeded;
    case ReserveDecision::kSaleNotOpen:
      return ReserveOutcome::kSaleNotOpen;
    case ReserveDecision::kSaleClosed:
      return ReserveOutcome::kSaleClosed;
  }
  return ReserveOutcome::kSoldOut;
}

}  // namespace

ReserveResult Inventory::Reserve(const ReserveCommand& command, const std::string& reservation_id,
                                 Time now, const ReservationBodyRenderer& render_body) {
  RequireBatch();
  ReserveResult result;
  const bool keyed = !command.idempotency_key.empty();
  std::string map_key;
  if (keyed) {
    map_key = IdempotencyMapKey(command.user_id, command.idempotency_key);
    auto it = idempotency_.find(map_key);
    if (it != idempotency_.end()) {
      const bool same_request = it->second.request_fingerprint == ReserveFingerprint(command);
      result.outcome =
          same_request ? ReserveOutcome::kReplayed : ReserveOutcome::kIdempotencyKeyReused;
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
  result.outcome =
      FromDecision(DecideReserve(book->sale, book->counters, user_units, command.quantity, now));
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
  AppendEvent(*book, event_type::kReservationCreated, reservation.user_id,
              ReservationEventPayload(reservation), now);

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

namespace {

// The audit event of a reserve attempt: SUCCESS with the reservation's id, or FAILED with the
// outcome's code and `detail` (may be empty) in the metadata.
AuditEvent ReserveAuditEvent(const ReserveCommand& command, ReserveOutcome outcome,
                             const std::optional<Reservation>& reservation, Time now,
                             std::string_view detail) {
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
  if (!detail.empty()) metadata.Add("detail", detail);
  if (!command.idempotency_key.empty()) metadata.Add("idempotency_key", command.idempotency_key);
  event.metadata = metadata.Build();
  return event;
}

}  // namespace

void Inventory::AuditReserve(const ReserveCommand& command, ReserveOutcome outcome,
                             const std::optional<Reservation>& reservation, Time now) {
  if (!audit_hasher_) return;
  Audit(ReserveAuditEvent(command, outcome, reservation, now, {}));
}

void Inventory::AuditRefusedReserve(const ReserveCommand& command, ReserveOutcome outcome,
                                    std::string_view detail, Time now) {
  RequireBatch();
  FS_CHECK(outcome != ReserveOutcome::kReserved);
  FS_CHECK(outcome != ReserveOutcome::kReplayed);
  if (!audit_hasher_) return;
  Audit(ReserveAuditEvent(command, outcome, std::nullopt, now, detail));
}

void Inventory::AppendMutation(Mutation mutation) {
  RequireBatch();
  mutations_.push_back(std::move(mutation));
}

bool Inventory::HasIdempotencyKey(const std::string& user_id, const std::string& key) const {
  return idempotency_.count(IdempotencyMapKey(user_id, key)) == 1;
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
    case ReservationStatus::kReleased:
      result.outcome = ReleaseOutcome::kAlreadyReleased;
      break;
    case ReservationStatus::kExpired:
      result.outcome = ReleaseOutcome::kExpired;
      break;
    case ReservationStatus::kCheckoutPending:
    case ReservationStatus::kPurchased:
      result.outcome = ReleaseOutcome::kNotActive;
      break;
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

AdminSaleResult Inventory::SetSaleOverride(const std::string& sku_id, SaleOverride to, Time now) {
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

AdminSaleResult Inventory::AdjustStock(const std::string& sku_id, std::int64_t delta, Time now) {
  RequireBatch();
  AdminSaleResult result;
  Book* book = FindBook(sku_id);
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

namespace {

std::string CheckoutFingerprint(const CheckoutCommand& command) {
  return "checkout|" + command.reservation_id + "|" + command.payment_method_id;
}

}  // namespace

CheckoutResult Inventory::Checkout(const CheckoutCommand& command, const std::string& order_id,
                                   Time now, const OrderBodyRenderer& render_body) {
  RequireBatch();
  CheckoutResult result;
  const bool keyed = !command.idempotency_key.empty();
  if (keyed) {
    auto it = idempotency_.find(IdempotencyMapKey(command.user_id, command.idempotency_key));
    if (it != idempotency_.end()) {
      const bool same_request = it->second.request_fingerprint == CheckoutFingerprint(command);
      result.outcome =
          same_request ? CheckoutOutcome::kReplayed : CheckoutOutcome::kIdempotencyKeyReused;
      if (same_request) result.replay = it->second;
      return result;
    }
  }
  auto it = reservations_.find(command.reservation_id);
  if (it == reservations_.end() || it->second.user_id != command.user_id) {
    result.outcome = CheckoutOutcome::kReservationNotFound;
    return result;
  }
  Reservation& reservation = it->second;
  switch (reservation.status) {
    case ReservationStatus::kReserved:
      break;
    case ReservationStatus::kExpired:
      result.outcome = CheckoutOutcome::kReservationExpired;
      return result;
    case ReservationStatus::kCheckoutPending:
    case ReservationStatus::kPurchased:
    case ReservationStatus::kReleased:
      result.outcome = CheckoutOutcome::kReservationNotActive;
      return result;
  }
  if (reservation.expires_at <= now) {
    // Due but not yet swept: expire it now so the answer and the state agree.
    Transition(reservation, ReservationStatus::kExpired, now);
    result.outcome = CheckoutOutcome::kReservationExpired;
    return result;
  }
  FS_CHECK(orders_.find(order_id) == orders_.end());
  Book* book = FindBook(reservation.sku_id);
  FS_CHECK(book != nullptr);
  Transition(reservation, ReservationStatus::kCheckoutPending, now);

  Order order;
  order.order_id = order_id;
  order.reservation_id = reservation.reservation_id;
  order.sku_id = reservation.sku_id;
  order.user_id = reservation.user_id;
  order.quantity = reservation.quantity;
  // price <= 1e12 and quantity <= 1000: the product stays far below 2^63.
  order.amount_cents = book->sale.price_cents * reservation.quantity;
  order.currency = book->sale.currency;
  order.status = OrderStatus::kPending;
  order.payment_method_id = command.payment_method_id;
  order.attempts = 0;
  order.next_attempt_at = now;
  order.created_at = now;
  order.updated_at = now;
  PutOrder(order);
  mutations_.emplace_back(OrderCreated{order});
  AppendEvent(*book, event_type::kCheckoutRequested, order.user_id, OrderEventPayload(order), now);
  if (keyed) {
    StoreIdempotency(command.user_id, command.idempotency_key, CheckoutFingerprint(command), 202,
                     render_body(order), now);
  }
  result.outcome = CheckoutOutcome::kCreated;
  result.order = std::move(order);
  return result;
}

Order Inventory::SettleOrder(const Order& order, OrderStatus to, std::string failure_reason,
                             Time now) {
  FS_CHECK(IsAllowedOrderTransition(order.status, to));
  Book* book = FindBook(order.sku_id);
  FS_CHECK(book != nullptr);
  auto reservation = reservations_.find(order.reservation_id);
  FS_CHECK(reservation != reservations_.end());
  Order next = order;
  next.status = to;
  next.failure_reason = std::move(failure_reason);
  next.updated_at = now;
  PutOrder(next);
  mutations_.emplace_back(OrderStatusChanged{order.status, next});
  const std::string payload = OrderEventPayload(next);
  switch (to) {
    case OrderStatus::kPaid:
      Transition(reservation->second, ReservationStatus::kPurchased, now);
      AppendEvent(*book, event_type::kPaymentSucceeded, next.user_id, payload, now);
      AppendEvent(*book, event_type::kOrderConfirmed, next.user_id, payload, now);
      break;
    case OrderStatus::kFailed:
      AppendEvent(*book, event_type::kPaymentFailed, next.user_id, payload, now);
      AppendEvent(*book, event_type::kOrderFailed, next.user_id, payload, now);
      Transition(reservation->second, ReservationStatus::kReleased, now);
      break;
    case OrderStatus::kNeedsAttention:
      AppendEvent(*book, event_type::kOrderNeedsAttention, next.user_id, payload, now);
      break;
    case OrderStatus::kPending:
      FS_CHECK(false);
  }
  return next;
}

PaymentReportResult Inventory::RecordPayment(const PaymentReport& report,
                                             const RetrySchedule& schedule, Time now) {
  RequireBatch();
  PaymentReportResult result;
  auto it = orders_.find(report.order_id);
  if (it == orders_.end()) {
    result.outcome = PaymentReportOutcome::kOrderNotFound;
    return result;
  }
  const Order order = it->second;
  // A report for an attempt already recorded (a duplicate from a restarted worker) or for an
  // order settled meanwhile (by an operator) changes nothing.
  if (order.status != OrderStatus::kPending || report.attempt != order.attempts + 1) {
    result.outcome = PaymentReportOutcome::kStale;
    result.order = order;
    return result;
  }
  switch (report.outcome) {
    case ChargeOutcome::kSucceeded: {
      Order counted = order;
      counted.attempts = report.attempt;
      result.order = SettleOrder(counted, OrderStatus::kPaid, "", now);
      result.outcome = PaymentReportOutcome::kPaid;
      return result;
    }
    case ChargeOutcome::kDeclined: {
      Order counted = order;
      counted.attempts = report.attempt;
      const std::string reason = report.reason.empty() ? "card_declined" : report.reason;
      result.order = SettleOrder(counted, OrderStatus::kFailed, reason, now);
      result.outcome = PaymentReportOutcome::kFailed;
      return result;
    }
    case ChargeOutcome::kRetryable:
      break;
  }
  const RetryDecision decision = DecideRetry(schedule, report.attempt, now);
  if (decision.kind == RetryDecision::Kind::kNeedsAttention) {
    Order counted = order;
    counted.attempts = report.attempt;
    const std::string reason = "payment gateway unavailable after " +
                               std::to_string(report.attempt) + " attempts: " + report.reason;
    result.order = SettleOrder(counted, OrderStatus::kNeedsAttention, reason, now);
    result.outcome = PaymentReportOutcome::kNeedsAttention;
    return result;
  }
  Order next = order;
  next.attempts = report.attempt;
  next.next_attempt_at = decision.next_attempt_at;
  next.updated_at = now;
  PutOrder(next);
  mutations_.emplace_back(
      OrderRetryScheduled{next.order_id, next.attempts, next.next_attempt_at, now});
  result.outcome = PaymentReportOutcome::kRetryScheduled;
  result.order = std::move(next);
  return result;
}

ResolveResult Inventory::ResolveOrder(const std::string& order_id, ResolveChoice choice, Time now) {
  RequireBatch();
  ResolveResult result;
  auto it = orders_.find(order_id);
  if (it == orders_.end()) {
    result.outcome = ResolveOutcome::kOrderNotFound;
    return result;
  }
  const Order order = it->second;
  if (order.status != OrderStatus::kNeedsAttention) {
    result.outcome = ResolveOutcome::kNotNeedsAttention;
    result.order = order;
    return result;
  }
  if (choice == ResolveChoice::kPaid) {
    result.order = SettleOrder(order, OrderStatus::kPaid, "", now);
  } else {
    result.order =
        SettleOrder(order, OrderStatus::kFailed, "resolved as failed by an operator", now);
  }
  result.outcome = ResolveOutcome::kResolved;
  return result;
}

// --- Queries --------------------------------------------------------------------------------

const Order* Inventory::FindOrder(const std::string& order_id) const {
  auto it = orders_.find(order_id);
  return it == orders_.end() ? nullptr : &it->second;
}

void Inventory::SetPending(const std::string& order_id, std::optional<Time> next_attempt_at) {
  auto it = pending_orders_.find(order_id);
  if (it != pending_orders_.end()) {
    pending_by_due_.erase({it->second, order_id});
    pending_orders_.erase(it);
  }
  if (!next_attempt_at) return;
  pending_orders_.emplace(order_id, *next_attempt_at);
  pending_by_due_.emplace(*next_attempt_at, order_id);
}

std::vector<Order> Inventory::DueOrders(Time now, std::size_t count_max) const {
  // Reads only the due head of the queue: O(count_max log n), cheap on the writer thread even
  // with a large backlog behind a slow gateway.
  std::vector<Order> out;
  for (const auto& [next_attempt_at, order_id] : pending_by_due_) {
    if (next_attempt_at > now || out.size() >= count_max) break;
    out.push_back(orders_.at(order_id));
  }
  return out;
}

std::vector<Order> Inventory::OrdersWithStatus(OrderStatus status, std::size_t count_max) const {
  std::vector<const Order*> found;
  for (const auto& [order_id, order] : orders_) {
    if (order.status == status) found.push_back(&order);
  }
  std::sort(found.begin(), found.end(), [](const Order* a, const Order* b) {
    return a->created_at != b->created_at ? a->created_at < b->created_at
                                          : a->order_id < b->order_id;
  });
  if (found.size() > count_max) found.resize(count_max);
  std::vector<Order> out;
  out.reserve(found.size());
  for (const Order* order : found) out.push_back(*order);
  return out;
}

std::int64_t Inventory::EventSequence(const std::string& sku_id) const {
  auto it = books_.find(sku_id);
  return it == books_.end() ? 0 : it->second.event_sequence;
}

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
  // Every order's reservation is in the state its order implies.
  for (const auto& [order_id, order] : orders_) {
    auto it = reservations_.find(order.reservation_id);
    FS_CHECK(it != reservations_.end());
    const ReservationStatus status = it->second.status;
    switch (order.status) {
      case OrderStatus::kPending:
      case OrderStatus::kNeedsAttention:
        FS_CHECK(status == ReservationStatus::kCheckoutPending);
        break;
      case OrderStatus::kPaid:
        FS_CHECK(status == ReservationStatus::kPurchased);
        break;
      case OrderStatus::kFailed:
        FS_CHECK(status == ReservationStatus::kReleased);
        break;
    }
    FS_CHECK((order.status == OrderStatus::kPending) == (pending_orders_.count(order_id) == 1));
  }
  FS_CHECK(pending_by_due_.size() == pending_orders_.size());
}

}  // namespace fs::core
