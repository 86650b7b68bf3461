#include "events/smtp_sink.h"

#include <unordered_set>

#include "base/check.h"
#include "events/order_mail.h"
#include "log/log_output.h"

namespace fs::events {
namespace {

class EmailSink final : public EventSink {
 public:
  explicit EmailSink(EmailSinkOptions options) : options_(std::move(options)) {
    FS_CHECK(options_.counters != nullptr);
  }
  std::string_view name() const override { return "email"; }

  base::Status Publish(const std::vector<store::StoredEvent>& events,
                       std::string_view /*traceparent*/) override {
    EmailCounters& counters = *options_.counters;
    for (const auto& stored : events) {
      const core::OutboxEvent& event = stored.event;
      if (done_.contains(event.event_id)) continue;  // went out before a retried failure
      std::optional<OrderMail> mail = RenderOrderMail(event, options_.from);
      if (!mail) continue;
      base::Status sent =
          net::SendMail(options_.server, {options_.from, mail->recipient, mail->message});
      if (sent.code() == base::StatusCode::kFailedPrecondition) {
        counters.rejected.fetch_add(1, std::memory_order_relaxed);
        log::Logger("events")->warn("email: {} for order event {} refused for good: {}", event.type,
                                    event.event_id, sent.message());
      } else if (!sent.ok()) {
        counters.failed.fetch_add(1, std::memory_order_relaxed);
        return sent;  // the relay retries from this event, with backoff
      } else {
        counters.sent.fetch_add(1, std::memory_order_relaxed);
      }
      done_.insert(event.event_id);
    }
    done_.clear();  // the relay moves its cursor past all of them
    return base::Status::Ok();
  }

 private:
  const EmailSinkOptions options_;
  // Events of the current (retried) batch whose mail is settled.
  std::unordered_set<std::string> done_;
};

}  // namespace

std::unique_ptr<EventSink> NewEmailSink(EmailSinkOptions options) {
  return std::make_unique<EmailSink>(std::move(options));
}

}  // namespace fs::events
