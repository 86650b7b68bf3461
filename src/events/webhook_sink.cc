#include "events/webhook_sink.h"

#include "core/order.h"
#include "events/http_post.h"

namespace fs::events {
namespace {

std::int64_t UnixSeconds(const WebhookOptions& options) {
  static const base::SystemClock system_clock;
  const base::Clock& clock = options.clock != nullptr ? *options.clock : system_clock;
  return std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
}

base::Status PostSigned(const WebhookOptions& options, const std::string& event_id,
                        const std::string& request_id, std::string_view traceparent,
                        const std::string& body) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("X-Flashsale-Event-Id", event_id);
  if (!request_id.empty()) headers.emplace_back("X-Request-Id", request_id);
  if (!traceparent.empty()) headers.emplace_back("traceparent", std::string(traceparent));
  if (!options.secret.empty()) {
    headers.emplace_back("X-Flashsale-Signature",
                         WebhookSignature(options.secret, UnixSeconds(options), body));
  }
  auto status = HttpPost(options.url, body, headers, options.timeout, options.ca_file);
  if (!status) return status.error();
  if (*status < 200 || *status >= 300) {
    return base::Unavailable(options.url + " answered " + std::to_string(*status));
  }
  return base::Status::Ok();
}

class WebhookSink final : public EventSink {
 public:
  explicit WebhookSink(WebhookOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return "webhook"; }
  base::Status Publish(const std::vector<store::StoredEvent>& events,
                       std::string_view traceparent) override {
    if (events.empty()) return base::Status::Ok();
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (i > 0) body += ',';
      body += RenderEventJson(events[i].event);
    }
    body += "]}";
    std::string request_id;
    for (const auto& stored : events) {
      request_id = RequestIdOfEvent(stored.event);
      if (!request_id.empty()) break;
    }
    return PostSigned(options_, events.front().event.event_id, request_id, traceparent, body);
  }

 private:
  const WebhookOptions options_;
};

class NotificationSink final : public EventSink {
 public:
  explicit NotificationSink(WebhookOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return "notifications"; }
  base::Status Publish(const std::vector<store::StoredEvent>& events,
                       std::string_view traceparent) override {
    // Events before a failed POST were delivered and are delivered again on the retry: at
    // least once, like every sink (receivers de-duplicate by event_id).
    for (const auto& stored : events) {
      const std::string& type = stored.event.type;
      if (type != core::event_type::kOrderConfirmed && type != core::event_type::kOrderFailed)
        continue;
      FS_RETURN_IF_ERROR(PostSigned(options_, stored.event.event_id, RequestIdOfEvent(stored.event),
                                    traceparent, RenderEventJson(stored.event)));
    }
    return base::Status::Ok();
  }

 private:
  const WebhookOptions options_;
};

}  // namespace

std::string WebhookSignature(const std::string& secret, std::int64_t unix_seconds,
                             const std::string& body) {
  const std::string t = std::to_string(unix_seconds);
  return "t=" + t + ",v1=" + HmacSha256Hex(secret, t + "." + body);
}

std::unique_ptr<EventSink> NewWebhookSink(WebhookOptions options) {
  return std::make_unique<WebhookSink>(std::move(options));
}

std::unique_ptr<EventSink> NewNotificationSink(WebhookOptions options) {
  return std::make_unique<NotificationSink>(std::move(options));
}

}  // namespace fs::events
