#include "trace/server_span.h"

namespace fs::trace {

ServerSpan BeginServerSpan(std::optional<std::string_view> traceparent,
                           std::optional<std::string_view> tracestate, const Sampler* sampler) {
  ServerSpan span;
  std::optional<ParentContext> parent;
  if (traceparent) parent = ParseTraceparent(*traceparent);
  if (parent) {
    span.trace_id = parent->trace_id;
    span.parent_span_id = parent->span_id;
    if (tracestate && IsValidTracestate(*tracestate)) span.trace_state = std::string(*tracestate);
  } else {
    span.trace_id = NewTraceId();
  }
  span.span_id = NewSpanId();
  span.sampled = sampler != nullptr &&
                 sampler->ShouldSample(
                     span.trace_id, parent ? std::optional<bool>(parent->sampled) : std::nullopt);
  span.trace_hex = span.trace_id.Hex();
  span.span_hex = span.span_id.Hex();
  span.start_unix_nanos = UnixNanosNow();
  return span;
}

Span EndServerSpan(const ServerSpan& server, std::string_view method, std::string_view route,
                   unsigned status) {
  Span span;
  span.trace_id = server.trace_id;
  span.span_id = server.span_id;
  span.parent_span_id = server.parent_span_id;
  span.trace_state = server.trace_state;
  span.name = std::string(method);
  if (!route.empty()) span.name += " " + std::string(route);
  span.kind = SpanKind::kServer;
  span.start_unix_nanos = server.start_unix_nanos;
  span.end_unix_nanos = UnixNanosNow();
  span.Set("http.request.method", std::string(method));
  if (!route.empty()) span.Set("http.route", std::string(route));
  span.Set("http.response.status_code", static_cast<std::int64_t>(status));
  if (status >= 500) span.status = SpanStatus::kError;
  return span;
}

}  // namespace fs::trace
