// Goal: the W3C trace context headers of every request (traceparent, tracestate) never crash
// their checks. Round trips: a traceparent that parses formats (as version 00) into text that
// parses to the same trace id, span id and sampled flag, and a canonical version-00 header
// (lower-case, flags 00 or 01) formats back into exactly itself. A tracestate passed on is
// within its bounds.
//
// Input: a header value; its first 24 bytes are also ids to format.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/check.h"
#include "trace/trace_context.h"

namespace fs::trace {
namespace {

void CheckRoundTrip(const ParentContext& context) {
  const std::string text = FormatTraceparent(context.trace_id, context.span_id, context.sampled);
  FS_CHECK(text.size() == 55);
  const auto again = ParseTraceparent(text);
  FS_CHECK(again.has_value());
  FS_CHECK(again->trace_id == context.trace_id);
  FS_CHECK(again->span_id == context.span_id);
  FS_CHECK(again->sampled == context.sampled);
}

void Traceparent(std::string_view header) {
  const auto context = ParseTraceparent(header);
  if (!context) return;
  FS_CHECK(context->trace_id.valid());
  FS_CHECK(context->span_id.valid());
  CheckRoundTrip(*context);
  const bool canonical = header.size() == 55 && header.starts_with("00-") &&
                         (header.ends_with("-00") || header.ends_with("-01"));
  if (canonical) {
    FS_CHECK(FormatTraceparent(context->trace_id, context->span_id, context->sampled) == header);
  }
}

// Ids from raw bytes: format -> parse -> equal whenever both ids are valid (non-zero).
void Ids(std::string_view bytes) {
  ParentContext context;
  const std::size_t trace_bytes = std::min(bytes.size(), context.trace_id.bytes.size());
  std::memcpy(context.trace_id.bytes.data(), bytes.data(), trace_bytes);
  bytes.remove_prefix(trace_bytes);
  const std::size_t span_bytes = std::min(bytes.size(), context.span_id.bytes.size());
  std::memcpy(context.span_id.bytes.data(), bytes.data(), span_bytes);
  context.sampled = span_bytes > 0 && (bytes[0] & 1) != 0;
  if (!context.trace_id.valid() || !context.span_id.valid()) {
    // The all-zero ids are invalid: a header with them is refused.
    FS_CHECK(!ParseTraceparent(FormatTraceparent(context.trace_id, context.span_id, false)));
    return;
  }
  CheckRoundTrip(context);
}

void Tracestate(std::string_view header) {
  if (!IsValidTracestate(header)) return;
  FS_CHECK(header.size() <= 512);
  FS_CHECK(std::count(header.begin(), header.end(), ',') < 32);
  for (const char c : header) FS_CHECK(c >= 0x20 && c < 0x7F);
}

}  // namespace
}  // namespace fs::trace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::trace;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Traceparent(bytes);
  Ids(bytes);
  Tracestate(bytes);
  return 0;
}
