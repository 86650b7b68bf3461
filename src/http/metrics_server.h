// MetricsServer: the optional second listener of --metrics-listen HOST:PORT. It answers
// GET /metrics (and HEAD) with what the main port's /metrics would, and 404 to anything else,
// so the main port need not expose the metrics to the public. One thread (scrapes come a few
// a minute), one request per connection, each with a deadline, a few connections at once.
// Thread-safety: Open/Start/Stop from the control thread (main); `render` runs on the
// server's own thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"

namespace fs::http {

struct MetricsServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the OS picks a free one (see port())
  // One connection's request read and response write at most: a stuck scraper must not hold
  // the only thread.
  std::chrono::seconds timeout{10};
};

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // Binds and listens. Errors: kInvalidArgument for a bad host, kUnavailable when the address
  // cannot be bound. REQUIRES: whatever `render` reads outlives Stop().
  static base::Result<std::unique_ptr<MetricsServer>> Open(MetricsServerOptions options,
                                                           Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const { return port_; }
  void Start();
  // Closes the listener and joins the thread. Idempotent.
  void Stop();

 private:
  MetricsServer(MetricsServerOptions options, Render render);
  void Accept();
  void Serve(boost::asio::ip::tcp::socket socket);

  // Scrapers served at once at most (a few Prometheus servers); beyond it a connection is
  // closed at once, so a flood of idle connections holds no more than this many deadlines.
  static constexpr std::size_t kMetricsConnectionsMax = 16;

  const MetricsServerOptions options_;
  const Render render_;
  // Open sessions; touched only on the server's thread.
  std::shared_ptr<std::size_t> open_count_ = std::make_shared<std::size_t>(0);
  boost::asio::io_context context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace fs::http
