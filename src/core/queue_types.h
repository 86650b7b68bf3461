// Plain values of the fair waiting room: a queue ticket and a room as they are
// stored, and a queue pass as the HTTP layer presents it to the writer. The logic lives in
// core/waiting_room.h; these types are separate so mutations can carry them.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/clock.h"

namespace fs::core {

using base::Time;

// One user's place in one sale's waiting room. join_seq numbers a room's tickets 1, 2, 3...
// in the order they joined; the queue order is derived from it and the room's draw.
struct QueueTicket {
  std::string ticket_id;
  std::string sku_id;
  std::string user_id;
  std::int64_t join_seq = 0;
  Time joined_at{};
  std::optional<Time> admitted_at;      // set once, when the ticket reached the queue's head
  std::optional<Time> pass_expires_at;  // set with admitted_at
  std::optional<std::string> used_reservation_id;  // the reservation its pass allowed
  std::optional<Time> used_at;
};

// A sale's waiting room as stored. Until the sale starts the room is not drawn; at the start
// the first `prequeue_count` tickets (by join_seq) are shuffled with `draw_seed`.
struct WaitingRoomRecord {
  std::string sku_id;
  Time created_at{};
  std::optional<std::uint64_t> draw_seed;  // set with drawn_at
  std::int64_t prequeue_count = 0;
  std::optional<Time> drawn_at;
};

// What a reserve request presented as its queue pass, after the HTTP layer checked the
// signature (core links no crypto). kSigned claims are authentic, not yet valid: the writer
// still checks holder, ticket state, expiry and single use.
struct PresentedPass {
  enum class Kind : std::uint8_t { kAbsent, kUnverifiable, kSigned };
  Kind kind = Kind::kAbsent;
  std::string ticket_id;
  std::string user_id;
  std::string sku_id;
  Time expires_at{};
};

}  // namespace fs::core
