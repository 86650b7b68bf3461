#include "core/waiting_room.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace fs::core {
namespace {

// A token is one admission; the bucket counts thousandths so integer rates and millisecond
// clocks refill exactly (rate * elapsed ms = thousandths).
constexpr std::int64_t kMilliPerToken = 1000;

// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator whose output is fixed by
// its definition, so a stored seed replays the same draw on any platform and compiler.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) by rejection: values below 2^64 mod bound are redrawn, so every
  // result has exactly the same number of preimages. REQUIRES: bound > 0.
  std::uint64_t Below(std::uint64_t bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    for (;;) {
      const std::uint64_t value = Next();
      if (value >= threshold) return value % bound;
    }
  }

 private:
  std::uint64_t state_;
};

}  // namespace

std::string ValidateWaitingRoomPolicy(const WaitingRoomPolicy& policy) {
  if (policy.admit_per_second < 1 || policy.admit_per_second > kAdmitPerSecondMax)
    return "the admission rate must be between 1 and 1000000 per second";
  if (policy.pass_ttl.count() < 1 || policy.pass_ttl.count() > kPassTtlSecondsMax)
    return "the pass lifetime must be between 1 and 3600 seconds";
  if (policy.prequeue.count() < 0 || policy.prequeue.count() > kPrequeueSecondsMax)
    return "the pre-queue window must be between 0 and 604800 seconds";
  return "";
}

std::string_view TicketStatusName(TicketStatus status) {
  switch (status) {
    case TicketStatus::kWaiting:
      return "WAITING";
    case TicketStatus::kAdmitted:
      return "ADMITTED";
    case TicketStatus::kSoldOut:
      return "SOLD_OUT";
    case TicketStatus::kExpired:
      return "EXPIRED";
    case TicketStatus::kUsed:
      return "USED";
    case TicketStatus::kClosed:
      return "CLOSED";
  }
  return "UNKNOWN";
}

std::string_view PassCheckName(PassCheck check) {
  switch (check) {
    case PassCheck::kValid:
      return "valid";
    case PassCheck::kMissing:
      return "missing";
    case PassCheck::kMalformed:
      return "malformed";
    case PassCheck::kWrongHolder:
      return "wrong_holder";
    case PassCheck::kUnknownTicket:
      return "unknown_ticket";
    case PassCheck::kNotAdmitted:
      return "not_admitted";
    case PassCheck::kExpired:
      return "expired";
    case PassCheck::kUsed:
      return "used";
  }
  return "unknown";
}

SaleState SaleStateOf(const Sale& sale, const StockCounters& counters, Time now) {
  SaleState state;
  state.counters = counters;
  state.starts_at = sale.starts_at;
  switch (ComputeSaleStatus(sale, counters, now)) {
    case SaleStatus::kScheduled:
      state.phase = SalePhase::kBeforeStart;
      break;
    case SaleStatus::kOpen:
    case SaleStatus::kSoldOut:
      state.phase = SalePhase::kStarted;
      break;
    case SaleStatus::kClosed:
      state.phase = SalePhase::kClosed;
      break;
  }
  return state;
}

std::vector<std::int64_t> DrawOrder(std::uint64_t seed, std::int64_t count) {
  FS_CHECK(count >= 0);
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i) + 1;
  SplitMix64 random(seed);
  for (std::size_t i = order.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(random.Below(i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

// --- WaitingRoom ----------------------------------------------------------------------------

WaitingRoom::WaitingRoom(WaitingRoomRecord record, const WaitingRoomPolicy& policy,
                         Journal& journal)
    : record_(std::move(record)), policy_(policy), journal_(journal) {}

std::int64_t WaitingRoom::bucket_milli() const { return policy_.admit_per_second * kMilliPerToken; }

void WaitingRoom::LoadTicket(const QueueTicket& ticket) {
  FS_CHECK(ticket.sku_id == record_.sku_id);
  FS_CHECK(ticket.join_seq == static_cast<std::int64_t>(tickets_.size()) + 1);
  Ticket& t = tickets_.emplace_back();
  t.ticket_id = ticket.ticket_id;
  t.user_id = ticket.user_id;
  t.joined_at = ticket.joined_at;
  t.admitted_at = ticket.admitted_at;
  t.pass_expires_at = ticket.pass_expires_at;
  t.used_reservation_id = ticket.used_reservation_id;
  t.used_at = ticket.used_at;
  const std::size_t index = tickets_.size() - 1;
  by_id_.emplace(t.ticket_id, index);
  by_user_.emplace(t.user_id, index);
}

std::string WaitingRoom::FinishLoad(Time now) {
  if (by_id_.size() != tickets_.size() || by_user_.size() != tickets_.size())
    return "room " + record_.sku_id + ": duplicate ticket id or user";
  if (record_.draw_seed) {
    if (record_.prequeue_count < 0 ||
        record_.prequeue_count > static_cast<std::int64_t>(tickets_.size()))
      return "room " + record_.sku_id + ": pre-queue count out of range";
    for (std::int64_t join_seq : DrawOrder(*record_.draw_seed, record_.prequeue_count))
      queue_.push_back(static_cast<std::size_t>(join_seq - 1));
    for (std::size_t i = static_cast<std::size_t>(record_.prequeue_count); i < tickets_.size(); ++i)
      queue_.push_back(i);
    for (std::size_t q = 0; q < queue_.size(); ++q)
      tickets_[queue_[q]].queue_index = static_cast<std::int64_t>(q);
  }
  // Admission follows the queue: the admitted tickets are exactly a prefix of it.
  while (head_ < queue_.size() && tickets_[queue_[head_]].admitted_at) ++head_;
  for (std::size_t q = head_; q < queue_.size(); ++q) {
    if (tickets_[queue_[q]].admitted_at)
      return "room " + record_.sku_id + ": admitted tickets are not a prefix of the queue";
  }
  for (std::size_t i = 0; i < tickets_.size(); ++i) {
    const Ticket& t = tickets_[i];
    if (!t.admitted_at) {
      if (t.used_reservation_id) return "room " + record_.sku_id + ": used without admission";
      continue;
    }
    if (!record_.draw_seed) return "room " + record_.sku_id + ": admitted before the draw";
    if (!t.pass_expires_at) return "room " + record_.sku_id + ": admitted without a pass";
    if (t.used_reservation_id) {
      ++used_total_;
    } else if (*t.pass_expires_at <= now) {
      ++expired_total_;
    } else {
      live_passes_.emplace(*t.pass_expires_at, i);
    }
  }
  tokens_milli_ = bucket_milli();
  refilled_at_ = now;
  return "";
}

void WaitingRoom::Undo(void* self, undo::Change& change) {
  WaitingRoom& room = *static_cast<WaitingRoom*>(self);
  std::visit([&room](auto& restore) { room.Restore(restore); }, change);
}

void WaitingRoom::Restore(const undo::TicketJoined&) {
  const Ticket& t = tickets_.back();
  by_id_.erase(t.ticket_id);
  by_user_.erase(t.user_id);
  if (t.queue_index >= 0) queue_.pop_back();
  tickets_.pop_back();
}

void WaitingRoom::Restore(const undo::RoomDrawn&) {
  for (std::size_t index : queue_) tickets_[index].queue_index = -1;
  queue_.clear();
  record_.draw_seed.reset();
  record_.drawn_at.reset();
  record_.prequeue_count = 0;
}

void WaitingRoom::Restore(const undo::TicketAdmitted&) {
  FS_CHECK(head_ > 0);
  --head_;
  Ticket& t = tickets_[queue_[head_]];
  live_passes_.erase({*t.pass_expires_at, queue_[head_]});
  t.admitted_at.reset();
  t.pass_expires_at.reset();
}

void WaitingRoom::Restore(const undo::PassExpired& expired) {
  live_passes_.emplace(expired.expires_at, expired.index);
  --expired_total_;
}

void WaitingRoom::Restore(const undo::PassUsed& use) {
  Ticket& t = tickets_[use.index];
  t.used_reservation_id.reset();
  t.used_at.reset();
  live_passes_.emplace(*t.pass_expires_at, use.index);
  --used_total_;
}

void WaitingRoom::Restore(const undo::Tokens& tokens) {
  tokens_milli_ = tokens.tokens_milli;
  refilled_at_ = tokens.refilled_at;
}

void WaitingRoom::Restore(const undo::SoldOutChanged& sold_out) {
  sold_out_ = sold_out.sold_out;
  sold_out_notified_total_ = sold_out.notified_total;
}

Mutation WaitingRoom::Join(const std::string& user_id, const std::string& ticket_id, Time now) {
  FS_CHECK(by_user_.count(user_id) == 0);
  FS_CHECK(by_id_.count(ticket_id) == 0);
  FS_CHECK(tickets_.size() < kQueueTicketsMax);
  Ticket& t = tickets_.emplace_back();
  t.ticket_id = ticket_id;
  t.user_id = user_id;
  t.joined_at = now;
  const std::size_t index = tickets_.size() - 1;
  if (record_.draw_seed) {  // after the draw: FIFO behind everyone
    t.queue_index = static_cast<std::int64_t>(queue_.size());
    queue_.push_back(index);
  }
  by_id_.emplace(t.ticket_id, index);
  by_user_.emplace(t.user_id, index);
  Record(undo::TicketJoined{});
  QueueTicket stored;
  stored.ticket_id = ticket_id;
  stored.sku_id = record_.sku_id;
  stored.user_id = user_id;
  stored.join_seq = static_cast<std::int64_t>(tickets_.size());
  stored.joined_at = now;
  return QueueTicketIssued{std::move(stored)};
}

Mutation WaitingRoom::Draw(std::uint64_t seed, Time now) {
  FS_CHECK(!record_.draw_seed);
  FS_CHECK(queue_.empty());
  Record(undo::RoomDrawn{});
  record_.draw_seed = seed;
  record_.drawn_at = now;
  record_.prequeue_count = static_cast<std::int64_t>(tickets_.size());
  queue_.reserve(tickets_.size());
  for (std::int64_t join_seq : DrawOrder(seed, record_.prequeue_count)) {
    const auto index = static_cast<std::size_t>(join_seq - 1);
    tickets_[index].queue_index = static_cast<std::int64_t>(queue_.size());
    queue_.push_back(index);
  }
  // The start begins with a full bucket: the first second's admissions go at once.
  Record(undo::Tokens{tokens_milli_, refilled_at_});
  tokens_milli_ = bucket_milli();
  refilled_at_ = now;
  return WaitingRoomDrawn{record_.sku_id, seed, record_.prequeue_count, now};
}

void WaitingRoom::Refill(Time now) {
  // Recorded even when nothing elapsed: the admissions after it spend tokens.
  Record(undo::Tokens{tokens_milli_, refilled_at_});
  if (now <= refilled_at_) return;
  const std::int64_t elapsed_ms = (now - refilled_at_).count();
  // elapsed is capped at a second: the bucket is full after one anyway, and the product
  // stays far from overflow whatever the clock did.
  const std::int64_t added = std::min<std::int64_t>(elapsed_ms, 1000) * policy_.admit_per_second;
  tokens_milli_ = std::min(bucket_milli(), tokens_milli_ + added);
  refilled_at_ = now;
}

Mutation WaitingRoom::Admit(Time now) {
  FS_CHECK(head_ < queue_.size());
  FS_CHECK(tokens_milli_ >= kMilliPerToken);
  const std::size_t index = queue_[head_];
  Ticket& t = tickets_[index];
  FS_CHECK(!t.admitted_at);
  Record(undo::TicketAdmitted{});
  ++head_;
  tokens_milli_ -= kMilliPerToken;  // the Refill that preceded recorded the tokens' undo
  t.admitted_at = now;
  t.pass_expires_at = now + policy_.pass_ttl;
  live_passes_.emplace(*t.pass_expires_at, index);
  return QueueTicketAdmitted{record_.sku_id, t.ticket_id, now, *t.pass_expires_at};
}

std::int64_t WaitingRoom::waiting() const {
  if (!record_.draw_seed) return static_cast<std::int64_t>(tickets_.size());
  return static_cast<std::int64_t>(queue_.size() - head_);
}

bool WaitingRoom::SoldOut(const SaleState& state) const {
  return record_.draw_seed.has_value() && state.phase == SalePhase::kStarted &&
         state.counters.available() <= 0 && state.counters.held == 0;
}

std::vector<Mutation> WaitingRoom::Tick(Time now, const SaleState& state, base::Rng& rng) {
  std::vector<Mutation> out;
  if (!record_.draw_seed && state.phase == SalePhase::kStarted)
    out.push_back(Draw(rng.Next(), now));
  while (!live_passes_.empty() && live_passes_.begin()->first <= now) {
    const auto [expires_at, index] = *live_passes_.begin();
    Record(undo::PassExpired{expires_at, index});
    live_passes_.erase(live_passes_.begin());
    ++expired_total_;
  }
  if (record_.draw_seed && state.phase == SalePhase::kStarted) {
    Refill(now);
    const std::int64_t available = state.counters.available();
    while (tokens_milli_ >= kMilliPerToken && head_ < queue_.size() &&
           static_cast<std::int64_t>(live_passes_.size()) < available) {
      out.push_back(Admit(now));
    }
  }
  const bool sold_out = SoldOut(state);
  if (sold_out != sold_out_) {
    Record(undo::SoldOutChanged{sold_out_, sold_out_notified_total_});
    if (sold_out) sold_out_notified_total_ += waiting();
    sold_out_ = sold_out;
  }
  return out;
}

PassCheck WaitingRoom::CheckPass(const PresentedPass& pass, const std::string& user_id,
                                 Time now) const {
  switch (pass.kind) {
    case PresentedPass::Kind::kAbsent:
      return PassCheck::kMissing;
    case PresentedPass::Kind::kUnverifiable:
      return PassCheck::kMalformed;
    case PresentedPass::Kind::kSigned:
      break;
  }
  if (pass.user_id != user_id || pass.sku_id != record_.sku_id) return PassCheck::kWrongHolder;
  auto it = by_id_.find(pass.ticket_id);
  if (it == by_id_.end()) return PassCheck::kUnknownTicket;
  const Ticket& t = tickets_[it->second];
  if (t.user_id != user_id) return PassCheck::kUnknownTicket;
  if (!t.admitted_at) return PassCheck::kNotAdmitted;
  if (*t.pass_expires_at != pass.expires_at) return PassCheck::kUnknownTicket;
  if (t.used_reservation_id) return PassCheck::kUsed;
  if (*t.pass_expires_at <= now) return PassCheck::kExpired;
  return PassCheck::kValid;
}

Mutation WaitingRoom::UsePass(const std::string& ticket_id, const std::string& reservation_id,
                              Time now) {
  auto it = by_id_.find(ticket_id);
  FS_CHECK(it != by_id_.end());
  const std::size_t index = it->second;
  Ticket& t = tickets_[index];
  FS_CHECK(t.admitted_at.has_value());
  FS_CHECK(!t.used_reservation_id.has_value());
  FS_CHECK(*t.pass_expires_at > now);
  const std::size_t erased = live_passes_.erase({*t.pass_expires_at, index});
  FS_CHECK(erased == 1);
  Record(undo::PassUsed{index});
  t.used_reservation_id = reservation_id;
  t.used_at = now;
  ++used_total_;
  return QueuePassUsed{record_.sku_id, ticket_id, reservation_id, now};
}

TicketView WaitingRoom::View(std::size_t index, Time now, const SaleState& state) const {
  const Ticket& t = tickets_[index];
  TicketView view;
  view.ticket.ticket_id = t.ticket_id;
  view.ticket.sku_id = record_.sku_id;
  view.ticket.user_id = t.user_id;
  view.ticket.join_seq = static_cast<std::int64_t>(index) + 1;
  view.ticket.joined_at = t.joined_at;
  view.ticket.admitted_at = t.admitted_at;
  view.ticket.pass_expires_at = t.pass_expires_at;
  view.ticket.used_reservation_id = t.used_reservation_id;
  view.ticket.used_at = t.used_at;
  if (t.used_reservation_id) {
    view.status = TicketStatus::kUsed;
  } else if (t.admitted_at) {
    view.status = *t.pass_expires_at > now ? TicketStatus::kAdmitted : TicketStatus::kExpired;
  } else if (state.phase == SalePhase::kClosed) {
    view.status = TicketStatus::kClosed;
  } else if (!record_.draw_seed) {
    view.status = TicketStatus::kWaiting;
    const Time start = state.starts_at.value_or(now);
    const auto until_start = std::chrono::ceil<std::chrono::seconds>(start - now).count();
    view.estimated_wait_seconds = std::max<std::int64_t>(0, until_start);
  } else if (SoldOut(state)) {
    view.status = TicketStatus::kSoldOut;
  } else {
    view.status = TicketStatus::kWaiting;
    const std::int64_t position = t.queue_index - static_cast<std::int64_t>(head_) + 1;
    view.position = position;
    view.estimated_wait_seconds =
        (position + policy_.admit_per_second - 1) / policy_.admit_per_second;
  }
  view.poll_after = SuggestedPollDelay(view);
  return view;
}

std::optional<std::chrono::milliseconds> SuggestedPollDelay(const TicketView& view) {
  switch (view.status) {
    case TicketStatus::kWaiting: {
      const std::chrono::milliseconds half_wait =
          std::chrono::seconds(view.estimated_wait_seconds.value_or(0)) / 2;
      return std::clamp(half_wait, kPollAfterMin, kPollAfterMax);
    }
    case TicketStatus::kSoldOut:
      return kPollAfterSoldOut;
    case TicketStatus::kAdmitted:
    case TicketStatus::kExpired:
    case TicketStatus::kUsed:
    case TicketStatus::kClosed:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<TicketView> WaitingRoom::Find(const std::string& ticket_id,
                                            const std::string& user_id, Time now,
                                            const SaleState& state) const {
  auto it = by_id_.find(ticket_id);
  if (it == by_id_.end() || tickets_[it->second].user_id != user_id) return std::nullopt;
  return View(it->second, now, state);
}

std::optional<TicketView> WaitingRoom::FindByUser(const std::string& user_id, Time now,
                                                  const SaleState& state) const {
  auto it = by_user_.find(user_id);
  if (it == by_user_.end()) return std::nullopt;
  return View(it->second, now, state);
}

WaitingRoomStats WaitingRoom::Stats() const {
  WaitingRoomStats stats;
  stats.sku_id = record_.sku_id;
  stats.waiting = waiting();
  stats.admitted_total = static_cast<std::int64_t>(head_);
  stats.live_passes = static_cast<std::int64_t>(live_passes_.size());
  stats.used_total = used_total_;
  stats.expired_total = expired_total_;
  stats.sold_out_notified_total = sold_out_notified_total_;
  stats.drawn = record_.draw_seed.has_value();
  stats.sold_out = sold_out_;
  return stats;
}

// --- WaitingRooms ---------------------------------------------------------------------------

void WaitingRooms::LoadRoom(const WaitingRoomRecord& record) {
  const bool inserted =
      rooms_.emplace(record.sku_id, std::make_unique<WaitingRoom>(record, policy_, journal_))
          .second;
  FS_CHECK(inserted);
}

void WaitingRooms::LoadTicket(const QueueTicket& ticket) {
  WaitingRoom* room = Find(ticket.sku_id);
  FS_CHECK(room != nullptr);
  room->LoadTicket(ticket);
}

std::string WaitingRooms::FinishLoad(Time now) {
  for (auto& [sku_id, room] : rooms_) {
    std::string problem = room->FinishLoad(now);
    if (!problem.empty()) return problem;
  }
  return "";
}

WaitingRoom* WaitingRooms::Find(const std::string& sku_id) {
  auto it = rooms_.find(sku_id);
  return it == rooms_.end() ? nullptr : it->second.get();
}

SaleState WaitingRooms::StateOf(const std::string& sku_id, Time now) const {
  const Book* book = sales_.Find(sku_id);
  FS_CHECK(book != nullptr);
  return SaleStateOf(book->sale, book->counters, now);
}

void WaitingRooms::Undo(void* self, undo::Change& change) {
  auto& rooms = *static_cast<WaitingRooms*>(self);
  rooms.rooms_.erase(std::get<undo::RoomCreated>(change).sku_id);
}

void WaitingRooms::CreateRoom(const std::string& sku_id, Time now) {
  FS_CHECK(journal_.in_batch());
  FS_CHECK(rooms_.count(sku_id) == 0);
  WaitingRoomRecord record;
  record.sku_id = sku_id;
  record.created_at = now;
  rooms_.emplace(sku_id, std::make_unique<WaitingRoom>(record, policy_, journal_));
  journal_.Record(this, &WaitingRooms::Undo, undo::RoomCreated{sku_id});
  journal_.Add(WaitingRoomCreated{std::move(record)});
}

JoinResult WaitingRooms::Join(const std::string& sku_id, const std::string& user_id,
                              const std::string& ticket_id, Time now) {
  FS_CHECK(journal_.in_batch());
  JoinResult result;
  if (sales_.Find(sku_id) == nullptr) return result;  // kSkuNotFound
  WaitingRoom* room = Find(sku_id);
  if (room == nullptr) {
    result.outcome = JoinOutcome::kNoWaitingRoom;
    return result;
  }
  const SaleState state = StateOf(sku_id, now);
  if (auto existing = room->FindByUser(user_id, now, state)) {
    result.outcome = JoinOutcome::kAlreadyJoined;
    result.view = std::move(existing);
    return result;
  }
  if (state.phase == SalePhase::kClosed) {
    result.outcome = JoinOutcome::kSaleClosed;
    return result;
  }
  if (state.phase == SalePhase::kBeforeStart && state.starts_at &&
      now < *state.starts_at - policy_.prequeue) {
    result.outcome = JoinOutcome::kNotOpenYet;
    return result;
  }
  if (room->ticket_count() >= kQueueTicketsMax) {
    result.outcome = JoinOutcome::kRoomFull;
    return result;
  }
  journal_.Add(room->Join(user_id, ticket_id, now));
  result.outcome = JoinOutcome::kJoined;
  result.view = room->Find(ticket_id, user_id, now, state);
  return result;
}

void WaitingRooms::Tick(Time now, base::Rng& rng) {
  FS_CHECK(journal_.in_batch());
  for (auto& [sku_id, room] : rooms_) {
    for (Mutation& change : room->Tick(now, StateOf(sku_id, now), rng))
      journal_.Add(std::move(change));
  }
}

std::optional<TicketView> WaitingRooms::FindTicket(const std::string& sku_id,
                                                   const std::string& ticket_id,
                                                   const std::string& user_id, Time now) const {
  auto it = rooms_.find(sku_id);
  if (it == rooms_.end()) return std::nullopt;
  return it->second->Find(ticket_id, user_id, now, StateOf(sku_id, now));
}

std::vector<WaitingRoomStats> WaitingRooms::Stats() const {
  std::vector<WaitingRoomStats> out;
  out.reserve(rooms_.size());
  for (const auto& [sku_id, room] : rooms_) out.push_back(room->Stats());
  return out;
}

}  // namespace fs::core
