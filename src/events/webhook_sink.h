// Webhook sinks: HTTP POSTs from the relay's thread (never the writer); a non-2xx answer or a
// transport error fails Publish(), and the relay retries the same events with backoff.
//   WebhookSink (--events webhook): every event, a batch per POST as {"events":[...]}, signed
//     with X-Flashsale-Signature: sha256=<hex HMAC-SHA256(secret, body)>.
//   NotificationSink (--notification-webhook-url): only order.confirmed and order.failed, one
//     POST per event (the buyer's confirmation e-mail), signed the same way when a secret is
//     set. It has its own cursor, so a slow mail service never delays the event stream.
// Thread-safety: the relay's thread only.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "events/sink.h"

namespace fs::events {

struct WebhookOptions {
  std::string url;
  std::string secret;  // empty: no signature header
  std::chrono::milliseconds timeout{5000};
};

std::unique_ptr<EventSink> NewWebhookSink(WebhookOptions options);
std::unique_ptr<EventSink> NewNotificationSink(WebhookOptions options);

}  // namespace fs::events
