// W3C Trace Context (https://www.w3.org/TR/trace-context/): the ids of a trace and a span, the
// `traceparent` header's parse and format, the `tracestate` header's checks, and fresh random
// ids. A request's context comes from its `traceparent` when that is valid, else it starts a
// new trace; every response carries the server span's `traceparent`.
// Thread-safety: plain values and functions; NewTraceId/NewSpanId use a per-thread generator.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fs::trace {

struct TraceId {
  std::array<std::uint8_t, 16> bytes{};
  bool valid() const;  // not all zero
  std::string Hex() const;
  bool operator==(const TraceId&) const = default;
};

struct SpanId {
  std::array<std::uint8_t, 8> bytes{};
  bool valid() const;  // not all zero
  std::string Hex() const;
  bool operator==(const SpanId&) const = default;
};

// What a `traceparent` header carries: the caller's trace, its span (our parent) and whether
// it sampled the trace.
struct ParentContext {
  TraceId trace_id;
  SpanId span_id;
  bool sampled = false;
};

// nullopt unless `header` is a valid traceparent: version 00 is exactly
// "00-<32 lowercase hex>-<16 lowercase hex>-<2 hex flags>" with non-zero ids; a later version
// (not ff) is read by its first four fields when what follows them starts with '-'.
std::optional<ParentContext> ParseTraceparent(std::string_view header);

// "00-<trace id>-<span id>-01" (sampled) or "...-00".
std::string FormatTraceparent(const TraceId& trace_id, const SpanId& span_id, bool sampled);

// A tracestate worth passing on: at most 512 bytes and 32 comma-separated list members of
// printable ASCII (no control characters). Anything else is dropped, as the standard allows.
bool IsValidTracestate(std::string_view header);

// Random, never all zero.
TraceId NewTraceId();
SpanId NewSpanId();

}  // namespace fs::trace
