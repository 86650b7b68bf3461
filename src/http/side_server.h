// SideServer: a small listener beside the main front end, one thread, one request per
// connection, each with a deadline, a few connections at once, answered by a function of the
// method and target. Two uses:
//   - the --metrics-listen port: GET /metrics and 404 to anything else (MetricsResponder);
//   - the main port while the node starts: it is bound at once, /healthz answers 200 and
//     everything else 503 "starting" (StartingResponder) until recovery is done; then
//     ReleaseListener() hands the listening socket to the main Server, so connections that
//     arrive during the handover wait in the backlog instead of being refused.
// Thread-safety: Open/Start/Stop/ReleaseListener from the control thread (main); the responder
// runs on the server's own thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"
#include "http/exchange.h"

namespace fs::http {

struct SideServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the OS picks a free one (see port())
  // What a bind error names, e.g. "--metrics-listen".
  std::string flag = "--listen";
  // One connection's request read and response write at most: a stuck client must not hold
  // the only thread.
  std::chrono::seconds timeout{10};
};

class SideServer {
 public:
  // Answers one request (its X-Request-Id, valid or generated, goes on the response and in
  // error bodies); `head` requests get the same headers and no body.
  using Responder = std::function<Response(std::string_view method, std::string_view target,
                                           std::string_view request_id)>;
  // Binds and listens. Errors: kInvalidArgument for a bad host, kUnavailable when the address
  // cannot be bound. REQUIRES: whatever `respond` reads outlives Stop().
  static base::Result<std::unique_ptr<SideServer>> Open(SideServerOptions options,
                                                        Responder respond);
  ~SideServer();
  SideServer(const SideServer&) = delete;
  SideServer& operator=(const SideServer&) = delete;

  std::uint16_t port() const { return port_; }
  void Start();
  // Closes the listener and joins the thread. Idempotent.
  void Stop();
  // Stops serving and returns the listening socket, still bound and listening (the caller owns
  // it), or -1 when already stopped. Connections already accepted are closed.
  int ReleaseListener();

 private:
  SideServer(SideServerOptions options, Responder respond);
  void StopThread();
  void Accept();
  void Serve(boost::asio::ip::tcp::socket socket);

  // Clients served at once at most (a few Prometheus servers, a few probes); beyond it a
  // connection is closed at once, so a flood of idle connections holds no more than this many
  // deadlines.
  static constexpr std::size_t kConnectionsMax = 16;

  const SideServerOptions options_;
  const Responder respond_;
  // Open sessions; touched only on the server's thread.
  std::shared_ptr<std::size_t> open_count_ = std::make_shared<std::size_t>(0);
  boost::asio::io_context context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// --metrics-listen: GET (and HEAD) /metrics answers `render()`, anything else 404.
SideServer::Responder MetricsResponder(std::function<std::string()> render);

// The main port while the node recovers: /healthz 200 {"status":"ok"}; /readyz 503
// {"status":"starting",...}; every other request 503 UNAVAILABLE with Retry-After: 1.
SideServer::Responder StartingResponder();

}  // namespace fs::http
