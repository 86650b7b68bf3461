// Server: the HTTP/1.1 front end on Boost.Beast/Asio. One io_context per I/O thread; a single
// acceptor hands each accepted connection to the next io_context in turn (round-robin), so a
// connection lives on one thread and needs no strand. Keep-alive, request limits (header,
// target, body: see limits.h), an idle/slow-client deadline per request, and a bound on
// open connections (beyond it new connections are closed at once).
// Every answer carries X-Request-Id: the request's own when valid (base/request_id.h), else a
// generated one; an error body carries it as error.request_id, and the request's handling and
// answer run inside its log context (log/log_context.h). The access log is written here.
//
// Shutdown order (driven by the app): StopAccepting(); stop the engine (it completes every
// queued command, whose answers are posted back here); WaitForInFlight(); Stop().
// Thread-safety: Open/Start/StopAccepting/WaitForInFlight/Stop are called from one control
// thread (main). Connections run on the I/O threads.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "http/api.h"
#include "http/limits.h"
#include "metrics/flashsale_metrics.h"
#include "trace/sampler.h"
#include "trace/span_exporter.h"

namespace fs::http {

// --access-log: which answers get an access log line (docs/operations.md, "Logs").
enum class AccessLogMode : std::uint8_t {
  kOff,
  kErrors,  // 5xx answers and requests slower than ServerOptions::access_log_slow
  kAll,
};

struct ServerOptions {
  std::string host = "127.0.0.1";         // IP address or resolvable name
  std::uint16_t port = 0;                 // 0: the OS picks a free port (see Server::port())
  std::size_t threads = 1;                // I/O threads, 1..kThreadsMax
  std::chrono::seconds idle_timeout{30};  // per request read and per response write
  std::size_t connections_max = kConnectionsMax;
  // Open connections from one peer address at most; beyond it a new one is closed at once.
  std::size_t connections_per_ip_max = kConnectionsPerIpDefault;
  // >= 0: a socket already bound and listening (the starting node's, see side_server.h) to
  // accept on instead of binding host:port; the Server owns it from Open() on.
  int listener = -1;
  // Set: sampled server spans go to it (tracing on, with `sampler`); nullptr: off. Every
  // response carries `traceparent` either way. REQUIRES: outlives the Server.
  trace::SpanExporter* span_exporter = nullptr;
  trace::Sampler sampler{};
  AccessLogMode access_log = AccessLogMode::kErrors;
  // kErrors: a request answered later than this is logged whatever its status.
  std::chrono::milliseconds access_log_slow{1000};
};

class Server {
 public:
  // Binds and listens (connections queue in the backlog until Start()). Errors:
  // kInvalidArgument for a bad host, kUnavailable when the address cannot be bound.
  // REQUIRES: `api` and `metrics` outlive the Server.
  static base::Result<std::unique_ptr<Server>> Open(ServerOptions options, Api& api,
                                                    metrics::HttpMetrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the real one when 0 was asked for).
  std::uint16_t port() const { return port_; }
  // Starts accepting and the I/O threads.
  void Start();
  // Closes the listening socket; responses from now on carry "Connection: close".
  void StopAccepting();
  // Waits until no request is being handled or its response written. False on timeout.
  bool WaitForInFlight(std::chrono::milliseconds timeout);
  // Stops the I/O threads and closes every connection. Idempotent.
  void Stop();

  // State the connections share; defined in server.cc.
  struct Shared;

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  Server(ServerOptions options, Api& api, metrics::HttpMetrics& metrics);
  base::Status Listen();
  void DoAccept();
  void OnAccept(const boost::system::error_code& error, boost::asio::ip::tcp::socket socket);
  boost::asio::io_context& NextContext();
  static void RunContext(boost::asio::io_context& context);

  const ServerOptions options_;
  std::unique_ptr<Shared> shared_;  // outlives the contexts: connections refer to it
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_timer_;
  std::size_t next_context_index_ = 0;  // acceptor thread only
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace fs::http
