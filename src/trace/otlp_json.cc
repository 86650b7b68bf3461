#include "trace/otlp_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace fs::trace {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void String(Writer& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void Key(Writer& writer, std::string_view key) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void Field(Writer& writer, std::string_view key, std::string_view value) {
  Key(writer, key);
  String(writer, value);
}

void Attributes(Writer& writer, const std::vector<Attribute>& attributes) {
  Key(writer, "attributes");
  writer.StartArray();
  for (const Attribute& attribute : attributes) {
    writer.StartObject();
    Field(writer, "key", attribute.key);
    Key(writer, "value");
    writer.StartObject();
    std::visit(
        [&writer](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::string>) {
            Field(writer, "stringValue", value);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            Field(writer, "intValue", std::to_string(value));
          } else if constexpr (std::is_same_v<T, bool>) {
            Key(writer, "boolValue");
            writer.Bool(value);
          } else {
            Key(writer, "doubleValue");
            writer.Double(value);
          }
        },
        attribute.value);
    writer.EndObject();
    writer.EndObject();
  }
  writer.EndArray();
}

void WriteSpan(Writer& writer, const Span& span) {
  writer.StartObject();
  Field(writer, "traceId", span.trace_id.Hex());
  Field(writer, "spanId", span.span_id.Hex());
  if (span.parent_span_id.valid()) Field(writer, "parentSpanId", span.parent_span_id.Hex());
  if (!span.trace_state.empty()) Field(writer, "traceState", span.trace_state);
  Field(writer, "name", span.name);
  Key(writer, "kind");
  writer.Int(static_cast<int>(span.kind));
  Field(writer, "startTimeUnixNano", std::to_string(span.start_unix_nanos));
  Field(writer, "endTimeUnixNano", std::to_string(span.end_unix_nanos));
  Attributes(writer, span.attributes);
  if (!span.links.empty()) {
    Key(writer, "links");
    writer.StartArray();
    for (const SpanLink& link : span.links) {
      writer.StartObject();
      Field(writer, "traceId", link.trace_id.Hex());
      Field(writer, "spanId", link.span_id.Hex());
      writer.EndObject();
    }
    writer.EndArray();
  }
  Key(writer, "status");
  writer.StartObject();
  if (span.status != SpanStatus::kUnset) {
    Key(writer, "code");
    writer.Int(static_cast<int>(span.status));
  }
  if (!span.status_message.empty()) Field(writer, "message", span.status_message);
  writer.EndObject();
  writer.EndObject();
}

}  // namespace

std::string EncodeExportRequest(const Resource& resource, std::span<const Span> spans) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  Key(writer, "resourceSpans");
  writer.StartArray();
  writer.StartObject();
  Key(writer, "resource");
  writer.StartObject();
  Attributes(writer, resource.attributes);
  writer.EndObject();
  Key(writer, "scopeSpans");
  writer.StartArray();
  writer.StartObject();
  Key(writer, "scope");
  writer.StartObject();
  Field(writer, "name", "flashsale");
  writer.EndObject();
  Key(writer, "spans");
  writer.StartArray();
  for (const Span& span : spans) WriteSpan(writer, span);
  writer.EndArray();
  writer.EndObject();
  writer.EndArray();
  writer.EndObject();
  writer.EndArray();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace fs::trace
