// EventSink: where the outbox relay publishes events (a JSON-lines file, Kafka, a webhook).
// Publish() returns Ok only once the sink holds every event of the call durably (fsync'd,
// acknowledged by all in-sync replicas, answered 2xx); only then does the relay move its
// cursor. A failed call is retried with the same events, so sinks see each event at least once.
//
// Thread-safety: one thread (the relay) calls a sink.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/outbox.h"

namespace fs::events {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // The cursor name in outbox_cursors: one cursor per sink kind.
  virtual std::string_view name() const = 0;
  // REQUIRES: `events` non-empty, in id order. `traceparent`: the relay's publish span, for
  // sinks whose messages carry headers (Kafka, webhooks); empty when tracing is off.
  virtual base::Status Publish(const std::vector<store::StoredEvent>& events,
                               std::string_view traceparent) = 0;
};

// One event as the JSON object every sink sends:
// {"event_id","type","sku_id","user_id","sequence","occurred_at","payload":{...}}.
std::string RenderEventJson(const core::OutboxEvent& event);

// The payload's "request_id" of `event` when it is a valid request id (base/request_id.h),
// for the X-Request-Id header of what carries the event; empty otherwise.
std::string RequestIdOfEvent(const core::OutboxEvent& event);

}  // namespace fs::events
