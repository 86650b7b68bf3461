#include "engine/batch_trace.h"

#include <algorithm>
#include <string>
#include <utility>

namespace fs::engine {

void BatchTrace::End(std::size_t commands, const base::Status& status) {
  if (waiters_.empty()) return;
  trace::Span batch;
  batch.trace_id = trace::NewTraceId();
  batch.span_id = trace::NewSpanId();
  batch.name = "engine.batch";
  batch.start_unix_nanos = start_unix_nanos_;
  batch.end_unix_nanos = trace::UnixNanosNow();
  batch.Set("flashsale.batch.commands", static_cast<std::int64_t>(commands));
  batch.Set("flashsale.batch.sampled_commands", static_cast<std::int64_t>(waiters_.size()));
  if (!status.ok()) {
    batch.status = trace::SpanStatus::kError;
    batch.status_message = status.ToString();
  }
  const std::size_t links = std::min(waiters_.size(), kLinksMax);
  batch.links.reserve(links);
  for (std::size_t i = 0; i < links; ++i) {
    batch.links.push_back({waiters_[i].parent.trace_id, waiters_[i].parent.span_id});
  }
  for (const Waiter& waiter : waiters_) {
    trace::Span wait;
    wait.trace_id = waiter.parent.trace_id;
    wait.span_id = trace::NewSpanId();
    wait.parent_span_id = waiter.parent.span_id;
    wait.name = "engine.inbox_wait";
    wait.start_unix_nanos = std::min(waiter.queued_unix_nanos, start_unix_nanos_);
    wait.end_unix_nanos = start_unix_nanos_;
    wait.links.push_back({batch.trace_id, batch.span_id});
    sink_(std::move(wait));
  }
  sink_(std::move(batch));
  waiters_.clear();
}

}  // namespace fs::engine
