// Runs one scenario against a server and returns its summary: optional sale creation, the
// load (open-loop arrivals or closed-loop connections, bounded by --duration and --requests),
// a progress line on stderr, and the end-of-run invariant check through the admin API.
// Thread-safety: call from main() only; it owns the load threads it starts.
#pragma once

#include "base/status.h"
#include "tools/loadgen/config.h"
#include "tools/loadgen/report.h"

namespace fs::loadgen {

base::Result<RunSummary> RunScenario(const Config& config);

}  // namespace fs::loadgen
