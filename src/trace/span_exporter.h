// SpanExporter: finished spans go into a bounded queue (Submit never blocks and never does
// I/O) and one thread of their own sends them in batches over OTLP/HTTP JSON (POST
// {endpoint}/v1/traces, Content-Type application/json) through the outbound client. A full
// queue drops the span; a batch the receiver refuses or cannot be reached for is dropped
// too (no retry: tracing must not hold memory or threads the sale needs); both are counted
// through the callbacks.
// Thread-safety: Submit from any thread; Start/Stop from the control thread (main).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "net/http_client.h"
#include "trace/otlp_json.h"
#include "trace/span.h"

namespace fs::trace {

struct ExporterOptions {
  std::string url;           // the full traces URL, e.g. http://collector:4318/v1/traces
  net::HttpHeaders headers;  // OTEL_EXPORTER_OTLP_HEADERS
  Resource resource;         // service.name, ...
  std::size_t queue_max = 2048;
  std::size_t batch_max = 512;
  std::chrono::milliseconds interval{1000};  // a partial batch waits this long at most
  std::chrono::milliseconds timeout{10'000};
  std::function<void(std::uint64_t)> on_dropped;        // spans a full queue refused
  std::function<void(std::uint64_t)> on_export_failed;  // spans of batches that did not land
};

class SpanExporter {
 public:
  explicit SpanExporter(ExporterOptions options);
  ~SpanExporter();
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  void Start();
  // Queues the span; false (counted as dropped) when the queue is full or the exporter stopped.
  bool Submit(Span span);
  // Sends what is queued (one attempt per batch), then stops the thread. Idempotent.
  void Stop();

  std::uint64_t exported() const;

 private:
  void Run();

  const ExporterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Span> queue_;      // guarded by mutex_
  bool stopping_ = false;       // guarded by mutex_
  std::uint64_t exported_ = 0;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace fs::trace
