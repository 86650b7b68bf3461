#include "tools/loadgen/stats.h"

#include <algorithm>
#include <cmath>

namespace fs::loadgen {

void LatencyStats::Merge(const LatencyStats& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  sorted_ = samples_.empty();
}

double LatencyStats::Percentile(double p) {
  if (samples_.empty()) return 0;
  Sort();
  // The epsilon keeps p*n/100 that is an integer in exact arithmetic (99.9% of 1000) from
  // rounding up to the next rank through floating-point error.
  const double rank = std::ceil(p * static_cast<double>(samples_.size()) / 100.0 - 1e-9);
  const auto index = static_cast<std::size_t>(std::max(1.0, rank)) - 1;
  return samples_[std::min(index, samples_.size() - 1)];
}

double LatencyStats::Max() {
  if (samples_.empty()) return 0;
  Sort();
  return samples_.back();
}

void LatencyStats::Sort() {
  if (sorted_) return;
  std::sort(samples_.begin(), samples_.end());
  sorted_ = true;
}

void EndpointStats::RecordAnswer(std::size_t second, double millis) {
  latency.Record(millis);
  second = std::min(second, kTimelineSecondsMax - 1);
  if (by_second.size() <= second) by_second.resize(second + 1);
  by_second[second].Record(millis);
}

void EndpointStats::Merge(const EndpointStats& other) {
  latency.Merge(other.latency);
  if (by_second.size() < other.by_second.size()) by_second.resize(other.by_second.size());
  for (std::size_t i = 0; i < other.by_second.size(); ++i) by_second[i].Merge(other.by_second[i]);
  for (const auto& [code, n] : other.status_count) status_count[code] += n;
  for (const auto& [code, n] : other.error_code_count) error_code_count[code] += n;
  transport_errors += other.transport_errors;
}

void RunStats::Merge(const RunStats& other) {
  for (const auto& [name, endpoint] : other.endpoints) endpoints[name].Merge(endpoint);
  units.honest += other.units.honest;
  units.bots += other.units.bots;
  releases += other.releases;
  checkouts_accepted += other.checkouts_accepted;
  for (const auto& [status, n] : other.order_final_status) order_final_status[status] += n;
  order_settled.Merge(other.order_settled);
  for (const auto& [user, n] : other.units_by_user) units_by_user[user] += n;
}

}  // namespace fs::loadgen
