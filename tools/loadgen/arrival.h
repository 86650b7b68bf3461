// Arrival schedule for open-loop load: the intended send time of job `index`, as an offset
// from the start. Latency is measured from this intended time, not from the actual send, so a
// stalled server cannot hide its queueing (no coordinated omission).
// Thread-safety: immutable after construction; safe from any thread.
#pragma once

#include <cstdint>

#include "tools/loadgen/config.h"

namespace fs::loadgen {

class ArrivalSchedule {
 public:
  // `rate_per_second` jobs/s forever. REQUIRES: rate_per_second > 0.
  static ArrivalSchedule ConstantRate(double rate_per_second);
  // `count` jobs over `seconds`: evenly (kConstant) or with a rate rising linearly from 0
  // (kLinearRamp: cumulative arrivals grow as t^2, so job i is due at seconds*sqrt(i/count)).
  // REQUIRES: count > 0, seconds >= 0.
  static ArrivalSchedule OverWindow(std::uint64_t count, double seconds, ArrivalShape shape);

  std::int64_t OffsetMicros(std::uint64_t index) const;

 private:
  enum class Kind : std::uint8_t { kRate, kWindowConstant, kWindowRamp };
  ArrivalSchedule(Kind kind, double rate, std::uint64_t count, double seconds)
      : kind_(kind), rate_(rate), count_(count), seconds_(seconds) {}
  Kind kind_;
  double rate_;
  std::uint64_t count_;
  double seconds_;
};

}  // namespace fs::loadgen
