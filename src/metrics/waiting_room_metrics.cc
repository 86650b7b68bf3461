#include "metrics/waiting_room_metrics.h"

#include <algorithm>

namespace fs::metrics {

void WriteWaitingRoomMetrics(std::vector<core::WaitingRoomStats> rooms, std::uint64_t pass_refusals,
                             TextWriter& writer) {
  std::sort(rooms.begin(), rooms.end(),
            [](const auto& a, const auto& b) { return a.sku_id < b.sku_id; });
  struct Series {
    const char* name;
    const char* help;
    MetricType type;
    std::int64_t (*value)(const core::WaitingRoomStats&);
  };
  static constexpr Series kSeries[] = {
      {"flashsale_waiting_room_length", "Tickets waiting to be admitted (SOLD_OUT ones too).",
       MetricType::kGauge, [](const core::WaitingRoomStats& s) { return s.waiting; }},
      {"flashsale_waiting_room_admitted_total", "Tickets admitted with a queue pass.",
       MetricType::kCounter, [](const core::WaitingRoomStats& s) { return s.admitted_total; }},
      {"flashsale_waiting_room_live_passes", "Admitted passes neither used nor expired.",
       MetricType::kGauge, [](const core::WaitingRoomStats& s) { return s.live_passes; }},
      {"flashsale_waiting_room_passes_used_total", "Passes used by a reservation.",
       MetricType::kCounter, [](const core::WaitingRoomStats& s) { return s.used_total; }},
      {"flashsale_waiting_room_passes_expired_total", "Passes that expired unused.",
       MetricType::kCounter, [](const core::WaitingRoomStats& s) { return s.expired_total; }},
      {"flashsale_waiting_room_sold_out_notified_total",
       "Waiting tickets told SOLD_OUT at once (since the process started).", MetricType::kCounter,
       [](const core::WaitingRoomStats& s) { return s.sold_out_notified_total; }},
      {"flashsale_waiting_room_sold_out",
       "1 while nothing is left and nothing held could come back.", MetricType::kGauge,
       [](const core::WaitingRoomStats& s) { return std::int64_t{s.sold_out ? 1 : 0}; }},
  };
  for (const Series& series : kSeries) {
    writer.Family(series.name, series.help, series.type);
    for (const auto& room : rooms) {
      writer.SampleSigned(series.name, {{"sku", room.sku_id}}, series.value(room));
    }
  }
  writer.Family("flashsale_waiting_room_pass_refusals_total",
                "Reserves refused for a missing or invalid queue pass.", MetricType::kCounter);
  writer.SampleUnsigned("flashsale_waiting_room_pass_refusals_total", {}, pass_refusals);
}

}  // namespace fs::metrics
