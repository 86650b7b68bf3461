// Relay: the outbox's publisher. One thread (never the writer) reads committed events in id
// order from its own connection, publishes them to the sink, and only after the sink
// acknowledged them moves the sink's cursor. Hence:
//   - at least once: a crash between publish and cursor publishes those events again;
//   - in order per SKU: one thread publishes in commit order, and a failed batch is retried
//     (with backoff) before anything after it;
//   - a crash loses none: events are in the same transaction as their change.
// Consumers de-duplicate by event_id (or by (sku_id, sequence)).
//
// Thread-safety: Notify(), Stop() and the counters are safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "events/sink.h"
#include "store/outbox.h"
#include "trace/sampler.h"
#include "trace/span.h"

namespace fs::events {

struct RelayOptions {
  // Events per read and publish: large enough to amortize an fsync, small enough to keep a
  // webhook body or a Kafka flush short.
  std::size_t batch_size_max = 512;
  // Idle re-check when no commit notified the relay (a missed Notify costs at most this).
  std::chrono::milliseconds poll_interval{200};
  // Backoff after a failed read or publish doubles from the first value up to the last.
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{5000};
  // The cursor is saved at most this often (and when the relay stops): saving takes the
  // database's write lock, which the writer would then wait for, and makes the writer's
  // connection drop its page cache. A crash republishes at most this much (delivery is at
  // least once anyway).
  std::chrono::milliseconds cursor_save_interval{1000};
  // Tracing: each publish is a producer span ("outbox publish"), the root of a trace the
  // sampler may pick; the sink is given its `traceparent` for the messages' headers either
  // way. Empty on_span: tracing off.
  trace::SpanSink on_span;
  trace::Sampler sampler{};
};

class Relay {
 public:
  Relay(RelayOptions options, std::unique_ptr<store::OutboxSource> source,
        std::unique_ptr<EventSink> sink);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void Start();
  // Wakes the relay (new events were committed). Never blocks for long: safe from the writer.
  void Notify();
  // Publishes what is committed (one last pass, unless the sink fails) and joins the thread.
  void Stop();

  std::uint64_t published_count() const { return published_.load(std::memory_order_relaxed); }
  std::uint64_t failure_count() const { return failures_.load(std::memory_order_relaxed); }
  // Committed events the sink has not acknowledged, as of the relay's last read (0 on a node
  // that is not the sink's publisher in a cluster).
  std::int64_t backlog() const { return backlog_.load(std::memory_order_relaxed); }
  // When the oldest event the relay read and the sink has not acknowledged yet occurred;
  // nullopt when it had caught up. Its age is the relay's lag.
  std::optional<base::Time> oldest_unpublished() const {
    const std::int64_t millis = oldest_unpublished_ms_.load(std::memory_order_relaxed);
    if (millis == 0) return std::nullopt;
    return base::TimeFromMillis(millis);
  }
  std::string_view sink_name() const { return sink_->name(); }

 private:
  void Run();
  // One read-publish-advance step. Returns how many events were published; error on failure.
  base::Result<std::size_t> Step();
  // Publishes `events` under a producer span when tracing (RelayOptions::on_span).
  base::Status Publish(const std::vector<store::StoredEvent>& events);

  const RelayOptions options_;
  std::unique_ptr<store::OutboxSource> source_;
  std::unique_ptr<EventSink> sink_;
  // The newest committed event id, for the backlog metric (relay thread).
  std::int64_t BacklogHead(const std::vector<store::StoredEvent>& events);
  // Saves cursor_ if it moved since the last save (relay thread).
  void SaveCursor();
  // Sleeps up to `timeout`, or until Stop() (and with kNotifyOrStop Notify()) was called.
  enum class WakeOn : std::uint8_t { kStop, kNotifyOrStop };
  void WaitForWake(std::chrono::milliseconds timeout, WakeOn on);

  std::int64_t cursor_ = 0;  // relay thread only
  std::int64_t saved_cursor_ = 0;
  std::chrono::steady_clock::time_point last_save_{};
  bool cursor_loaded_ = false;

  base::Mutex mutex_;
  base::CondVar wake_;
  bool notified_ GUARDED_BY(mutex_) = false;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::int64_t> backlog_{0};
  std::atomic<std::int64_t> oldest_unpublished_ms_{0};  // 0: caught up
  std::thread thread_;
};

}  // namespace fs::events
