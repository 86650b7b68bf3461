#include "trace/span_exporter.h"

#include <vector>

namespace fs::trace {

SpanExporter::SpanExporter(ExporterOptions options) : options_(std::move(options)) {}

SpanExporter::~SpanExporter() { Stop(); }

void SpanExporter::Start() {
  thread_ = std::thread([this] { Run(); });
}

bool SpanExporter::Submit(Span span) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || queue_.size() >= options_.queue_max) {
      if (options_.on_dropped) options_.on_dropped(1);
      return false;
    }
    queue_.push_back(std::move(span));
    wake = queue_.size() >= options_.batch_max;
  }
  if (wake) wake_.notify_one();
  return true;
}

void SpanExporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t SpanExporter::exported() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exported_;
}

void SpanExporter::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, options_.interval,
                   [this] { return stopping_ || queue_.size() >= options_.batch_max; });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    const std::size_t count = std::min(queue_.size(), options_.batch_max);
    std::vector<Span> batch(std::make_move_iterator(queue_.begin()),
                            std::make_move_iterator(queue_.begin() + static_cast<long>(count)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(count));
    lock.unlock();
    net::HttpRequest post;
    post.url = options_.url;
    post.content_type = "application/json";
    post.body = EncodeExportRequest(options_.resource, batch);
    post.headers = options_.headers;
    post.timeout = options_.timeout;
    const auto reply = net::HttpSend(post);
    const bool landed = reply && reply->status >= 200 && reply->status < 300;
    if (!landed && options_.on_export_failed) options_.on_export_failed(batch.size());
    lock.lock();
    if (landed) exported_ += batch.size();
  }
}

}  // namespace fs::trace
