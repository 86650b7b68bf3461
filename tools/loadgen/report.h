// The end-of-run report: a readable table for the terminal and one JSON object (--json).
// Thread-safety: pure functions over a finished run (they sort the latency samples, hence the
// non-const reference).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/loadgen/config.h"
#include "tools/loadgen/invariants.h"
#include "tools/loadgen/stats.h"

namespace fs::loadgen {

enum class Feature : std::uint8_t { kAvailable, kNotAvailable, kNotUsed };

struct RunSummary {
  Config config;
  double elapsed_seconds = 0;
  RunStats stats;
  std::optional<double> sold_out_after_seconds;  // first SOLD_OUT answer
  Feature checkout = Feature::kNotUsed;          // POST /api/v1/checkout answered 404 NOT_FOUND
  std::vector<InvariantCheck> invariants;        // empty: not checked
  std::uint64_t unsent_jobs = 0;                 // open-loop jobs due but never sent
};

std::string RenderTable(RunSummary& summary);
std::string RenderJson(RunSummary& summary);

}  // namespace fs::loadgen
