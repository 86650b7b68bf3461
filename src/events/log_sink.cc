#include "events/log_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fs::events {

base::Result<std::unique_ptr<LogSink>> LogSink::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return base::FailedPrecondition("cannot open event log " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<LogSink>(new LogSink(path, fd));
}

LogSink::~LogSink() { ::close(fd_); }

base::Status LogSink::Publish(const std::vector<store::StoredEvent>& events,
                              std::string_view /*traceparent*/) {
  std::string text;
  for (const auto& stored : events) {
    text += RenderEventJson(stored.event);
    text += '\n';
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::Unavailable("write " + path_ + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) return base::Unavailable("fsync " + path_ + ": " + std::strerror(errno));
  return base::Status::Ok();
}

}  // namespace fs::events
