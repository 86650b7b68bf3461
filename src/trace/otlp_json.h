// The OTLP/HTTP JSON encoding of an ExportTraceServiceRequest
// (opentelemetry-proto, "JSON Protobuf Encoding"): one resourceSpans entry for this process
// (service.name and the others of `resource`), one scopeSpans entry for the product, its spans.
// Ids are lowercase hex, 64-bit integers and nanosecond times are decimal strings, enums are
// numbers.
// Thread-safety: a pure function.
#pragma once

#include <span>
#include <string>

#include "trace/span.h"

namespace fs::trace {

struct Resource {
  std::vector<Attribute> attributes;  // service.name first, then service.version, ...
};

std::string EncodeExportRequest(const Resource& resource, std::span<const Span> spans);

}  // namespace fs::trace
