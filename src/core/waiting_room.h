// The fair waiting room: for a sale created with waiting_room on, reserving
// needs a single-use pass that the room hands out in a fair order at a fixed rate.
//
//   - Before the start, from `prequeue` ahead of starts_at, users join and get a ticket (one
//     per user; joining again returns the same ticket).
//   - At the start (the first writer tick at which the sale is no longer SCHEDULED) the room is
//     drawn: the tickets that joined until then get a uniformly random order (Fisher-Yates
//     from a seed taken from the injected Rng), so joining earlier or more often gives no edge.
//     Later tickets queue FIFO behind them.
//   - Tickets are admitted from the queue's head at `admit_per_second` (a token bucket holding
//     one second of admissions), and only while fewer passes are live than units available:
//     a pass not used within `pass_ttl` expires and the next ticket is admitted in its place.
//   - When nothing is available and nothing held could come back (held == 0), everyone waiting
//     is SOLD_OUT at once; when units return (expiry, release, failed payment, more stock)
//     admission resumes by itself, because both facts are read from the stock counters.
//
// Scale: a room of millions of tickets costs O(1) per join, admission and status query
// (position = queue index - admitted count), O(log live passes) per pass use or expiry, and
// O(n) once for the draw.
//
// Durability: every change returns the Mutation that stores it (core/mutation.h); the draw is
// stored as its seed, and recovery replays DrawOrder (a persisted algorithm: never change it).
// Rollback: every change records its undo in the ledger's one journal (core/journal.h), so a
// failed commit leaves the rooms as they were.
//
// The ledger's last part. Depends on: the journal and sales (read only: a room admits by the
// sale's phase and counters). Pure: no I/O, no clock (time is an argument), randomness from
// the caller's Rng. Thread-safety: none. Exactly one thread (the writer) owns the rooms.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/random.h"
#include "core/inventory.h"
#include "core/journal.h"
#include "core/queue_types.h"
#include "core/sales.h"

namespace fs::core {

struct WaitingRoomPolicy {
  // Joins open this long before starts_at (the pre-queue window).
  std::chrono::seconds prequeue{900};
  // Tickets admitted per second at most (also the burst: the bucket holds one second).
  std::int64_t admit_per_second = 100;
  // How long an admitted ticket's pass is valid.
  std::chrono::seconds pass_ttl{60};
};

// Bounds of the policy (beyond them a value is a typo, not a policy) and of one room.
inline constexpr std::int64_t kAdmitPerSecondMax = 1'000'000;
inline constexpr std::int64_t kPassTtlSecondsMax = 3600;
inline constexpr std::int64_t kPrequeueSecondsMax = 7 * 24 * 3600;
// Tickets of one room at most: 10M tickets are ~2 GiB of writer memory; past that a join is
// told 503 WAITING_ROOM_FULL instead of growing without bound.
inline constexpr std::size_t kQueueTicketsMax = 10'000'000;

// "" when valid, else the reason.
std::string ValidateWaitingRoomPolicy(const WaitingRoomPolicy& policy);

enum class TicketStatus : std::uint8_t {
  kWaiting,   // in the queue (before the draw: waiting for the start)
  kAdmitted,  // holds a live pass
  kSoldOut,   // waiting, but nothing is left and nothing held could come back
  kExpired,   // its pass was not used in time
  kUsed,      // its pass allowed a reservation
  kClosed,    // waiting when the sale closed
};
std::string_view TicketStatusName(TicketStatus status);

struct TicketView {
  QueueTicket ticket;
  TicketStatus status = TicketStatus::kWaiting;
  // 1 = next to be admitted; set only for kWaiting after the draw.
  std::optional<std::int64_t> position;
  // kWaiting only: before the draw, the seconds until the start; after it, position divided
  // by the admission rate (a lower bound: admission also waits for stock).
  std::optional<std::int64_t> estimated_wait_seconds;
  // When the owner should read the ticket again (SuggestedPollDelay); nullopt when there is
  // nothing to wait for (ADMITTED: reserve now; EXPIRED, USED, CLOSED: over).
  std::optional<std::chrono::milliseconds> poll_after;
};

// The delay the server suggests before the next read of a ticket: about half the estimated
// wait, so a read lands before the admission, within [kPollAfterMin, kPollAfterMax] (SOLD_OUT:
// kPollAfterSoldOut, in case units come back). Spreads a room's reads over time instead of
// every client polling every second.
inline constexpr std::chrono::milliseconds kPollAfterMin{1000};
inline constexpr std::chrono::milliseconds kPollAfterMax{30'000};
inline constexpr std::chrono::milliseconds kPollAfterSoldOut{5000};
std::optional<std::chrono::milliseconds> SuggestedPollDelay(const TicketView& view);

enum class JoinOutcome : std::uint8_t {
  kJoined,
  kAlreadyJoined,  // the user's existing ticket
  kSkuNotFound,
  kNoWaitingRoom,  // the sale was created without a waiting room
  kNotOpenYet,     // before the pre-queue window
  kSaleClosed,
  kRoomFull,
};

struct JoinResult {
  JoinOutcome outcome = JoinOutcome::kSkuNotFound;
  std::optional<TicketView> view;  // kJoined and kAlreadyJoined
};

// Why a presented pass does (not) allow a reserve.
enum class PassCheck : std::uint8_t {
  kValid,
  kMissing,        // no pass presented
  kMalformed,      // not a pass, or its signature is wrong
  kWrongHolder,    // signed for another user or another sale
  kUnknownTicket,  // no such ticket of this user, or not the pass it was given
  kNotAdmitted,
  kExpired,
  kUsed,
};
std::string_view PassCheckName(PassCheck check);

// Where the room's sale stands, read from the inventory.
enum class SalePhase : std::uint8_t { kBeforeStart, kStarted, kClosed };
struct SaleState {
  SalePhase phase = SalePhase::kBeforeStart;
  StockCounters counters;
  std::optional<Time> starts_at;
};
SaleState SaleStateOf(const Sale& sale, const StockCounters& counters, Time now);

// The queue order of the first `count` tickets drawn with `seed`: their join_seq values
// (1..count) in queue order. Fisher-Yates driven by SplitMix64 with rejection sampling (no
// modulo bias). Persisted algorithm: recovery replays it from the stored seed.
std::vector<std::int64_t> DrawOrder(std::uint64_t seed, std::int64_t count);

struct WaitingRoomStats {
  std::string sku_id;
  std::int64_t waiting = 0;  // tickets not admitted yet (SOLD_OUT ones included)
  std::int64_t admitted_total = 0;
  std::int64_t live_passes = 0;
  std::int64_t used_total = 0;
  std::int64_t expired_total = 0;  // passes that expired unused
  // Tickets told SOLD_OUT at once, summed over every time the room became sold out
  // (this process's lifetime).
  std::int64_t sold_out_notified_total = 0;
  bool drawn = false;
  bool sold_out = false;
};

// One sale's room.
class WaitingRoom {
 public:
  // Changes record their undo in `journal`.
  WaitingRoom(WaitingRoomRecord record, const WaitingRoomPolicy& policy, Journal& journal);
  WaitingRoom(const WaitingRoom&) = delete;
  WaitingRoom& operator=(const WaitingRoom&) = delete;

  // --- Recovery (before any command) ---
  // REQUIRES: tickets in join_seq order 1, 2, 3...
  void LoadTicket(const QueueTicket& ticket);
  // Replays the draw and rebuilds the live passes. "" on success, else what is inconsistent
  // (e.g. admitted tickets that are not a prefix of the queue).
  std::string FinishLoad(Time now);

  // --- Commands: each returns the mutations storing its change ---
  // REQUIRES: no ticket of `user_id`, ticket_id unused, ticket_count() < kQueueTicketsMax.
  Mutation Join(const std::string& user_id, const std::string& ticket_id, Time now);
  // Draws at the start, expires passes, admits by rate and stock, tracks sold out.
  std::vector<Mutation> Tick(Time now, const SaleState& state, base::Rng& rng);
  PassCheck CheckPass(const PresentedPass& pass, const std::string& user_id, Time now) const;
  // REQUIRES: CheckPass(...) == kValid for this ticket at `now`.
  Mutation UsePass(const std::string& ticket_id, const std::string& reservation_id, Time now);

  // --- Queries ---
  // The ticket if it exists and belongs to `user_id`.
  std::optional<TicketView> Find(const std::string& ticket_id, const std::string& user_id, Time now,
                                 const SaleState& state) const;
  std::optional<TicketView> FindByUser(const std::string& user_id, Time now,
                                       const SaleState& state) const;
  WaitingRoomStats Stats() const;
  const WaitingRoomRecord& record() const { return record_; }
  std::size_t ticket_count() const { return tickets_.size(); }

 private:
  struct Ticket {
    std::string ticket_id;
    std::string user_id;
    Time joined_at{};
    std::optional<Time> admitted_at;
    std::optional<Time> pass_expires_at;
    std::optional<std::string> used_reservation_id;
    std::optional<Time> used_at;
    std::int64_t queue_index = -1;  // -1 until placed in the queue (at the draw or join)
  };
  Mutation Draw(std::uint64_t seed, Time now);
  Mutation Admit(Time now);
  void Refill(Time now);
  static void Undo(void* self, undo::Change& change);
  void Record(undo::Change change) { journal_.Record(this, &WaitingRoom::Undo, std::move(change)); }
  void Restore(const undo::TicketJoined&);
  void Restore(const undo::RoomDrawn&);
  void Restore(const undo::TicketAdmitted&);
  void Restore(const undo::PassExpired& expired);
  void Restore(const undo::PassUsed& use);
  void Restore(const undo::Tokens& tokens);
  void Restore(const undo::SoldOutChanged& sold_out);
  // Entries of other parts never reach a room.
  template <typename Other>
  void Restore(const Other&) {
    FS_CHECK(false);
  }
  std::int64_t waiting() const;
  bool SoldOut(const SaleState& state) const;
  TicketView View(std::size_t index, Time now, const SaleState& state) const;
  std::int64_t bucket_milli() const;

  WaitingRoomRecord record_;
  const WaitingRoomPolicy& policy_;
  // Index = join_seq - 1. A deque: elements never move, so the maps' string_views stay valid.
  std::deque<Ticket> tickets_;
  std::unordered_map<std::string_view, std::size_t> by_id_;
  std::unordered_map<std::string_view, std::size_t> by_user_;
  std::vector<std::size_t> queue_;  // ticket indexes in queue order (after the draw)
  std::size_t head_ = 0;            // queue_[0, head_) are admitted
  std::set<std::pair<Time, std::size_t>> live_passes_;  // (pass_expires_at, index)
  std::int64_t tokens_milli_ = 0;                       // admissions available, in thousandths
  Time refilled_at_{};
  std::int64_t used_total_ = 0;
  std::int64_t expired_total_ = 0;
  bool sold_out_ = false;
  std::int64_t sold_out_notified_total_ = 0;
  Journal& journal_;
};

// Every sale's room. Changes go into the ledger's batch (the journal's mutations and undo).
class WaitingRooms {
 public:
  WaitingRooms(WaitingRoomPolicy policy, Journal& journal, const Sales& sales)
      : policy_(policy), journal_(journal), sales_(sales) {}
  WaitingRooms(const WaitingRooms&) = delete;
  WaitingRooms& operator=(const WaitingRooms&) = delete;

  // --- Recovery ---
  void LoadRoom(const WaitingRoomRecord& record);
  // REQUIRES: the ticket's room was loaded; tickets of a room in join_seq order.
  void LoadTicket(const QueueTicket& ticket);
  // "" on success, else the first inconsistency found.
  std::string FinishLoad(Time now);
  bool HasRoom(const std::string& sku_id) const { return rooms_.count(sku_id) == 1; }

  // --- Commands (REQUIRES: inside a batch) ---
  // The room of a sale just created with waiting_room on.
  void CreateRoom(const std::string& sku_id, Time now);
  JoinResult Join(const std::string& sku_id, const std::string& user_id,
                  const std::string& ticket_id, Time now);
  void Tick(Time now, base::Rng& rng);
  // The room's pass rule for a reserve (kValid: go ahead).
  PassCheck CheckPass(WaitingRoom& room, const PresentedPass& pass, const std::string& user_id,
                      Time now) const {
    return room.CheckPass(pass, user_id, now);
  }
  // The pass allowed `reservation_id` (created earlier in this batch).
  void UsePass(WaitingRoom& room, const std::string& ticket_id, const std::string& reservation_id,
               Time now) {
    journal_.Add(room.UsePass(ticket_id, reservation_id, now));
  }

  // --- Queries ---
  WaitingRoom* Find(const std::string& sku_id);
  std::optional<TicketView> FindTicket(const std::string& sku_id, const std::string& ticket_id,
                                       const std::string& user_id, Time now) const;
  std::vector<WaitingRoomStats> Stats() const;
  const WaitingRoomPolicy& policy() const { return policy_; }

 private:
  static void Undo(void* self, undo::Change& change);
  SaleState StateOf(const std::string& sku_id, Time now) const;

  const WaitingRoomPolicy policy_;
  Journal& journal_;
  const Sales& sales_;
  std::map<std::string, std::unique_ptr<WaitingRoom>> rooms_;
};

}  // namespace fs::core
