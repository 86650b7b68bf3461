// Webhook sinks: HTTP POSTs from the relay's thread (never the writer); a non-2xx answer or a
// transport error fails Publish(), and the relay retries the same events with backoff.
//   WebhookSink (--events webhook): every event, a batch per POST as {"events":[...]}.
//   NotificationSink (--notification-webhook-url): only order.confirmed and order.failed, one
//     POST per event (the buyer's confirmation e-mail). It has its own cursor, so a slow mail
//     service never delays the event stream.
// Both sign each POST, replay-safe: X-Flashsale-Signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256(secret, "<t>.<body>")> (WebhookSignature), so a receiver refuses a POST whose t is
// outside its tolerance window, and X-Flashsale-Event-Id names the (first) event, for
// de-duplication. Unsigned only when the server was started with --webhook-allow-unsigned.
// X-Request-Id names the request behind the (first) event that had one (the payload's
// "request_id"); absent when none had.
// Thread-safety: the relay's thread only.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/clock.h"
#include "events/sink.h"

namespace fs::events {

struct WebhookOptions {
  std::string url;
  std::string secret;  // empty: no signature header (--webhook-allow-unsigned)
  std::chrono::milliseconds timeout{5000};
  const base::Clock* clock = nullptr;  // the signatures' time; nullptr: the system clock
  std::string ca_file;                 // https: trusted CAs (--tls-ca-file); empty: the system's
};

// The X-Flashsale-Signature value of `body` sent at `unix_seconds`.
std::string WebhookSignature(const std::string& secret, std::int64_t unix_seconds,
                             const std::string& body);

std::unique_ptr<EventSink> NewWebhookSink(WebhookOptions options);
std::unique_ptr<EventSink> NewNotificationSink(WebhookOptions options);

}  // namespace fs::events
