#include "core/ledger.h"

#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/check.h"

namespace fs::core {

Ledger::Ledger(WaitingRoomPolicy policy)
    : audit_(journal_),
      sales_(journal_, audit_),
      reservations_(journal_, audit_, sales_),
      orders_(journal_, sales_, reservations_),
      rooms_(policy, journal_, sales_) {}

void Ledger::RequireBatch() const {
  owner_.AssertCurrent();
  FS_CHECK(journal_.in_batch());
}

void Ledger::LoadSale(Sale sale) {
  if (rooms_.HasRoom(sale.sku_id)) sale.waiting_room = WaitingRoomMode::kOn;
  sales_.Load(sale);
}

std::string Ledger::LoadStoredCounts(const std::string& sku_id, std::int64_t held,
                                     std::int64_t sold) {
  Book* book = sales_.Find(sku_id);
  if (book == nullptr) return "counters of an unknown sale " + sku_id;
  if (book->counters.held != held) {
    return "sale " + sku_id + " holds " + std::to_string(held) + " units in the store but " +
           std::to_string(book->counters.held) + " in its active reservations";
  }
  if (sold < book->counters.sold || sold < 0) return "sold units of " + sku_id + " out of range";
  book->counters.sold = sold;
  if (book->counters.available() < 0) return "sale " + sku_id + " is oversold in the store";
  return "";
}

std::string Ledger::LoadStoredUserUnits(const std::string& sku_id, const std::string& user_id,
                                        std::int32_t units) {
  Book* book = sales_.Find(sku_id);
  if (book == nullptr) return "user units of an unknown sale " + sku_id;
  if (units == 0) return "";
  const auto known = book->user_units.find(user_id);
  const std::int32_t active = known == book->user_units.end() ? 0 : known->second;
  if (units < active || units > book->sale.per_user_limit) {
    return "user units of " + sku_id + " out of range";
  }
  book->user_units[user_id] = units;
  return "";
}

// --- Shared stores --------------------------------------------------------------------------

void Ledger::SyncSale(const Sale& sale) {
  owner_.AssertCurrent();
  sales_.Sync(sale);
}

void Ledger::SyncReservation(const Reservation& reservation) {
  owner_.AssertCurrent();
  reservations_.Sync(reservation);
}

void Ledger::SyncIdempotency(const IdempotencyRecord& record) {
  owner_.AssertCurrent();
  reservations_.SyncIdempotency(record);
}

void Ledger::SyncOrder(const Order& order) {
  owner_.AssertCurrent();
  orders_.Sync(order);
}

void Ledger::SyncEventSequence(const std::string& sku_id, std::int64_t sequence) {
  owner_.AssertCurrent();
  sales_.SyncEventSequence(sku_id, sequence);
}

void Ledger::SyncAuditHead(AuditHead head) {
  owner_.AssertCurrent();
  audit_.Sync(std::move(head));
}

void Ledger::CheckSynced() {
  owner_.AssertCurrent();
  reservations_.CheckSynced();
}

// --- Batch protocol -------------------------------------------------------------------------

void Ledger::BeginBatch() {
  owner_.AssertCurrent();
  journal_.Begin();
}

std::vector<std::string> Ledger::CommitBatch() {
  owner_.AssertCurrent();
  return journal_.Commit();
}

void Ledger::RollbackBatch() {
  owner_.AssertCurrent();
  journal_.Rollback();
}

// --- Commands -------------------------------------------------------------------------------

CreateSaleResult Ledger::CreateSale(Sale sale, Time now, std::string_view request_id) {
  RequireBatch();
  CreateSaleResult result = sales_.Create(std::move(sale), now, request_id);
  if (result.outcome == CreateSaleOutcome::kCreated &&
      result.sale->waiting_room == WaitingRoomMode::kOn) {
    rooms_.CreateRoom(result.sale->sku_id, now);
  }
  return result;
}

ReserveResult Ledger::Reserve(const ReserveCommand& command, const PresentedPass& pass,
                              const std::string& reservation_id, Time now) {
  RequireBatch();
  if (auto replayed = reservations_.Replay(command, now)) return std::move(*replayed);
  Book* book = sales_.Find(command.sku_id);
  if (book == nullptr) return reservations_.Refuse(command, ReserveOutcome::kSkuNotFound, {}, now);
  if (book->sale.waiting_room == WaitingRoomMode::kOn) {
    return ReserveWithPass(*book, command, pass, reservation_id, now);
  }
  return reservations_.Reserve(*book, command, reservation_id, now);
}

ReserveResult Ledger::ReserveWithPass(Book& book, const ReserveCommand& command,
                                      const PresentedPass& pass, const std::string& reservation_id,
                                      Time now) {
  WaitingRoom* room = rooms_.Find(command.sku_id);
  if (room == nullptr) return reservations_.Reserve(book, command, reservation_id, now);
  const PassCheck check = rooms_.CheckPass(*room, pass, command.user_id, now);
  if (check != PassCheck::kValid) {
    const ReserveOutcome refusal = check == PassCheck::kMissing ? ReserveOutcome::kQueuePassRequired
                                                                : ReserveOutcome::kQueuePassInvalid;
    return reservations_.Refuse(command, refusal, PassCheckName(check), now);
  }
  ReserveResult result = reservations_.Reserve(book, command, reservation_id, now);
  if (result.outcome == ReserveOutcome::kReserved)
    rooms_.UsePass(*room, pass.ticket_id, reservation_id, now);
  return result;
}

ReleaseResult Ledger::Release(const std::string& reservation_id, const std::string& user_id,
                              Time now, std::string_view request_id) {
  RequireBatch();
  return reservations_.Release(reservation_id, user_id, now, request_id);
}

std::size_t Ledger::ExpireDue(Time now, std::size_t count_max) {
  RequireBatch();
  return reservations_.ExpireDue(now, count_max);
}

void Ledger::PruneIdempotency(Time before) {
  RequireBatch();
  reservations_.PruneIdempotency(before);
}

AdminSaleResult Ledger::SetSaleOverride(const std::string& sku_id, SaleOverride to, Time now,
                                        std::string_view request_id) {
  RequireBatch();
  return sales_.SetOverride(sku_id, to, now, request_id);
}

AdminSaleResult Ledger::UpdateSale(const std::string& sku_id, const SalePatch& patch, Time now,
                                   std::string_view request_id) {
  RequireBatch();
  return sales_.UpdateDetails(sku_id, patch, now, request_id);
}

AdminSaleResult Ledger::AdjustStock(const std::string& sku_id, std::int64_t delta, Time now,
                                    std::string_view request_id) {
  RequireBatch();
  return sales_.AdjustStock(sku_id, delta, now, request_id);
}

CheckoutResult Ledger::Checkout(const CheckoutCommand& command, const std::string& order_id,
                                Time now) {
  RequireBatch();
  return orders_.Checkout(command, order_id, now);
}

PaymentReportResult Ledger::RecordPayment(const PaymentReport& report,
                                          const RetrySchedule& schedule, Time now) {
  RequireBatch();
  return orders_.RecordPayment(report, schedule, now);
}

ResolveResult Ledger::ResolveOrder(const std::string& order_id, ResolveChoice choice, Time now,
                                   std::string_view request_id) {
  RequireBatch();
  return orders_.Resolve(order_id, choice, now, request_id);
}

void Ledger::StoreReply(const ReserveCommand& command, StoredReply reply, Time now) {
  RequireBatch();
  FS_CHECK(!command.idempotency_key.empty());
  reservations_.StoreReply(command.user_id, command.idempotency_key, ReserveFingerprint(command),
                           std::move(reply), now);
}

void Ledger::StoreReply(const CheckoutCommand& command, StoredReply reply, Time now) {
  RequireBatch();
  FS_CHECK(!command.idempotency_key.empty());
  reservations_.StoreReply(command.user_id, command.idempotency_key, CheckoutFingerprint(command),
                           std::move(reply), now);
}

void Ledger::AppendAudit(AuditEvent event) {
  RequireBatch();
  audit_.Append(std::move(event));
}

JoinResult Ledger::JoinQueue(const std::string& sku_id, const std::string& user_id,
                             const std::string& ticket_id, Time now) {
  RequireBatch();
  return rooms_.Join(sku_id, user_id, ticket_id, now);
}

void Ledger::TickRooms(Time now, base::Rng& rng) {
  RequireBatch();
  rooms_.Tick(now, rng);
}

// --- Queries --------------------------------------------------------------------------------

std::optional<SaleSnapshot> Ledger::FindSale(const std::string& sku_id) const {
  const Book* book = sales_.Find(sku_id);
  if (book == nullptr) return std::nullopt;
  return SaleSnapshot{book->sale, book->counters};
}

std::vector<std::string> Ledger::SkuIds() const {
  std::vector<std::string> out;
  out.reserve(sales_.books().size());
  for (const auto& [sku_id, book] : sales_.books()) out.push_back(sku_id);
  return out;
}

std::int32_t Ledger::UserUnits(const std::string& sku_id, const std::string& user_id) const {
  const Book* book = sales_.Find(sku_id);
  if (book == nullptr) return 0;
  auto units = book->user_units.find(user_id);
  return units == book->user_units.end() ? 0 : units->second;
}

std::int64_t Ledger::EventSequence(const std::string& sku_id) const {
  const Book* book = sales_.Find(sku_id);
  return book == nullptr ? 0 : book->event_sequence;
}

void Ledger::CheckInvariants() const {
  std::map<std::string, StockCounters> counted;
  std::map<std::string, std::unordered_map<std::string, std::int32_t>> units;
  for (const auto& [id, reservation] : reservations_.all()) {
    StockCounters& c = counted[reservation.sku_id];
    if (IsHeld(reservation.status)) c.held += reservation.quantity;
    if (reservation.status == ReservationStatus::kPurchased) c.sold += reservation.quantity;
    if (CountsTowardUserLimit(reservation.status))
      units[reservation.sku_id][reservation.user_id] += reservation.quantity;
  }
  for (const auto& [sku_id, book] : sales_.books()) {
    const StockCounters& c = counted[sku_id];
    FS_CHECK(c.held == book.counters.held);
    FS_CHECK(c.sold <= book.counters.sold);  // retired purchases count only in the counter
    FS_CHECK(book.counters.total == book.sale.total_stock);
    FS_CHECK(book.counters.available() >= 0);
    // Every unit in memory is counted; retired purchases may add units beyond them.
    for (const auto& [user_id, n] : units[sku_id]) {
      auto it = book.user_units.find(user_id);
      FS_CHECK(it != book.user_units.end());
      FS_CHECK(it->second >= n);
    }
    for (const auto& [user_id, n] : book.user_units) {
      FS_CHECK(n > 0);
      FS_CHECK(n <= book.sale.per_user_limit);
    }
  }
  // Every order's reservation is in the state its order implies.
  orders_.CheckInvariants();
}

}  // namespace fs::core
