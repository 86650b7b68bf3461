#include "http/metrics_server.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/request_id.h"
#include "http/exchange.h"
#include "http/limits.h"

namespace fs::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

base::Result<std::unique_ptr<MetricsServer>> MetricsServer::Open(MetricsServerOptions options,
                                                                 Render render) {
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(options), std::move(render)));
  boost::system::error_code error;
  const auto address = asio::ip::make_address(server->options_.host, error);
  if (error) {
    return base::InvalidArgument("--metrics-listen: not an IP address: " + server->options_.host);
  }
  const asio::ip::tcp::endpoint endpoint(address, server->options_.port);
  auto& acceptor = server->acceptor_;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return base::Unavailable("--metrics-listen: cannot listen on " + server->options_.host + ":" +
                             std::to_string(server->options_.port) + ": " + error.message());
  }
  server->port_ = acceptor.local_endpoint().port();
  return server;
}

MetricsServer::MetricsServer(MetricsServerOptions options, Render render)
    : options_(std::move(options)), render_(std::move(render)), acceptor_(context_) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Start() {
  Accept();
  thread_ = std::thread([this] { context_.run(); });
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  context_.stop();
  thread_.join();
  // The thread is gone: the acceptor is ours again. Open sessions go with the context.
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void MetricsServer::Accept() {
  acceptor_.async_accept(
      [this](const boost::system::error_code& error, asio::ip::tcp::socket socket) {
        if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (!error) Serve(std::move(socket));
        Accept();
      });
}

namespace {

// One request per connection; the session owns itself through the pending operation.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, const MetricsServer::Render& render,
          std::chrono::seconds timeout, std::shared_ptr<std::size_t> open_count)
      : stream_(std::move(socket)),
        render_(render),
        timeout_(timeout),
        open_count_(std::move(open_count)) {
    ++*open_count_;
  }
  ~Session() { --*open_count_; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() {
    parser_.header_limit(static_cast<std::uint32_t>(kHeaderBytesMax));
    stream_.expires_after(timeout_);
    bhttp::async_read(stream_, buffer_, parser_,
                      [self = shared_from_this()](const boost::system::error_code& error,
                                                  std::size_t) { self->OnRead(error); });
  }

 private:
  void OnRead(const boost::system::error_code& error) {
    if (error) return;
    const auto& request = parser_.get();
    const bool head = request.method() == bhttp::verb::head;
    const bool metrics =
        request.target() == "/metrics" && (head || request.method() == bhttp::verb::get);
    response_.version(11);
    response_.keep_alive(false);
    // Like every answer of the server (server.cc): the scraper's id when valid, else a new one.
    const auto given = request.find("X-Request-Id");
    response_.set("X-Request-Id",
                  base::RequestIdOf(given == request.end()
                                        ? std::nullopt
                                        : std::optional<std::string_view>(given->value())));
    if (metrics) {
      response_.result(bhttp::status::ok);
      response_.set(bhttp::field::content_type, kMetricsContentType);
      response_.body() = render_();
    } else {
      response_.result(bhttp::status::not_found);
      response_.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      response_.body() = "only GET /metrics is served on this port\n";
    }
    response_.prepare_payload();
    if (head) response_.body().clear();  // Content-Length stays the GET's
    stream_.expires_after(timeout_);
    bhttp::async_write(stream_, response_,
                       [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                         boost::system::error_code ignored;
                         self->stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                         ignored);
                       });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kHeaderBytesMax};
  bhttp::request_parser<bhttp::empty_body> parser_;
  bhttp::response<bhttp::string_body> response_;
  const MetricsServer::Render& render_;
  const std::chrono::seconds timeout_;
  std::shared_ptr<std::size_t> open_count_;  // the server thread's count of sessions
};

}  // namespace

void MetricsServer::Serve(asio::ip::tcp::socket socket) {
  if (*open_count_ >= kMetricsConnectionsMax) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<Session>(std::move(socket), render_, options_.timeout, open_count_)->Start();
}

}  // namespace fs::http
