#include "http/side_server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/request_id.h"
#include "http/json_render.h"
#include "http/limits.h"
#include "http/listener.h"
#include "http/outcome_table.h"
#include "http/replies.h"

namespace fs::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

base::Result<std::unique_ptr<SideServer>> SideServer::Open(SideServerOptions options,
                                                           Responder respond) {
  std::unique_ptr<SideServer> server(new SideServer(std::move(options), std::move(respond)));
  const SideServerOptions& opts = server->options_;
  FS_RETURN_IF_ERROR(BindAndListen(server->acceptor_, opts.host, opts.port, opts.flag));
  server->port_ = server->acceptor_.local_endpoint().port();
  return server;
}

SideServer::SideServer(SideServerOptions options, Responder respond)
    : options_(std::move(options)), respond_(std::move(respond)), acceptor_(context_) {}

SideServer::~SideServer() { Stop(); }

void SideServer::Start() {
  Accept();
  thread_ = std::thread([this] { context_.run(); });
}

void SideServer::StopThread() {
  if (!thread_.joinable()) return;
  context_.stop();
  thread_.join();
}

void SideServer::Stop() {
  StopThread();
  // The thread is gone: the acceptor is ours again. Open sessions go with the context.
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

int SideServer::ReleaseListener() {
  StopThread();
  if (!acceptor_.is_open()) return -1;
  boost::system::error_code error;
  const int fd = acceptor_.release(error);
  return error ? -1 : fd;
}

void SideServer::Accept() {
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
  Session(asio::ip::tcp::socket socket, const SideServer::Responder& respond,
          std::chrono::seconds timeout, std::shared_ptr<std::size_t> open_count)
      : stream_(std::move(socket)),
        respond_(respond),
        timeout_(timeout),
        open_count_(std::move(open_count)) {
    ++*open_count_;
  }
  ~Session() { --*open_count_; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() {
    parser_.header_limit(static_cast<std::uint32_t>(kHeaderBytesMax));
    parser_.body_limit(kBodyBytesMax);
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
    // Like every answer of the server (server.cc): the client's id when valid, else a new one.
    const auto given = request.find("X-Request-Id");
    const std::string request_id = base::RequestIdOf(
        given == request.end() ? std::nullopt : std::optional<std::string_view>(given->value()));
    const Response answer = respond_(request.method_string(), request.target(), request_id);
    response_.version(11);
    response_.keep_alive(false);
    response_.set("X-Request-Id", request_id);
    response_.result(answer.status);
    response_.set(bhttp::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) response_.set(name, value);
    response_.body() = answer.body;
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
  // A body (a reserve sent while the node starts) is read, within the main port's limit, and
  // ignored: the answer must reach a client that is still sending.
  beast::flat_buffer buffer_{kHeaderBytesMax};
  bhttp::request_parser<bhttp::string_body> parser_;
  bhttp::response<bhttp::string_body> response_;
  const SideServer::Responder& respond_;
  const std::chrono::seconds timeout_;
  std::shared_ptr<std::size_t> open_count_;  // the server thread's count of sessions
};

bool IsGet(std::string_view method) { return method == "GET" || method == "HEAD"; }

}  // namespace

void SideServer::Serve(asio::ip::tcp::socket socket) {
  if (*open_count_ >= kConnectionsMax) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<Session>(std::move(socket), respond_, options_.timeout, open_count_)->Start();
}

SideServer::Responder MetricsResponder(std::function<std::string()> render) {
  return [render = std::move(render)](std::string_view method, std::string_view target,
                                      std::string_view /*request_id*/) {
    if (IsGet(method) && target == "/metrics") {
      return Response(200, render(), kMetricsContentType);
    }
    return Response(404, "only GET /metrics is served on this port\n", "text/plain; charset=utf-8");
  };
}

SideServer::Responder StartingResponder() {
  return [](std::string_view method, std::string_view target, std::string_view request_id) {
    const std::string_view path = target.substr(0, target.find('?'));
    if (IsGet(method) && path == "/healthz") return JsonResponse(200, RenderStatusBody("ok"));
    constexpr std::string_view kMessage =
        "the node is starting: it is loading its state from the store; try again shortly";
    Response response = ErrorResponse(503, code::kUnavailable, kMessage);
    if (IsGet(method) && path == "/readyz") {
      response.body = RenderStatusError("starting", code::kUnavailable, kMessage, request_id);
    } else {
      response.body = WithErrorRequestId(std::move(response.body), request_id);
    }
    response.headers.emplace_back("Retry-After", "1");
    return response;
  };
}

}  // namespace fs::http
