// EmailSink (--smtp-url): the buyers' e-mails over SMTP. From the outbox, in order, on the
// relay's thread (never the writer), with its own cursor ("email"), so a slow mail server never
// delays the event stream or the notification webhook. Only order.confirmed and order.failed
// of orders whose checkout token carried an `email` claim become mail (events/order_mail.h).
// Delivery is at least once: a transient failure (connection, TLS, a 4xx answer, credentials)
// fails Publish() and the relay retries the same events with backoff; mails of the batch that
// already went out are not sent again by this process, and after a crash a resent mail has
// the same Message-ID. A permanent refusal (5xx: no such mailbox, message refused) is final:
// counted, logged, and the stream moves on.
// Thread-safety: the relay's thread calls the sink; the counters are read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "events/sink.h"
#include "net/smtp_client.h"

namespace fs::events {

struct EmailCounters {
  std::atomic<std::uint64_t> sent{0};      // accepted by the mail server
  std::atomic<std::uint64_t> rejected{0};  // refused for good (5xx)
  std::atomic<std::uint64_t> failed{0};    // transient failures (each retried)
};

struct EmailSinkOptions {
  net::SmtpServer server;
  std::string from;                   // --smtp-from, a plain address
  EmailCounters* counters = nullptr;  // required; outlives the sink
};

std::unique_ptr<EventSink> NewEmailSink(EmailSinkOptions options);

}  // namespace fs::events
