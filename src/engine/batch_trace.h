// BatchTrace: the spans the writer records for sampled commands (Options::on_span). A batch
// that answers at least one sampled command is one span, "engine.batch", from the moment the
// writer took the batch until its commit was known, with the batch's size and outcome. It
// serves many requests, so it is the root of a trace of its own, as OpenTelemetry models
// batching: each sampled command gets "engine.inbox_wait", a child of its caller's span from
// when it was queued until the writer took it, with a link to the batch's span, and the
// batch's span links back to the commands' callers (up to kLinksMax).
// Without sampled commands nothing is allocated or timed beyond one pass over the batch.
// Thread-safety: writer thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "base/status.h"
#include "trace/span.h"
#include "trace/trace_context.h"

namespace fs::engine {

class BatchTrace {
 public:
  static constexpr std::size_t kLinksMax = 128;

  // REQUIRES: `sink` outlives this.
  explicit BatchTrace(const trace::SpanSink& sink) : sink_(sink) {}

  // The writer took `batch` (a vector of Queued variants whose alternatives are Pending<C>).
  template <typename Queued>
  void Begin(const std::vector<Queued>& batch) {
    waiters_.clear();
    if (!sink_) return;
    for (const Queued& queued : batch) {
      std::visit(
          [this](const auto& pending) {
            if (pending.trace.sampled) {
              waiters_.push_back({pending.trace, pending.queued_unix_nanos});
            }
          },
          queued);
    }
    if (!waiters_.empty()) start_unix_nanos_ = trace::UnixNanosNow();
  }

  // The batch of `commands` commands is decided and its commit known (`status`). Records the
  // spans when Begin found sampled commands.
  void End(std::size_t commands, const base::Status& status);

 private:
  struct Waiter {
    trace::ParentContext parent;
    std::int64_t queued_unix_nanos = 0;
  };

  const trace::SpanSink& sink_;
  std::vector<Waiter> waiters_;
  std::int64_t start_unix_nanos_ = 0;
};

}  // namespace fs::engine
