// EngineStats: the counters the metrics endpoint reads.
// Thread-safety: written by the writer thread only (relaxed atomics); read from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace fs::engine {

struct EngineStats {
  std::atomic<std::uint64_t> batches_committed{0};
  std::atomic<std::uint64_t> batches_failed{0};
  std::atomic<std::uint64_t> commands_processed{0};
  std::atomic<std::uint64_t> reservations_expired{0};
  std::atomic<std::uint64_t> last_batch_size{0};
  std::atomic<std::uint64_t> batch_size_max_seen{0};
  std::atomic<std::uint64_t> commit_micros_total{0};
  std::atomic<std::uint64_t> inbox_rejections{0};
  // Commands the store refused for their own data while the rest of their batch committed.
  std::atomic<std::uint64_t> commands_refused_by_store{0};
  // The payment saga: committed transitions.
  std::atomic<std::uint64_t> orders_created{0};
  std::atomic<std::uint64_t> orders_paid{0};
  std::atomic<std::uint64_t> orders_failed{0};
  std::atomic<std::uint64_t> orders_needs_attention{0};
  std::atomic<std::uint64_t> payment_retries_scheduled{0};
  // The waiting room: reserves refused for a missing or invalid queue pass (committed).
  std::atomic<std::uint64_t> queue_pass_refusals{0};
  // Shared stores: rows other nodes committed that this writer applied, and failed idle
  // refreshes (readers then see the last state until the next one succeeds).
  std::atomic<std::uint64_t> rows_synced{0};
  std::atomic<std::uint64_t> refresh_failures{0};
};

}  // namespace fs::engine
