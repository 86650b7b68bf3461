#include "events/relay.h"

#include <algorithm>
#include <utility>

#include "log/log_output.h"

namespace fs::events {

Relay::Relay(RelayOptions options, std::unique_ptr<store::OutboxSource> source,
             std::unique_ptr<EventSink> sink)
    : options_(std::move(options)), source_(std::move(source)), sink_(std::move(sink)) {}

Relay::~Relay() { Stop(); }

void Relay::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Relay::Notify() {
  {
    base::MutexLock lock(mutex_);
    notified_ = true;
  }
  wake_.NotifyOne();
}

void Relay::Stop() {
  {
    base::MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.NotifyOne();
  if (thread_.joinable()) thread_.join();
}

base::Result<std::size_t> Relay::Step() {
  const std::string sink_name(sink_->name());
  if (!cursor_loaded_) {
    auto cursor = source_->LoadCursor(sink_name);
    if (!cursor) return cursor.error();
    cursor_ = *cursor;
    saved_cursor_ = cursor_;
    cursor_loaded_ = true;
  }
  auto events = source_->ReadAfter(cursor_, options_.batch_size_max);
  if (!events) return events.error();
  if (events->empty()) {
    backlog_.store(0, std::memory_order_relaxed);
    oldest_unpublished_ms_.store(0, std::memory_order_relaxed);
    return std::size_t{0};
  }
  const std::int64_t head = BacklogHead(*events);
  backlog_.store(head - cursor_, std::memory_order_relaxed);
  oldest_unpublished_ms_.store(base::ToMillis(events->front().event.occurred_at),
                               std::memory_order_relaxed);
  FS_RETURN_IF_ERROR(Publish(*events));
  cursor_ = events->back().id;
  backlog_.store(head - cursor_, std::memory_order_relaxed);
  // Caught up as of this read; otherwise the next read (at once) names the oldest left.
  if (head == cursor_) oldest_unpublished_ms_.store(0, std::memory_order_relaxed);
  published_.fetch_add(events->size(), std::memory_order_relaxed);
  if (std::chrono::steady_clock::now() - last_save_ >= options_.cursor_save_interval) SaveCursor();
  return events->size();
}

base::Status Relay::Publish(const std::vector<store::StoredEvent>& events) {
  if (!options_.on_span) return sink_->Publish(events, {});
  trace::Span span;
  span.trace_id = trace::NewTraceId();
  span.span_id = trace::NewSpanId();
  const bool sampled = options_.sampler.ShouldSample(span.trace_id, std::nullopt);
  const std::string traceparent = trace::FormatTraceparent(span.trace_id, span.span_id, sampled);
  span.start_unix_nanos = trace::UnixNanosNow();
  base::Status status = sink_->Publish(events, traceparent);
  if (!sampled) return status;
  span.end_unix_nanos = trace::UnixNanosNow();
  span.name = "outbox publish";
  span.kind = trace::SpanKind::kProducer;
  span.Set("messaging.system", std::string(sink_->name()));
  span.Set("messaging.batch.message_count", static_cast<std::int64_t>(events.size()));
  span.Set("flashsale.outbox.first_id", events.front().id);
  span.Set("flashsale.outbox.last_id", events.back().id);
  if (!status.ok()) {
    span.status = trace::SpanStatus::kError;
    span.status_message = status.ToString();
  }
  options_.on_span(std::move(span));
  return status;
}

std::int64_t Relay::BacklogHead(const std::vector<store::StoredEvent>& events) {
  const std::int64_t last_read = events.back().id;
  // A short read was everything committed; a full one may have more behind it.
  if (events.size() < options_.batch_size_max) return last_read;
  auto last = source_->LastId();
  if (!last) return last_read;  // the metric only; the next read tries again
  return std::max(*last, last_read);
}

void Relay::SaveCursor() {
  if (!cursor_loaded_ || cursor_ == saved_cursor_) return;
  // A cursor that failed to save only means these events are published again after a restart.
  const base::Status saved = source_->SaveCursor(std::string(sink_->name()), cursor_);
  if (!saved.ok()) {
    log::Logger("events")->warn("relay: saving the {} cursor: {}", sink_->name(), saved.ToString());
    return;
  }
  saved_cursor_ = cursor_;
  last_save_ = std::chrono::steady_clock::now();
}

void Relay::Run() {
  std::chrono::milliseconds backoff{0};
  for (;;) {
    bool stopping = false;
    {
      base::MutexLock lock(mutex_);
      stopping = stopping_;
      notified_ = false;
    }
    auto step = Step();
    if (!step) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      backoff = std::clamp(backoff * 2, options_.backoff_initial, options_.backoff_max);
      log::Logger("events")->warn("relay: publishing to {} failed (retry in {} ms): {}",
                                  sink_->name(), backoff.count(), step.error().ToString());
      if (stopping) {
        SaveCursor();
        return;  // do not hold shutdown hostage to a dead sink
      }
      WaitForWake(backoff, WakeOn::kStop);
      continue;
    }
    backoff = std::chrono::milliseconds(0);
    if (*step > 0) continue;  // more may be waiting
    if (stopping) {           // drained
      SaveCursor();
      return;
    }
    // Idle, but under load only until the writer's next commit: the cursor is still saved at
    // most once per interval. Every commit of ours makes the writer's connection drop its
    // whole page cache (SQLite sees the database changed), so saving on each catch-up cost the
    // writer about one page read per page it touched next.
    auto wait = options_.poll_interval;
    if (cursor_ != saved_cursor_) {
      const auto save_in = std::chrono::duration_cast<std::chrono::milliseconds>(
          last_save_ + options_.cursor_save_interval - std::chrono::steady_clock::now());
      if (save_in <= std::chrono::milliseconds(0)) {
        SaveCursor();
      } else {
        wait = std::min(wait, save_in);
      }
    }
    WaitForWake(wait, WakeOn::kNotifyOrStop);
  }
}

void Relay::WaitForWake(std::chrono::milliseconds timeout, WakeOn on) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  base::MutexLock lock(mutex_);
  while (!stopping_ && !(on == WakeOn::kNotifyOrStop && notified_)) {
    if (!wake_.WaitUntil(mutex_, deadline)) return;
  }
}

}  // namespace fs::events
