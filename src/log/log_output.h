// The process's log output: every log line (spdlog's, through the loggers made here, and the
// access log's, through Emit) is formatted on the thread that writes it (so it carries that
// thread's log context, log_context.h) and queued; one thread of its own writes the queue to
// stderr. The queue is bounded: when stderr is slower than the lines come (a blocked pipe, a
// stalled collector), new lines are dropped and counted (OutputOptions::on_drop), so no I/O
// thread and never the writer waits for stderr.
//
// Outside a LogSession (unit tests, the offline tools) lines are written to stderr at once.
// Thread-safety: Emit, Logger and the loggers may be used from any thread. A LogSession is
// made and destroyed by main only, before the other threads start and after they stopped.
#pragma once

#include <spdlog/logger.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "log/log_format.h"

namespace fs::log {

// Lines waiting for stderr at most: 8192 lines of ~300 bytes is ~2.5 MiB, a few seconds of a
// busy access log, enough to ride out a collector's hiccup without growing without bound.
inline constexpr std::size_t kQueueLinesDefault = 8192;

struct OutputOptions {
  LogFormat format = LogFormat::kJson;
  std::size_t queue_lines_max = kQueueLinesDefault;
  int fd = 2;  // stderr
  // Called once per dropped line, on the thread that wrote it; must not log.
  std::function<void()> on_drop;
};

// --log-format's default: text for a person at a terminal, JSON for a collector.
LogFormat DefaultLogFormat(bool stderr_is_terminal);

class LogQueue;

// Installs the queued output and makes spdlog's default logger (module "app") and every module
// logger write to it; the destructor writes what is still queued and stops the thread (later
// lines are written at once).
class LogSession {
 public:
  explicit LogSession(OutputOptions options);
  ~LogSession();
  LogSession(const LogSession&) = delete;
  LogSession& operator=(const LogSession&) = delete;

 private:
  std::shared_ptr<LogQueue> queue_;
};

// A structured line (e.g. the access log) at `level` in `module`, with the thread's context.
void Emit(std::string_view level, std::string_view module, std::string_view message,
          std::span<const LogField> fields);

// The logger of `module` ("http", "events", "payment", ...): its lines name the module. Made on
// first use with the output's sink and spdlog's global level.
std::shared_ptr<spdlog::logger> Logger(std::string_view module);

}  // namespace fs::log
