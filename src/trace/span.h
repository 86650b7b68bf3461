// A finished span as the exporter sends it: ids, name, kind, times, attributes, links and
// status, the subset of OpenTelemetry's span model the product records.
// Thread-safety: a plain value; build it on one thread, hand it to the exporter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "trace/trace_context.h"

namespace fs::trace {

// OTLP's SpanKind numbers.
enum class SpanKind : std::uint8_t {
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5
};

// OTLP's Status.code numbers.
enum class SpanStatus : std::uint8_t { kUnset = 0, kOk = 1, kError = 2 };

using AttributeValue = std::variant<std::string, std::int64_t, bool, double>;

struct Attribute {
  std::string key;
  AttributeValue value;
};

struct SpanLink {
  TraceId trace_id;
  SpanId span_id;
};

struct Span {
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id{};  // all zero: a root span
  std::string trace_state{};
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  std::int64_t start_unix_nanos = 0;
  std::int64_t end_unix_nanos = 0;
  std::vector<Attribute> attributes{};
  std::vector<SpanLink> links{};
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message{};

  Span& Set(std::string key, AttributeValue value) {
    attributes.push_back({std::move(key), std::move(value)});
    return *this;
  }
};

// Where finished spans go (an exporter's queue, a test's list). Called on the recording thread:
// must not block. Empty: tracing is off.
using SpanSink = std::function<void(Span)>;

// Span times are wall-clock nanoseconds since the Unix epoch, as OTLP wants them.
inline std::int64_t UnixNanosNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace fs::trace
