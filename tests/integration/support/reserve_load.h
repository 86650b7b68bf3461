// ReserveLoad: a closed-loop reservation load for crash and shutdown tests. N threads, each
// with its own keep-alive HttpClient, reserve for fresh distinct users until told to stop or
// until their connection fails (the server died or is shutting down). Every 201 is recorded as
// acknowledged: the server promised it is durable. Optionally some grants are released at once,
// and every release answered 200 is recorded too.
// Thread-safety: construct, wait and join from one thread; the load threads are internal.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fs::itest {

struct LoadOptions {
  std::string sku_id;
  std::string user_prefix;  // users are "<prefix>-<thread>-<n>": distinct per request
  int thread_count = 16;
  std::int32_t quantity_max = 1;  // request n asks for 1 + n % quantity_max units
  // When > 0, every release_every-th granted reservation is released (DELETE) right away.
  int release_every = 0;
  // True: every reserve carries Idempotency-Key IdempotencyKeyOf(user) (a client that retries
  // safely); a replay of it must return the first answer.
  bool idempotency_keys = false;
};

inline std::string IdempotencyKeyOf(const std::string& user_id) { return "key-" + user_id; }

struct Acknowledged {
  std::string reservation_id;
  std::string user_id;
  std::int64_t quantity = 0;
};

struct LoadResult {
  std::vector<Acknowledged> acknowledged;
  std::vector<Acknowledged> released;         // releases answered 200 with status RELEASED
  std::set<std::string> release_requested;    // reservation ids a DELETE was sent for
  std::map<int, std::int64_t> status_counts;  // HTTP status -> responses; 0 = transport failure
  std::vector<std::string> problems;          // 201 bodies that did not parse, and the like
};

class ReserveLoad {
 public:
  // Starts the threads at once.
  ReserveLoad(std::uint16_t port, LoadOptions options);
  ~ReserveLoad();
  ReserveLoad(const ReserveLoad&) = delete;
  ReserveLoad& operator=(const ReserveLoad&) = delete;

  std::int64_t acknowledged_count() const {
    return acknowledged_count_.load(std::memory_order_acquire);
  }
  // Waits until at least `count` reservations were acknowledged; false after `timeout`.
  bool WaitForAcknowledged(std::int64_t count, std::chrono::milliseconds timeout) const;
  // Threads finish their current request and end.
  void RequestStop() { stop_.store(true, std::memory_order_release); }
  // Waits for every thread to end (they end on stop or on their first transport failure).
  LoadResult Join();

 private:
  void RunThread(int thread_index);

  const std::uint16_t port_;
  const LoadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> acknowledged_count_{0};
  std::mutex result_mutex_;
  LoadResult result_;  // guarded by result_mutex_
  std::vector<std::thread> threads_;
};

}  // namespace fs::itest
