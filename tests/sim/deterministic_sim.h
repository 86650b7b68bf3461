// Deterministic simulation (docs/reliability.md, "Deterministic simulation"): one seed drives
// the whole engine on one thread (engine::WriterMode::kStepped) with a simulated clock and a
// fault-injecting store over the in-memory reference store (store::MemoryStore). Commits fail,
// stall, fail their sync, or are cut short by a crash before or after the durable point; a
// crash or a failed sync restarts the engine, which recovers from what was durable. Buyers
// reserve, release, check out and retry with their idempotency keys; a simulated payment
// worker and gateway charge (success, decline, timeout, late answer); the clock jumps past
// expiries; an operator adjusts stock, closes and reopens the sale and resolves orders.
//
// After every step and every recovery the run checks: no oversell (held + sold <= stock, from
// the durable rows), counters = rows (the engine's published counters against a recount of
// the durable rows, and the engine's own consistency check), no user over the limit, every
// acknowledged reservation, release, order and payment durable, every idempotent replay
// identical to the first answer, a payment never settled against the gateway's decision, and
// the audit chain valid without gaps. Every request and its answer is written to a history;
// the same seed gives a byte-identical history (RunResult::history_hash).
#pragma once

#include <cstdint>
#include <string>

namespace fs::sim {

struct RunOptions {
  int steps = 300;  // each submits a handful of commands and runs the writer until idle
};

struct RunCounts {
  std::int64_t commands = 0;
  std::int64_t reservations_acknowledged = 0;
  std::int64_t orders_acknowledged = 0;
  std::int64_t orders_paid = 0;
  std::int64_t replays_checked = 0;
  std::int64_t faults_injected = 0;
  std::int64_t restarts = 0;

  RunCounts& operator+=(const RunCounts& other);
};

struct RunResult {
  std::string failure;       // empty: every invariant held; else the first broken one
  std::string history_hash;  // SHA-256 of the history, lower-case hex
  RunCounts counts;
};

RunResult RunSeed(std::uint64_t seed, const RunOptions& options = {});

}  // namespace fs::sim
