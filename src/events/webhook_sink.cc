#include "events/webhook_sink.h"

#include "core/order.h"
#include "events/http_post.h"

namespace fs::events {
namespace {

base::Status PostSigned(const WebhookOptions& options, const std::string& body) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!options.secret.empty()) {
    headers.emplace_back("X-Flashsale-Signature", "sha256=" + HmacSha256Hex(options.secret, body));
  }
  auto status = HttpPost(options.url, body, headers, options.timeout);
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
  base::Status Publish(const std::vector<store::StoredEvent>& events) override {
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (i > 0) body += ',';
      body += RenderEventJson(events[i].event);
    }
    body += "]}";
    return PostSigned(options_, body);
  }

 private:
  const WebhookOptions options_;
};

class NotificationSink final : public EventSink {
 public:
  explicit NotificationSink(WebhookOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return "notifications"; }
  base::Status Publish(const std::vector<store::StoredEvent>& events) override {
    // Events before a failed POST were delivered and are delivered again on the retry: at
    // least once, like every sink (receivers de-duplicate by event_id).
    for (const auto& stored : events) {
      const std::string& type = stored.event.type;
      if (type != core::event_type::kOrderConfirmed && type != core::event_type::kOrderFailed)
        continue;
      FS_RETURN_IF_ERROR(PostSigned(options_, RenderEventJson(stored.event)));
    }
    return base::Status::Ok();
  }

 private:
  const WebhookOptions options_;
};

}  // namespace

std::unique_ptr<EventSink> NewWebhookSink(WebhookOptions options) {
  return std::make_unique<WebhookSink>(std::move(options));
}

std::unique_ptr<EventSink> NewNotificationSink(WebhookOptions options) {
  return std::make_unique<NotificationSink>(std::move(options));
}

}  // namespace fs::events
