// Latency recording and percentile math for the load generator and benchmarks.
// Percentiles use the nearest-rank method on the sorted samples: P(p) is the smallest sample
// such that at least p% of samples are <= it.
// Thread-safety: a LatencyStats belongs to one thread; Merge() combines them afterwards.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace fs::loadgen {

class LatencyStats {
 public:
  void Record(double millis) { samples_.push_back(millis); }
  void Merge(const LatencyStats& other) {
    samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
    sorted_ = false;
  }
  std::size_t count() const { return samples_.size(); }
  // REQUIRES: 0 < p <= 100. Returns 0 when empty.
  double Percentile(double p) {
    if (samples_.empty()) return 0;
    Sort();
    const double rank = std::ceil(p / 100.0 * static_cast<double>(samples_.size()));
    const auto index = static_cast<std::size_t>(std::max(1.0, rank)) - 1;
    return samples_[std::min(index, samples_.size() - 1)];
  }
  double Max() {
    if (samples_.empty()) return 0;
    Sort();
    return samples_.back();
  }

 private:
  void Sort() {
    if (sorted_) return;
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  std::vector<double> samples_;
  bool sorted_ = false;
};

// Open-loop arrivals: request `index` is due at start + index / rate. Latency is measured from
// this intended time, so a stalled server cannot hide its queueing (no coordinated omission).
inline std::int64_t IntendedOffsetMicros(std::uint64_t index, double rate_per_second) {
  return static_cast<std::int64_t>(static_cast<double>(index) * 1e6 / rate_per_second);
}

}  // namespace fs::loadgen
