// Latency recording and percentile math, per endpoint, for the load generator.
// Percentiles use the nearest-rank method on the sorted samples: P(p) is the smallest sample
// such that at least p% of the samples are <= it.
// Thread-safety: a RunStats (and what it holds) belongs to one thread; Merge() combines them
// after the threads have joined.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace fs::loadgen {

class LatencyStats {
 public:
  void Record(double millis) {
    samples_.push_back(millis);
    sorted_ = false;
  }
  void Merge(const LatencyStats& other);
  std::size_t count() const { return samples_.size(); }
  // REQUIRES: 0 < p <= 100. Returns 0 when empty.
  double Percentile(double p);
  double Max();

 private:
  void Sort();
  std::vector<double> samples_;
  bool sorted_ = true;
};

// Runs are bounded in time; a longer one folds its tail into the last second of the timeline.
inline constexpr std::size_t kTimelineSecondsMax = 3600;

// One endpoint (reserve, checkout, order, release, availability, ...).
struct EndpointStats {
  LatencyStats latency;  // answered requests, any status
  // The same latencies by the second of the run in which each request was due (its intended
  // send time): shows when a backlog formed and when it drained.
  std::vector<LatencyStats> by_second;
  std::map<int, std::uint64_t> status_count;              // HTTP status -> answers
  std::map<std::string, std::uint64_t> error_code_count;  // "SOLD_OUT" -> answers
  std::uint64_t transport_errors = 0;  // connect/read/write failures and timeouts
  // Records an answered request due in second `second` of the run (capped at
  // kTimelineSecondsMax - 1) that took `millis`.
  void RecordAnswer(std::size_t second, double millis);
  void Merge(const EndpointStats& other);
};

// Who got a unit in the contest scenario (and in sale: every winner is honest).
struct UnitsByClass {
  std::uint64_t honest = 0;
  std::uint64_t bots = 0;
};

struct RunStats {
  std::map<std::string, EndpointStats> endpoints;
  UnitsByClass units;                                       // 201 reserves
  std::uint64_t releases = 0;                               // reservations given back (abandoned)
  std::uint64_t checkouts_accepted = 0;                     // 202
  std::map<std::string, std::uint64_t> order_final_status;  // PAID/FAILED/... or PENDING
  // Per order seen final: from its checkout's 202 to the read that saw it leave PENDING.
  LatencyStats order_settled;
  // Units the client saw granted per user and still held or bought (201 minus released).
  std::unordered_map<std::string, std::int64_t> units_by_user;
  void Merge(const RunStats& other);
};

}  // namespace fs::loadgen
