// Metrics of the fair waiting room: per sale with a room, the queue length, the
// admissions (their rate is rate(flashsale_waiting_room_admitted_total[1m])), live, used and
// expired passes, and how many waiting tickets were told SOLD_OUT at once; plus the reserves
// refused for a missing or invalid pass.
// Thread-safety: pure functions over snapshots.
#pragma once

#include <cstdint>
#include <vector>

#include "core/waiting_room.h"
#include "metrics/prometheus.h"

namespace fs::metrics {

void WriteWaitingRoomMetrics(std::vector<core::WaitingRoomStats> rooms, std::uint64_t pass_refusals,
                             TextWriter& writer);

}  // namespace fs::metrics
