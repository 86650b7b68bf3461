// LogThrottle: at most one log line per key per interval, with a count of the lines held back,
// so a failure repeating a thousand times a second is one line a second, never silence and
// never a flood.
// Thread-safety: none; one thread owns it (the engine's writer calls the commit-failure hook).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

namespace fs::base {

class LogThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit LogThrottle(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // Whether a line for `key` goes out at `now`: then how many were held back for it since its
  // last line; nullopt (held back and counted) within the interval. Keys are few (kinds).
  std::optional<std::uint64_t> Admit(std::uint64_t key, TimePoint now) {
    Entry& entry = entries_[key];
    if (entry.logged && now < entry.next) {
      ++entry.held_back;
      return std::nullopt;
    }
    const std::uint64_t held_back = entry.held_back;
    entry = Entry{true, now + interval_, 0};
    return held_back;
  }

 private:
  struct Entry {
    bool logged = false;
    TimePoint next{};
    std::uint64_t held_back = 0;
  };
  const std::chrono::steady_clock::duration interval_;
  std::map<std::uint64_t, Entry> entries_;
};

}  // namespace fs::base
