#include "log/log_output.h"

#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/thread_annotations.h"

namespace fs::log {

namespace {

// Writes all of `line` to `fd` (retrying short writes and EINTR); gives up on other errors
// (a closed stderr has no one to tell).
void WriteAll(int fd, std::string_view line) {
  while (!line.empty()) {
    const ssize_t written = ::write(fd, line.data(), line.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return;
    }
    line.remove_prefix(static_cast<std::size_t>(written));
  }
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    case spdlog::level::off:
    case spdlog::level::n_levels:
      break;
  }
  return "info";
}

}  // namespace

// The bounded queue and its writing thread. After Stop() lines are written at once.
class LogQueue {
 public:
  explicit LogQueue(OutputOptions options) : options_(std::move(options)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LogQueue() { Stop(); }
  LogQueue(const LogQueue&) = delete;
  LogQueue& operator=(const LogQueue&) = delete;

  LogFormat format() const { return options_.format; }

  void Push(std::string line) {
    {
      base::MutexLock lock(mutex_);
      if (!stopped_) {
        if (lines_.size() >= options_.queue_lines_max) {
          if (options_.on_drop) options_.on_drop();
          return;
        }
        lines_.push_back(std::move(line));
        ready_.NotifyOne();
        return;
      }
    }
    WriteAll(options_.fd, line);
  }

  void Stop() {
    {
      base::MutexLock lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      ready_.NotifyOne();
    }
    thread_.join();
  }

 private:
  void Run() {
    std::deque<std::string> batch;
    for (;;) {
      {
        base::MutexLock lock(mutex_);
        while (lines_.empty() && !stopped_) ready_.Wait(mutex_);
        if (lines_.empty()) return;  // stopped, and everything written
        batch.swap(lines_);
      }
      // Outside the lock: a slow stderr holds up this thread only.
      for (const std::string& line : batch) WriteAll(options_.fd, line);
      batch.clear();
    }
  }

  const OutputOptions options_;
  base::Mutex mutex_;
  base::CondVar ready_;
  std::deque<std::string> lines_ GUARDED_BY(mutex_);
  bool stopped_ GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

namespace {

// The installed queue, or nullptr (then lines go to stderr at once, as text).
std::atomic<LogQueue*> installed_queue{nullptr};

void Output(LogFormat fallback_format, const LogRecord& record) {
  LogQueue* queue = installed_queue.load(std::memory_order_acquire);
  if (queue == nullptr) {
    WriteAll(2, FormatLogLine(fallback_format, record));
    return;
  }
  queue->Push(FormatLogLine(queue->format(), record));
}

// spdlog's lines, formatted by log_format.h on the calling thread.
class QueueSink final : public spdlog::sinks::sink {
 public:
  void log(const spdlog::details::log_msg& message) override {
    LogRecord record;
    record.time = message.time;
    record.level = LevelName(message.level);
    record.module = std::string_view(message.logger_name.data(), message.logger_name.size());
    if (record.module.empty()) record.module = "app";
    record.message = std::string_view(message.payload.data(), message.payload.size());
    record.context = CurrentLogContext();
    Output(LogFormat::kText, record);
  }
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}
};

base::Mutex loggers_mutex;

std::shared_ptr<spdlog::sinks::sink> TheSink() {
  static const auto sink = std::make_shared<QueueSink>();
  return sink;
}

}  // namespace

LogFormat DefaultLogFormat(bool stderr_is_terminal) {
  return stderr_is_terminal ? LogFormat::kText : LogFormat::kJson;
}

LogSession::LogSession(OutputOptions options)
    : queue_(std::make_shared<LogQueue>(std::move(options))) {
  installed_queue.store(queue_.get(), std::memory_order_release);
  auto logger = Logger("app");
  spdlog::set_default_logger(std::move(logger));
}

LogSession::~LogSession() {
  installed_queue.store(nullptr, std::memory_order_release);
  // A line being pushed right now may still hold the queue: Stop writes what it holds, a push
  // after Stop writes at once, and the queue object is kept for the life of the process.
  queue_->Stop();
  static base::Mutex retired_mutex;
  static std::vector<std::shared_ptr<LogQueue>> retired;
  base::MutexLock lock(retired_mutex);
  retired.push_back(std::move(queue_));
}

void Emit(std::string_view level, std::string_view module, std::string_view message,
          std::span<const LogField> fields) {
  LogRecord record;
  record.time = std::chrono::system_clock::now();
  record.level = level;
  record.module = module;
  record.message = message;
  record.context = CurrentLogContext();
  record.fields = fields;
  Output(LogFormat::kText, record);
}

std::shared_ptr<spdlog::logger> Logger(std::string_view module) {
  const std::string name(module);
  base::MutexLock lock(loggers_mutex);
  if (auto found = spdlog::get(name)) return found;
  auto logger = std::make_shared<spdlog::logger>(name, TheSink());
  // Registers it and gives it spdlog's global level (--log-level).
  spdlog::initialize_logger(logger);
  return logger;
}

}  // namespace fs::log
