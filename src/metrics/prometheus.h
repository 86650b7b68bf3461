// Prometheus text exposition (format 0.0.4) primitives: counters, gauges, fixed-bucket
// histograms and a route x status-code counter matrix, all updated with relaxed atomics so the
// request hot path never locks or allocates; plus TextWriter, which renders them at scrape time.
// Thread-safety: Counter, Gauge, Histogram and RequestCounters may be updated and read from any
// thread (a scrape may mix values from slightly different instants, which monitoring
// tolerates). TextWriter is a plain single-threaded builder.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fs::metrics {

class Counter {
 public:
  void Increment(std::uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(std::int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(std::int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Durations in fixed buckets. Bounds are converted to nanoseconds once so Observe() is integer
// compares plus two relaxed increments.
class Histogram {
 public:
  struct Snapshot {
    std::vector<double> upper_bounds_seconds;      // finite bounds; +Inf is implicit
    std::vector<std::uint64_t> cumulative_counts;  // one per bound, then +Inf (== count)
    double sum_seconds = 0;
    std::uint64_t count = 0;
  };

  // REQUIRES: bounds strictly increasing, positive and finite.
  explicit Histogram(std::span<const double> upper_bounds_seconds);

  void Observe(std::chrono::nanoseconds duration);
  Snapshot Read() const;

 private:
  std::vector<double> upper_bounds_seconds_;
  std::vector<std::int64_t> upper_bounds_nanos_;
  // One slot per finite bound plus the +Inf slot; not cumulative (summed at Read()).
  std::unique_ptr<std::atomic<std::uint64_t>[]> bucket_counts_;
  std::atomic<std::uint64_t> sum_nanos_{0};
};

// requests_total{method,route,code}: a dense matrix, route index x method index x HTTP status
// code, preallocated so counting a response is one relaxed fetch_add. Codes 100..599 are
// representable.
class RequestCounters {
 public:
  static constexpr unsigned kStatusCodeMin = 100;
  static constexpr unsigned kStatusCodeCount = 500;

  // REQUIRES: neither list is empty.
  RequestCounters(std::vector<std::string> route_labels, std::vector<std::string> method_labels);

  // REQUIRES: route_index < route_labels().size(); method_index < method_labels().size();
  // 100 <= status_code <= 599.
  void Increment(std::size_t route_index, std::size_t method_index, unsigned status_code);
  std::uint64_t value(std::size_t route_index, std::size_t method_index,
                      unsigned status_code) const;
  const std::vector<std::string>& route_labels() const { return route_labels_; }
  const std::vector<std::string>& method_labels() const { return method_labels_; }

 private:
  std::size_t Slot(std::size_t route_index, std::size_t method_index, unsigned status_code) const;

  std::vector<std::string> route_labels_;
  std::vector<std::string> method_labels_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
};

enum class MetricType : std::uint8_t { kCounter, kGauge, kHistogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

// Builds one exposition text. Call Family() once per metric name before its samples.
class TextWriter {
 public:
  void Family(std::string_view name, std::string_view help, MetricType type);
  void SampleUnsigned(std::string_view name, std::initializer_list<Label> labels,
                      std::uint64_t value);
  void SampleSigned(std::string_view name, std::initializer_list<Label> labels, std::int64_t value);
  void SampleDouble(std::string_view name, std::initializer_list<Label> labels, double value);
  // Writes name_bucket{labels...,le=...}, name_sum{labels} and name_count{labels}.
  void HistogramSamples(std::string_view name, const Histogram::Snapshot& snapshot);
  void HistogramSamples(std::string_view name, std::initializer_list<Label> labels,
                        const Histogram::Snapshot& snapshot);

  const std::string& text() const { return text_; }
  std::string Take() { return std::move(text_); }

 private:
  void BeginSample(std::string_view name, std::initializer_list<Label> labels, const Label* extra);
  void AppendDouble(double value);

  std::string text_;
};

// Label values escape backslash, double quote and newline (the format's only escapes).
std::string EscapeLabelValue(std::string_view value);

}  // namespace fs::metrics
