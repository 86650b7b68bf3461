// The standard process_* series every Prometheus client library exports (CPU seconds, memory,
// file descriptors, start time), read from /proc/self at scrape time. Linux only; on a read
// failure a series is left out rather than reported wrong.
// Thread-safety: any thread; reads only the process's own /proc entries.
#pragma once

#include <optional>
#include <string_view>

#include "metrics/prometheus.h"

namespace fs::metrics {

struct ProcessStat {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  double virtual_memory_bytes = 0;
  double resident_memory_bytes = 0;
};

// Parses the text of /proc/self/stat given the system's boot time (btime of /proc/stat),
// clock ticks per second and page size. nullopt when the text is not a stat line.
std::optional<ProcessStat> ParseProcessStat(std::string_view stat, double boot_time_seconds,
                                            long ticks_per_second, long page_size_bytes);

// process_cpu_seconds_total, process_start_time_seconds, process_virtual_memory_bytes,
// process_resident_memory_bytes, process_open_fds, process_max_fds.
void WriteProcessMetrics(TextWriter& writer);

}  // namespace fs::metrics
