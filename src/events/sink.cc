#include "events/sink.h"

#include "base/request_id.h"
#include "base/time_format.h"
#include "json/small_document.h"

namespace fs::events {

std::string RenderEventJson(const core::OutboxEvent& event) {
  std::string out = "{\"event_id\":" + core::JsonString(event.event_id);
  out += ",\"type\":" + core::JsonString(event.type);
  out += ",\"sku_id\":" + core::JsonString(event.sku_id);
  out += ",\"user_id\":" + core::JsonString(event.user_id);
  out += ",\"sequence\":" + std::to_string(event.sequence);
  out += ",\"occurred_at\":" + core::JsonString(base::FormatRfc3339(event.occurred_at));
  out += ",\"payload\":" + event.payload_json;  // stored JSON (CHECK json_valid)
  out += '}';
  return out;
}

std::string RequestIdOfEvent(const core::OutboxEvent& event) {
  json::SmallDocument<> document;
  const auto& root = document.Parse(event.payload_json);
  if (root.HasParseError() || !root.IsObject()) return {};
  const auto found = root.FindMember("request_id");
  if (found == root.MemberEnd() || !found->value.IsString()) return {};
  std::string request_id(found->value.GetString(), found->value.GetStringLength());
  // Stored by this server from a valid header; checked again as it becomes a header.
  if (!base::IsValidRequestId(request_id)) return {};
  return request_id;
}

}  // namespace fs::events
