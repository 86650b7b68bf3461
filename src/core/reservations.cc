#include "core/reservations.h"

#include <utility>

#include "base/check.h"
#include "core/order.h"
#include "core/rules.h"

namespace fs::core {

std::string ReserveFingerprint(const ReserveCommand& command) {
  return "reserve|" + command.sku_id + "|" + std::to_string(command.quantity);
}

void Reservations::MapKey(const std::string& user_id, const std::string& key, std::string& out) {
  out.clear();
  out.reserve(user_id.size() + key.size() + 1);
  out += user_id;
  out += '\n';  // user ids and keys never contain a newline (validated at the edge)
  out += key;
}

// --- Recovery and shared-store refresh -----------------------------------------------------

void Reservations::ApplyShare(Book& book, const Reservation& reservation, int sign) {
  const std::int32_t quantity = sign * reservation.quantity;
  if (IsHeld(reservation.status)) book.counters.held += quantity;
  if (reservation.status == ReservationStatus::kPurchased) book.counters.sold += quantity;
  if (!CountsTowardUserLimit(reservation.status)) return;
  std::int32_t& units = book.user_units[reservation.user_id];
  units += quantity;
  FS_CHECK(units >= 0);
  if (units == 0) book.user_units.erase(reservation.user_id);
}

void Reservations::Load(const Reservation& reservation) {
  FS_CHECK(!journal_.in_batch());
  Book* book = sales_.Find(reservation.sku_id);
  FS_CHECK(book != nullptr);
  ApplyShare(*book, reservation, +1);
  if (reservation.status == ReservationStatus::kReserved)
    expiry_.emplace(reservation.expires_at, reservation.reservation_id);
  if (!IsHeld(reservation.status)) finished_.push_back(reservation.reservation_id);
  const bool inserted = reservations_.emplace(reservation.reservation_id, reservation).second;
  FS_CHECK(inserted);
  // Zero oversell is checked on every load: a store that hands back more than the stock is
  // damaged, and serving from it could sell a unit twice.
  FS_CHECK(book->counters.available() >= 0);
}

void Reservations::LoadIdempotency(const IdempotencyRecord& record) {
  FS_CHECK(!journal_.in_batch());
  std::string map_key;
  MapKey(record.user_id, record.key, map_key);
  idempotency_by_age_.emplace_back(record.created_at, map_key);
  idempotency_[std::move(map_key)] = record;
}

void Reservations::Sync(const Reservation& reservation) {
  FS_CHECK(!journal_.in_batch());
  Book* book = sales_.Find(reservation.sku_id);
  FS_CHECK(book != nullptr);
  auto it = reservations_.find(reservation.reservation_id);
  if (it != reservations_.end()) {
    const Reservation& known = it->second;
    FS_CHECK(known.sku_id == reservation.sku_id);
    FS_CHECK(known.user_id == reservation.user_id);
    FS_CHECK(known.quantity == reservation.quantity);
    if (known.status == reservation.status) return;
    // Take the known row's share out; the stored row's share goes in below.
    ApplyShare(*book, known, -1);
    reservations_.erase(it);
  }
  ApplyShare(*book, reservation, +1);
  if (CountsTowardUserLimit(reservation.status))
    synced_users_.emplace_back(reservation.sku_id, reservation.user_id);
  if (reservation.status == ReservationStatus::kReserved)
    expiry_.emplace(reservation.expires_at, reservation.reservation_id);
  // An ended row not in memory is one this writer never held (created and ended elsewhere
  // since its last sync): its share went in above, once; it is forgotten again.
  if (!IsHeld(reservation.status)) finished_.push_back(reservation.reservation_id);
  reservations_.emplace(reservation.reservation_id, reservation);
}

std::size_t Reservations::RetireFinished() {
  FS_CHECK(!journal_.in_batch());
  std::size_t retired = 0;
  for (const std::string& id : finished_) {
    auto it = reservations_.find(id);
    if (it == reservations_.end() || IsHeld(it->second.status)) continue;
    reservations_.erase(it);
    ++retired;
  }
  finished_.clear();
  return retired;
}

void Reservations::SyncIdempotency(const IdempotencyRecord& record) {
  FS_CHECK(!journal_.in_batch());
  std::string map_key;
  MapKey(record.user_id, record.key, map_key);
  if (idempotency_.count(map_key) == 1) return;
  idempotency_by_age_.emplace_back(record.created_at, map_key);
  idempotency_.emplace(std::move(map_key), record);
}

void Reservations::CheckSynced() {
  for (const auto& [sku_id, book] : sales_.books()) {
    FS_CHECK(book.counters.held >= 0);
    FS_CHECK(book.counters.sold >= 0);
    FS_CHECK(book.counters.available() >= 0);
  }
  // Only the users whose units grew: O(changes), not O(users).
  for (const auto& [sku_id, user_id] : synced_users_) {
    const Book* book = sales_.Find(sku_id);
    FS_CHECK(book != nullptr);
    auto units = book->user_units.find(user_id);
    if (units == book->user_units.end()) continue;
    FS_CHECK(units->second <= book->sale.per_user_limit);
  }
  synced_users_.clear();
}

// --- Idempotency keys ----------------------------------------------------------------------

const IdempotencyRecord* Reservations::FindKey(const std::string& user_id,
                                               const std::string& key) const {
  MapKey(user_id, key, lookup_key_);
  auto it = idempotency_.find(lookup_key_);
  return it == idempotency_.end() ? nullptr : &it->second;
}

void Reservations::StoreReply(const std::string& user_id, const std::string& key,
                              std::string fingerprint, StoredReply reply, Time now) {
  FS_CHECK(journal_.in_batch());
  std::string map_key;
  MapKey(user_id, key, map_key);
  IdempotencyRecord record;
  record.user_id = user_id;
  record.key = key;
  record.request_fingerprint = std::move(fingerprint);
  record.http_status = reply.status;
  record.response_body = std::move(reply.body);
  record.created_at = now;
  journal_.Record(this, &Reservations::Undo, undo::IdempotencyStored{map_key});
  idempotency_by_age_.emplace_back(now, map_key);
  const bool inserted = idempotency_.emplace(std::move(map_key), record).second;
  FS_CHECK(inserted);
  journal_.Add(IdempotencyStored{std::move(record)});
}

void Reservations::PruneIdempotency(Time before) {
  FS_CHECK(journal_.in_batch());
  while (!idempotency_by_age_.empty() && idempotency_by_age_.front().first < before) {
    auto it = idempotency_.find(idempotency_by_age_.front().second);
    if (it != idempotency_.end() && it->second.created_at < before) idempotency_.erase(it);
    idempotency_by_age_.pop_front();
  }
  journal_.Add(IdempotencyPruned{before});
}

void Reservations::Undo(void* self, undo::Change& change) {
  auto& reservations = *static_cast<Reservations*>(self);
  if (auto* key = std::get_if<undo::IdempotencyStored>(&change)) {
    reservations.idempotency_.erase(key->map_key);
    return;
  }
  auto& changed = std::get<undo::ReservationChanged>(change);
  if (!changed.previous) {
    reservations.reservations_.erase(changed.reservation_id);
    return;
  }
  // An expiry popped from the heap in this batch must be scheduled again.
  if (changed.previous->status == ReservationStatus::kReserved)
    reservations.expiry_.emplace(changed.previous->expires_at, changed.reservation_id);
  reservations.reservations_[changed.reservation_id] = std::move(*changed.previous);
}

// --- Queries -------------------------------------------------------------------------------

Reservation* Reservations::Find(const std::string& reservation_id) {
  auto it = reservations_.find(reservation_id);
  return it == reservations_.end() ? nullptr : &it->second;
}

const Reservation* Reservations::Find(const std::string& reservation_id) const {
  auto it = reservations_.find(reservation_id);
  return it == reservations_.end() ? nullptr : &it->second;
}

std::optional<Time> Reservations::NextExpiry() {
  // Drop stale heads so the writer does not wake for nothing.
  while (!expiry_.empty()) {
    const ExpiryEntry& top = expiry_.top();
    auto it = reservations_.find(top.second);
    const bool live = it != reservations_.end() &&
                      it->second.status == ReservationStatus::kReserved &&
                      it->second.expires_at == top.first;
    if (live) return top.first;
    if (journal_.in_batch()) return top.first;  // never drop entries an undo might still need
    expiry_.pop();
  }
  return std::nullopt;
}

// --- Decisions -----------------------------------------------------------------------------

namespace {

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
  if (!command.request_id.empty()) metadata.Add("request_id", command.request_id);
  event.metadata = metadata.Build();
  return event;
}

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

AuditEvent TransitionAuditEvent(const Reservation& reservation, ReservationStatus from,
                                ReservationStatus to, Time now, std::string_view request_id) {
  const TransitionAudit kind = AuditOfTransition(from, to);
  AuditEvent event;
  event.type = kind.type;
  event.outcome = kind.outcome;
  event.failure_reason = kind.failure_reason;
  event.user_id = reservation.user_id;
  event.sku_id = reservation.sku_id;
  event.occurred_at = now;
  AuditMetadata metadata;
  metadata.Add("reservation_id", reservation.reservation_id)
      .Add("quantity", reservation.quantity)
      .Add("from", ReservationStatusName(from))
      .Add("to", ReservationStatusName(to));
  if (!request_id.empty()) metadata.Add("request_id", request_id);
  event.metadata = metadata.Build();
  return event;
}

}  // namespace

std::optional<ReserveResult> Reservations::Replay(const ReserveCommand& command, Time now) {
  if (command.idempotency_key.empty()) return std::nullopt;
  const IdempotencyRecord* record = FindKey(command.user_id, command.idempotency_key);
  if (record == nullptr) return std::nullopt;
  ReserveResult result;
  if (record->request_fingerprint == ReserveFingerprint(command)) {
    // A replay repeats an audited decision; it is not a new one.
    result.outcome = ReserveOutcome::kReplayed;
    result.replay = *record;
    return result;
  }
  return Refuse(command, ReserveOutcome::kIdempotencyKeyReused, {}, now);
}

ReserveResult Reservations::Refuse(const ReserveCommand& command, ReserveOutcome outcome,
                                   std::string_view detail, Time now) {
  FS_CHECK(journal_.in_batch());
  FS_CHECK(outcome != ReserveOutcome::kReserved);
  FS_CHECK(outcome != ReserveOutcome::kReplayed);
  if (audit_.enabled())
    audit_.Append(ReserveAuditEvent(command, outcome, std::nullopt, now, detail));
  ReserveResult result;
  result.outcome = outcome;
  return result;
}

ReserveResult Reservations::Reserve(Book& book, const ReserveCommand& command,
                                    const std::string& reservation_id, Time now) {
  FS_CHECK(journal_.in_batch());
  auto units_it = book.user_units.find(command.user_id);
  const std::int32_t user_units = units_it == book.user_units.end() ? 0 : units_it->second;
  const ReserveOutcome outcome =
      FromDecision(DecideReserve(book.sale, book.counters, user_units, command.quantity, now));
  if (outcome != ReserveOutcome::kReserved) return Refuse(command, outcome, {}, now);

  FS_CHECK(reservations_.find(reservation_id) == reservations_.end());
  Reservation reservation;
  reservation.reservation_id = reservation_id;
  reservation.sku_id = command.sku_id;
  reservation.user_id = command.user_id;
  reservation.quantity = command.quantity;
  reservation.status = ReservationStatus::kReserved;
  reservation.created_at = now;
  reservation.expires_at = now + std::chrono::seconds(book.sale.reservation_ttl_seconds);
  reservation.updated_at = now;

  StockCounters counters = book.counters;
  counters.held += command.quantity;
  sales_.SetCounters(book, counters);
  sales_.AddUserUnits(book, command.user_id, command.quantity);
  journal_.Record(this, &Reservations::Undo,
                  undo::ReservationChanged{reservation_id, std::nullopt});
  reservations_.emplace(reservation_id, reservation);
  expiry_.emplace(reservation.expires_at, reservation_id);
  journal_.Add(ReservationCreated{reservation});
  sales_.AppendEvent(book, event_type::kReservationCreated, reservation.user_id,
                     ReservationEventPayload(reservation, command.request_id), now);
  if (audit_.enabled())
    audit_.Append(ReserveAuditEvent(command, ReserveOutcome::kReserved, reservation, now, {}));
  ReserveResult result;
  result.outcome = ReserveOutcome::kReserved;
  result.reservation = std::move(reservation);
  return result;
}

void Reservations::Transition(Reservation& reservation, ReservationStatus to, Time now,
                              std::string_view request_id) {
  FS_CHECK(IsAllowedTransition(reservation.status, to));
  Book* book = sales_.Find(reservation.sku_id);
  FS_CHECK(book != nullptr);
  journal_.Record(this, &Reservations::Undo,
                  undo::ReservationChanged{reservation.reservation_id, reservation});
  const ReservationStatus from = reservation.status;
  StockCounters counters = book->counters;
  if (IsHeld(from)) counters.held -= reservation.quantity;
  if (IsHeld(to)) counters.held += reservation.quantity;
  if (to == ReservationStatus::kPurchased) counters.sold += reservation.quantity;
  sales_.SetCounters(*book, counters);
  if (CountsTowardUserLimit(from) && !CountsTowardUserLimit(to))
    sales_.AddUserUnits(*book, reservation.user_id, -reservation.quantity);
  reservation.status = to;
  reservation.updated_at = now;
  if (!IsHeld(to)) finished_.push_back(reservation.reservation_id);
  journal_.Add(
      ReservationStatusChanged{reservation.reservation_id, reservation.sku_id, from, to, now});
  if (audit_.enabled()) audit_.Append(TransitionAuditEvent(reservation, from, to, now, request_id));
  // CHECKOUT_PENDING and PURCHASED are told by the order's own events.
  if (to == ReservationStatus::kExpired) {
    sales_.AppendEvent(*book, event_type::kReservationExpired, reservation.user_id,
                       ReservationEventPayload(reservation, request_id), now);
  } else if (to == ReservationStatus::kReleased) {
    sales_.AppendEvent(*book, event_type::kReservationReleased, reservation.user_id,
                       ReservationEventPayload(reservation, request_id), now);
  }
}

ReleaseResult Reservations::Release(const std::string& reservation_id, const std::string& user_id,
                                    Time now, std::string_view request_id) {
  FS_CHECK(journal_.in_batch());
  ReleaseResult result;
  Reservation* reservation = Find(reservation_id);
  if (reservation == nullptr || reservation->user_id != user_id) {
    result.outcome = ReleaseOutcome::kNotFound;
    return result;
  }
  switch (reservation->status) {
    case ReservationStatus::kReserved:
      if (reservation->expires_at <= now) {
        Transition(*reservation, ReservationStatus::kExpired, now, request_id);
        result.outcome = ReleaseOutcome::kExpired;
      } else {
        Transition(*reservation, ReservationStatus::kReleased, now, request_id);
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
  result.reservation = *reservation;
  return result;
}

std::size_t Reservations::ExpireDue(Time now, std::size_t count_max) {
  FS_CHECK(journal_.in_batch());
  std::size_t expired = 0;
  while (expired < count_max && !expiry_.empty() && expiry_.top().first <= now) {
    ExpiryEntry entry = expiry_.top();
    expiry_.pop();
    // Entries are dropped lazily: the reservation may have been released or checked out.
    Reservation* reservation = Find(entry.second);
    if (reservation == nullptr) continue;
    if (reservation->status != ReservationStatus::kReserved) continue;
    if (reservation->expires_at != entry.first) continue;
    Transition(*reservation, ReservationStatus::kExpired, now);
    ++expired;
  }
  return expired;
}

}  // namespace fs::core
