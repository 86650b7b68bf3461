// LogSink: appends each event as one JSON line to a file (DATA_DIR/events.jsonl) and fsyncs
// before Publish() returns, so an acknowledged event survives a crash.
// Thread-safety: the relay's thread only.
#pragma once

#include <memory>
#include <string>

#include "events/sink.h"

namespace fs::events {

class LogSink final : public EventSink {
 public:
  static base::Result<std::unique_ptr<LogSink>> Open(const std::string& path);
  ~LogSink() override;
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  std::string_view name() const override { return "log"; }
  base::Status Publish(const std::vector<store::StoredEvent>& events,
                       std::string_view traceparent) override;

 private:
  LogSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace fs::events
