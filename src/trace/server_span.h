// The server span of one HTTP request: it joins the caller's trace when the request carried a
// valid `traceparent` (its `tracestate` is kept when valid), else it starts a new trace, and
// the sampler decides whether the span is recorded. Every response names the span in its own
// `traceparent`; log lines of the request carry its ids (log/log_context.h). Without an
// exporter nothing is recorded: the cost is reading the header and making a span id.
// Thread-safety: a plain value owned by the connection serving the request.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trace/sampler.h"
#include "trace/span.h"
#include "trace/trace_context.h"

namespace fs::trace {

struct ServerSpan {
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id{};  // the caller's span; all zero for a new trace
  bool sampled = false;
  std::string trace_state{};
  std::string trace_hex{};  // for the log context
  std::string span_hex{};
  std::int64_t start_unix_nanos = 0;

  // The `traceparent` of the response, from the hex already made for the log context.
  std::string Traceparent() const {
    return "00-" + trace_hex + "-" + span_hex + (sampled ? "-01" : "-00");
  }
};

// `sampler` nullptr: tracing is off (never sampled).
ServerSpan BeginServerSpan(std::optional<std::string_view> traceparent,
                           std::optional<std::string_view> tracestate, const Sampler* sampler);

// The finished span to export: "METHOD /route/{template}", kind server, the HTTP attributes,
// error status for 5xx.
Span EndServerSpan(const ServerSpan& server, std::string_view method, std::string_view route,
                   unsigned status);

}  // namespace fs::trace
