// The log context of the work a thread is doing for one request: every log line written on
// that thread while a ScopedLogContext is alive carries its ids (log_format.h). The HTTP
// server opens one around each request's handling and its answer (http/server.cc).
// Adding an id (W3C trace context) is a member here and one line in each formatter.
// Thread-safety: the current context is per thread; a LogContext's views must outlive its
// scope.
#pragma once

#include <string_view>

namespace fs::log {

struct LogContext {
  std::string_view request_id;  // X-Request-Id (base/request_id.h); empty: none
  std::string_view trace_id;    // W3C trace-id (32 hex digits) when known; empty: none
  std::string_view span_id;     // W3C parent-id of this server's span when known; empty: none
};

// The innermost context of this thread, or nullptr outside any.
const LogContext* CurrentLogContext();

// Makes `context` the thread's current one until destroyed (then the previous one is back).
class ScopedLogContext {
 public:
  explicit ScopedLogContext(const LogContext& context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  const LogContext* previous_;
};

}  // namespace fs::log
