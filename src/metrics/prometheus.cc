#include "metrics/prometheus.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "base/check.h"

namespace fs::metrics {

Histogram::Histogram(std::span<const double> upper_bounds_seconds)
    : upper_bounds_seconds_(upper_bounds_seconds.begin(), upper_bounds_seconds.end()),
      bucket_counts_(
          std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_seconds.size() + 1)) {
  double previous = 0;
  for (double bound : upper_bounds_seconds_) {
    FS_CHECK(std::isfinite(bound));
    FS_CHECK(bound > previous);
    previous = bound;
    upper_bounds_nanos_.push_back(std::llround(bound * 1e9));
  }
}

void Histogram::Observe(std::chrono::nanoseconds duration) {
  const std::int64_t nanos = duration.count() < 0 ? 0 : duration.count();
  // Linear search: a dozen buckets fit in one cache line of bounds, cheaper than a branchy
  // binary search at this size.
  std::size_t index = 0;
  while (index < upper_bounds_nanos_.size() && nanos > upper_bounds_nanos_[index]) ++index;
  bucket_counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<std::uint64_t>(nanos), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds_seconds = upper_bounds_seconds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_seconds_.size(); ++i) {
    running += bucket_counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  // _count is the +Inf bucket by definition, so the two always agree in one scrape.
  snapshot.count = running;
  snapshot.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
  return snapshot;
}

RequestCounters::RequestCounters(std::vector<std::string> route_labels,
                                 std::vector<std::string> method_labels)
    : route_labels_(std::move(route_labels)),
      method_labels_(std::move(method_labels)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(
          route_labels_.size() * method_labels_.size() * kStatusCodeCount)) {
  FS_CHECK(!route_labels_.empty());
  FS_CHECK(!method_labels_.empty());
}

std::size_t RequestCounters::Slot(std::size_t route_index, std::size_t method_index,
                                  unsigned status_code) const {
  FS_CHECK(route_index < route_labels_.size());
  FS_CHECK(method_index < method_labels_.size());
  FS_CHECK(status_code >= kStatusCodeMin);
  FS_CHECK(status_code < kStatusCodeMin + kStatusCodeCount);
  return (route_index * method_labels_.size() + method_index) * kStatusCodeCount +
         (status_code - kStatusCodeMin);
}

void RequestCounters::Increment(std::size_t route_index, std::size_t method_index,
                                unsigned status_code) {
  counts_[Slot(route_index, method_index, status_code)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t RequestCounters::value(std::size_t route_index, std::size_t method_index,
                                     unsigned status_code) const {
  return counts_[Slot(route_index, method_index, status_code)].load(std::memory_order_relaxed);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void TextWriter::Family(std::string_view name, std::string_view help, MetricType type) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += help;
  text_ += "\n# TYPE ";
  text_ += name;
  switch (type) {
    case MetricType::kCounter:
      text_ += " counter\n";
      break;
    case MetricType::kGauge:
      text_ += " gauge\n";
      break;
    case MetricType::kHistogram:
      text_ += " histogram\n";
      break;
  }
}

void TextWriter::BeginSample(std::string_view name, std::initializer_list<Label> labels,
                             const Label* extra) {
  text_ += name;
  if (labels.size() == 0 && extra == nullptr) {
    text_ += ' ';
    return;
  }
  char separator = '{';
  auto append = [&](const Label& label) {
    text_ += separator;
    text_ += label.name;
    text_ += "=\"";
    text_ += EscapeLabelValue(label.value);
    text_ += '"';
    separator = ',';
  };
  for (const Label& label : labels) append(label);
  if (extra != nullptr) append(*extra);
  text_ += "} ";
}

void TextWriter::SampleUnsigned(std::string_view name, std::initializer_list<Label> labels,
                                std::uint64_t value) {
  BeginSample(name, labels, nullptr);
  text_ += std::to_string(value);
  text_ += '\n';
}

void TextWriter::SampleSigned(std::string_view name, std::initializer_list<Label> labels,
                              std::int64_t value) {
  BeginSample(name, labels, nullptr);
  text_ += std::to_string(value);
  text_ += '\n';
}

void TextWriter::SampleDouble(std::string_view name, std::initializer_list<Label> labels,
                              double value) {
  BeginSample(name, labels, nullptr);
  AppendDouble(value);
  text_ += '\n';
}

void TextWriter::AppendDouble(double value) {
  if (std::isnan(value)) {
    text_ += "NaN";
    return;
  }
  if (std::isinf(value)) {
    text_ += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buffer[64];
  // Shortest round-trip form; Prometheus parses both fixed and exponent notation.
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  FS_CHECK(result.ec == std::errc());
  text_.append(buffer, result.ptr);
}

void TextWriter::HistogramSamples(std::string_view name, const Histogram::Snapshot& snapshot) {
  HistogramSamples(name, {}, snapshot);
}

void TextWriter::HistogramSamples(std::string_view name, std::initializer_list<Label> labels,
                                  const Histogram::Snapshot& snapshot) {
  const std::string bucket_name = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
    std::string bound = "+Inf";
    if (i < snapshot.upper_bounds_seconds.size()) {
      char buffer[64];
      // Fixed notation ("0.0005", not "5e-04"): le values read naturally and match the
      // spelling dashboards and other exporters use.
      const auto result = std::to_chars(buffer, buffer + sizeof(buffer),
                                        snapshot.upper_bounds_seconds[i], std::chars_format::fixed);
      FS_CHECK(result.ec == std::errc());
      bound.assign(buffer, result.ptr);
    }
    const Label le{"le", bound};
    BeginSample(bucket_name, labels, &le);
    text_ += std::to_string(snapshot.cumulative_counts[i]);
    text_ += '\n';
  }
  SampleDouble(std::string(name) + "_sum", labels, snapshot.sum_seconds);
  SampleUnsigned(std::string(name) + "_count", labels, snapshot.count);
}

}  // namespace fs::metrics
