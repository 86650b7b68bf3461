// Time for all domain logic comes through Clock so tests and simulations control it.
// Times are wall-clock milliseconds since the Unix epoch (UTC); reservations store them.
// Thread-safety: SystemClock is safe from any thread; ManualClock is safe from any thread too
// (its value is atomic), but tests usually drive it from one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace fs::base {

using Millis = std::chrono::milliseconds;
using Time = std::chrono::time_point<std::chrono::system_clock, Millis>;

inline Time TimeFromMillis(std::int64_t ms) { return Time(Millis(ms)); }
inline std::int64_t ToMillis(Time t) { return t.time_since_epoch().count(); }

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Time Now() const override {
    return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
  }
};

// A clock that only moves when told. For tests and simulation.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Time start) : now_ms_(ToMillis(start)) {}
  Time Now() const override { return TimeFromMillis(now_ms_.load(std::memory_order_acquire)); }
  void Advance(Millis by) { now_ms_.fetch_add(by.count(), std::memory_order_acq_rel); }
  void Set(Time t) { now_ms_.store(ToMillis(t), std::memory_order_release); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

}  // namespace fs::base
