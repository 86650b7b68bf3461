#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace fs::metrics {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "btime <seconds>" of /proc/stat; nullopt when missing.
std::optional<double> BootTimeSeconds() {
  std::istringstream in(ReadFile("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) {
      std::int64_t value = 0;
      const char* begin = line.data() + 6;
      const auto result = std::from_chars(begin, line.data() + line.size(), value);
      if (result.ec != std::errc()) return std::nullopt;
      return static_cast<double>(value);
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> OpenFdCount() {
  std::error_code error;
  std::size_t count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  if (error) return std::nullopt;
  // The directory iterator's own descriptor is one of them.
  return count > 0 ? count - 1 : 0;
}

void WriteOne(TextWriter& writer, std::string_view name, std::string_view help, double value,
              MetricType type = MetricType::kGauge) {
  writer.Family(name, help, type);
  writer.SampleDouble(name, {}, value);
}

}  // namespace

std::optional<ProcessStat> ParseProcessStat(std::string_view stat, double boot_time_seconds,
                                            long ticks_per_second, long page_size_bytes) {
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted
  // after its closing parenthesis, starting with field 3 (state).
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;
  std::size_t position = close + 1;
  while (position < stat.size()) {
    while (position < stat.size() && stat[position] == ' ') ++position;
    const std::size_t end = stat.find(' ', position);
    const std::size_t stop = end == std::string_view::npos ? stat.size() : end;
    if (stop > position) fields.push_back(stat.substr(position, stop - position));
    position = stop;
  }
  // Field n (1-based, as proc(5) numbers them) is fields[n - 3].
  auto field = [&](std::size_t number) -> std::optional<double> {
    if (number < 3 || number - 3 >= fields.size()) return std::nullopt;
    std::uint64_t value = 0;
    const std::string_view text = fields[number - 3];
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
    return static_cast<double>(value);
  };
  const auto utime = field(14);
  const auto stime = field(15);
  const auto start_ticks = field(22);
  const auto vsize = field(23);
  const auto rss_pages = field(24);
  if (!utime || !stime || !start_ticks || !vsize || !rss_pages) return std::nullopt;
  const auto ticks = static_cast<double>(ticks_per_second);
  ProcessStat result;
  result.cpu_seconds = (*utime + *stime) / ticks;
  result.start_time_seconds = boot_time_seconds + *start_ticks / ticks;
  result.virtual_memory_bytes = *vsize;
  result.resident_memory_bytes = *rss_pages * static_cast<double>(page_size_bytes);
  return result;
}

void WriteProcessMetrics(TextWriter& writer) {
  const std::optional<double> boot_time = BootTimeSeconds();
  const std::string stat_text = ReadFile("/proc/self/stat");
  const std::optional<ProcessStat> stat =
      boot_time
          ? ParseProcessStat(stat_text, *boot_time, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE))
          : std::nullopt;
  if (stat) {
    WriteOne(writer, "process_cpu_seconds_total",
             "Total user and system CPU time spent in seconds.", stat->cpu_seconds,
             MetricType::kCounter);
    WriteOne(writer, "process_start_time_seconds",
             "Start time of the process since unix epoch in seconds.", stat->start_time_seconds);
    WriteOne(writer, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
             stat->virtual_memory_bytes);
    WriteOne(writer, "process_resident_memory_bytes", "Resident memory size in bytes.",
             stat->resident_memory_bytes);
  }
  if (const auto open_fds = OpenFdCount()) {
    WriteOne(writer, "process_open_fds", "Number of open file descriptors.",
             static_cast<double>(*open_fds));
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    WriteOne(writer, "process_max_fds", "Maximum number of open file descriptors.",
             static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace fs::metrics
