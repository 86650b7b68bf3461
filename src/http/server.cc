#include "http/server.h"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <iterator>
#include <optional>
#include <span>
#include <unordered_map>

#include "base/request_id.h"
#include "base/thread_annotations.h"
#include "crypto/sha256.h"
#include "http/beast_request.h"
#include "http/json_render.h"
#include "http/listener.h"
#include "http/outcome_table.h"
#include "log/log_context.h"
#include "log/log_output.h"
#include "trace/server_span.h"

namespace fs::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct Server::Shared {
  Shared(Api& api_in, metrics::HttpMetrics& metrics_in, const ServerOptions& options)
      : api(api_in),
        metrics(metrics_in),
        idle_timeout(options.idle_timeout),
        span_exporter(options.span_exporter),
        sampler(options.sampler),
        access_log(options.access_log),
        access_log_slow(options.access_log_slow),
        connections_max(options.connections_max),
        connections_per_ip_max(options.connections_per_ip_max) {}

  // Counts a connection from `address`; false (nothing counted) when it already has the most.
  bool TryAddPeer(const std::string& address) {
    base::MutexLock lock(peers_mutex);
    std::size_t& open = peers[address];
    if (open >= connections_per_ip_max) {
      if (open == 0) peers.erase(address);
      return false;
    }
    ++open;
    return true;
  }
  void RemovePeer(const std::string& address) {
    base::MutexLock lock(peers_mutex);
    const auto found = peers.find(address);
    if (found == peers.end()) return;
    if (--found->second == 0) peers.erase(found);
  }

  void RequestStarted() { in_flight.fetch_add(1, std::memory_order_acq_rel); }
  void RequestFinished() {
    if (in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Lock so a waiter between its predicate check and its wait cannot miss this.
      base::MutexLock lock(idle_mutex);
      idle_cv.NotifyAll();
    }
  }

  Api& api;
  metrics::HttpMetrics& metrics;
  const std::chrono::seconds idle_timeout;
  trace::SpanExporter* const span_exporter;  // nullptr: tracing off
  const trace::Sampler sampler;
  const AccessLogMode access_log;
  const std::chrono::milliseconds access_log_slow;
  const std::size_t connections_max;
  const std::size_t connections_per_ip_max;
  std::atomic<std::size_t> connection_count{0};
  // Open connections by peer address: at most connections_max entries (each holds one).
  base::Mutex peers_mutex;
  std::unordered_map<std::string, std::size_t> peers GUARDED_BY(peers_mutex);
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> shutting_down{false};
  // Guards no data of its own (in_flight is atomic): it orders RequestFinished's notify
  // after a waiter's check of in_flight, so the wake-up cannot fall between check and wait.
  base::Mutex idle_mutex;
  base::CondVar idle_cv;
};

namespace {

// After answering a request we close on, we keep reading (and discarding) what the client
// still sends for at most this long / this much, so the close is a FIN after our response
// and not a RST that could destroy the response in the client's receive buffer.
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::size_t kLingerBytesMax = 1024 * 1024;
// The read buffer holds one request head plus read-ahead; bodies go to the parser's string.
constexpr std::size_t kReadBufferBytesMax = 64 * 1024;
constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

// Counts an open connection (in all and for its peer address) for as long as it lives.
class ConnectionPermit {
 public:
  ConnectionPermit(Server::Shared& shared, std::string peer_address)
      : shared_(&shared), peer_address_(std::move(peer_address)) {
    shared_->metrics.connections_open.Add(1);
  }
  ~ConnectionPermit() {
    shared_->RemovePeer(peer_address_);
    shared_->connection_count.fetch_sub(1, std::memory_order_acq_rel);
    shared_->metrics.connections_open.Add(-1);
  }
  const std::string& peer_address() const { return peer_address_; }
  ConnectionPermit(const ConnectionPermit&) = delete;
  ConnectionPermit& operator=(const ConnectionPermit&) = delete;

 private:
  Server::Shared* shared_;
  const std::string peer_address_;
};

enum class AfterWrite : std::uint8_t { kKeepAlive, kClose };

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `peer_address` was counted by Shared::TryAddPeer; the permit gives it back.
  Connection(tcp::socket socket, Server::Shared& shared, std::string peer_address)
      : stream_(std::move(socket)),
        buffer_(kReadBufferBytesMax),
        shared_(shared),
        permit_(shared, std::move(peer_address)) {}

  void Start() { DoReadHeader(); }

 private:
  void DoReadHeader();
  // `header_bytes`: the request line, the fields and the blank line, as read.
  void OnHeader(const beast::error_code& error, std::size_t header_bytes);
  void OnBody(const beast::error_code& error);
  void OnRequest();
  void Respond(Response response);
  void RespondAndClose(unsigned status, std::string_view code, std::string_view message);
  // The request's server span from its traceparent/tracestate, and the log context with it.
  void BeginTrace(const bhttp::request<bhttp::string_body>& message);
  // Adds the request id to `response` (header and error body) and the span's traceparent,
  // exports the span when sampled, and writes the access log line.
  void Finish(Response& response, std::string_view method);
  void LogAccess(const Response& response, std::string_view method);
  void Write(unsigned version, Response& response, AfterWrite after);
  void OnWrite(const beast::error_code& error, AfterWrite after);
  void Linger();
  void DoDrain();
  // A response that stays open (Response::stream): the head and first bytes are written, then
  // the stream's pieces, one chunk each, every interval.
  void StartStream();
  void WatchForClose();
  void ScheduleStreamTick();
  void OnStreamTick();
  void WriteStream(std::string bytes, bool last);
  void EndStreamNow();
  void FinishStreamOnce();  // the stream no longer counts as in flight

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string head_;  // the response head being written (reused: keeps its capacity)
  std::string body_;  // the response body being written
  Server::Shared& shared_;
  ConnectionPermit permit_;
  unsigned request_version_ = 11;
  AfterWrite after_response_ = AfterWrite::kKeepAlive;
  bool awaiting_response_ = false;  // a request is with the Api; exactly one answer expected
  std::size_t drained_bytes_ = 0;
  std::string forwarded_for_;    // the request's X-Forwarded-For lines joined, when several
  bool head_request_ = false;    // the request being answered is a HEAD
  std::string request_id_;       // the id of the request being answered
  trace::ServerSpan trace_;      // the request's server span (its ids, sampled or not)
  log::LogContext log_context_;  // views request_id_ and trace_'s ids
  std::chrono::steady_clock::time_point request_started_{};
  Method request_method_ = Method::kOther;
  std::shared_ptr<BodyStream> body_stream_;  // set while a response stays open
  bool chunked_ = false;                     // the open response is sent in chunks (HTTP/1.1)
  bool stream_ended_ = false;                // the client went, or the stream was ended
  bool stream_finished_ = false;             // counted out of in_flight
  std::optional<asio::steady_timer> stream_timer_;  // the next piece, or a stuck write
};

// `bytes` framed as one chunk of a chunked body (RFC 9112 7.1); "" is the last chunk.
std::string Chunk(std::string_view bytes) {
  char digits[24];
  const auto size = std::to_chars(digits, digits + sizeof digits, bytes.size(), 16);
  std::string chunk(digits, size.ptr);
  chunk += "\r\n";
  chunk += bytes;
  chunk += "\r\n";
  return chunk;
}

void Connection::DoReadHeader() {
  head_request_ = false;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(kHeaderBytesMax));
  parser_->body_limit(kBodyBytesMax);
  // One deadline for the whole request (header and body): a client trickling bytes cannot
  // hold the connection longer than an idle one.
  stream_.expires_after(shared_.idle_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code error, std::size_t header_bytes) {
        self->OnHeader(error, header_bytes);
      });
}

void Connection::OnHeader(const beast::error_code& error, std::size_t header_bytes) {
  request_started_ = std::chrono::steady_clock::now();  // the access log's duration
  if (error == bhttp::error::body_limit) {
    return RespondAndClose(413, code::kPayloadTooLarge,
                           "request body exceeds " + std::to_string(kBodyBytesMax) + " bytes");
  }
  // Beast's own limit leaves some slack; the bytes it consumed for the request line and the
  // fields make the limit exact.
  if (error == bhttp::error::header_limit || (!error && header_bytes > kHeaderBytesMax)) {
    return RespondAndClose(431, code::kInvalidRequest,
                           "request headers exceed " + std::to_string(kHeaderBytesMax) + " bytes");
  }
  if (error.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      error != bhttp::error::end_of_stream) {
    return RespondAndClose(400, code::kInvalidRequest, "malformed HTTP request");
  }
  if (error) return;  // closed, reset or timed out: nothing to answer; the socket closes
  if (parser_->get().target().size() > kTargetBytesMax) {
    return RespondAndClose(414, code::kInvalidRequest, "request target too long");
  }
  if (parser_->is_done()) return OnRequest();
  const auto expect = parser_->get().find(bhttp::field::expect);
  if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue")) {
    // The body is within limits (checked at the header): tell the client to send it.
    return asio::async_write(
        stream_, asio::buffer(kContinueResponse),
        [self = shared_from_this()](beast::error_code write_error, std::size_t) {
          if (write_error) return;
          bhttp::async_read(
              self->stream_, self->buffer_, *self->parser_,
              [self](beast::error_code read_error, std::size_t) { self->OnBody(read_error); });
        });
  }
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](beast::error_code read_error, std::size_t) {
                      self->OnBody(read_error);
                    });
}

void Connection::OnBody(const beast::error_code& error) {
  if (error == bhttp::error::body_limit) {  // chunked bodies hit the limit while reading
    return RespondAndClose(413, code::kPayloadTooLarge,
                           "request body exceeds " + std::to_string(kBodyBytesMax) + " bytes");
  }
  if (error.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      error != bhttp::error::end_of_stream) {
    return RespondAndClose(400, code::kInvalidRequest, "malformed HTTP request");
  }
  if (error) return;
  OnRequest();
}

void Connection::OnRequest() {
  stream_.expires_never();  // the engine answers in bounded time; no deadline while we work
  const bhttp::request<bhttp::string_body>& message = parser_->get();
  request_version_ = message.version();
  head_request_ = message.method() == bhttp::verb::head;
  // RFC 9112 3.2: an HTTP/1.1 request without Host is answered 400.
  if (message.version() >= 11 && message.find(bhttp::field::host) == message.end()) {
    return RespondAndClose(400, code::kInvalidRequest, "an HTTP/1.1 request needs a Host header");
  }
  after_response_ = message.keep_alive() ? AfterWrite::kKeepAlive : AfterWrite::kClose;
  request_id_ = base::RequestIdOf(HeaderValue(message, "X-Request-Id"));
  BeginTrace(message);
  const log::ScopedLogContext scope(log_context_);
  request_method_ = ToMethod(message.method());
  Request request;
  request.request_id = request_id_;
  if (trace_.sampled) request.trace = {trace_.trace_id, trace_.span_id, true};
  request.method = ToMethod(message.method());
  request.target = message.target();
  request.authorization = HeaderValue(message, "Authorization");
  request.idempotency_key = HeaderValue(message, "Idempotency-Key");
  request.peer_address = permit_.peer_address();
  request.forwarded_for = CombinedHeaderValue(message, "X-Forwarded-For", forwarded_for_);
  request.user_agent = HeaderValue(message, "User-Agent");
  request.accept_language = HeaderValue(message, "Accept-Language");
  request.device_id = HeaderValue(message, "X-Device-Id");
  request.queue_pass = HeaderValue(message, "X-Queue-Pass");
  request.if_none_match = HeaderValue(message, "If-None-Match");
  request.body = message.body();
  awaiting_response_ = true;
  shared_.RequestStarted();
  shared_.api.Handle(
      request, stream_.get_executor(),
      [self = shared_from_this()](Response response) { self->Respond(std::move(response)); });
}

void Connection::Respond(Response response) {
  if (!awaiting_response_) {
    log::Logger("http")->error("a handler answered twice; dropping the second answer");
    return;
  }
  awaiting_response_ = false;
  const log::ScopedLogContext scope(log_context_);
  if (shared_.shutting_down.load(std::memory_order_acquire)) after_response_ = AfterWrite::kClose;
  Finish(response, MethodName(request_method_));
  Write(request_version_, response, after_response_);
}

void Connection::BeginTrace(const bhttp::request<bhttp::string_body>& message) {
  trace_ = trace::BeginServerSpan(HeaderValue(message, "traceparent"),
                                  HeaderValue(message, "tracestate"),
                                  shared_.span_exporter != nullptr ? &shared_.sampler : nullptr);
  log_context_ = log::LogContext{request_id_, trace_.trace_hex, trace_.span_hex};
}

void Connection::Finish(Response& response, std::string_view method) {
  response.headers.emplace_back("X-Request-Id", request_id_);
  response.headers.emplace_back("traceparent", trace_.Traceparent());
  if (trace_.sampled) {
    trace::Span span =
        trace::EndServerSpan(trace_, method, response.route_template, response.status);
    // Spans leave the product for a tracing backend: the user is named by a pseudonym that
    // still groups one user's requests, not by the id.
    if (!response.user_id.empty()) {
      span.Set("user.id", crypto::Sha256Hex(response.user_id).substr(0, 16));
    }
    if (!response.sku_id.empty()) span.Set("flashsale.sku", response.sku_id);
    shared_.span_exporter->Submit(std::move(span));
  }
  if (response.status >= 400)
    response.body = WithErrorRequestId(std::move(response.body), request_id_);
  LogAccess(response, method);
}

void Connection::LogAccess(const Response& response, std::string_view method) {
  if (shared_.access_log == AccessLogMode::kOff) return;
  const auto duration = std::chrono::steady_clock::now() - request_started_;
  const bool slow = duration > shared_.access_log_slow;
  if (shared_.access_log == AccessLogMode::kErrors && response.status < 500 && !slow) return;
  const double duration_ms = std::chrono::duration<double, std::milli>(duration).count();
  const std::string_view route =
      response.route_template.empty() ? std::string_view("-") : response.route_template;
  const log::LogField fields[] = {
      {"method", method},
      {"route", route},
      {"status", static_cast<std::int64_t>(response.status)},
      {"duration_ms", duration_ms},
      {"bytes", static_cast<std::int64_t>(response.body.size())},
      {"client", std::string_view(permit_.peer_address())},
      {"user_id", std::string_view(response.user_id)},  // last: left out when unknown
  };
  const std::span<const log::LogField> known(fields, response.user_id.empty() ? 6 : 7);
  log::Emit(response.status >= 500 ? "error" : "info", "access", "request", known);
}

// Protocol-level errors (before routing): answered here, counted as the unmatched route.
void Connection::RespondAndClose(unsigned status, std::string_view code, std::string_view message) {
  shared_.metrics.requests.Increment(shared_.api.unmatched_route_index(),
                                     static_cast<std::size_t>(Method::kOther), status);
  shared_.RequestStarted();
  // The head may not have been read (431): then the id is a new one.
  std::optional<std::string_view> given;
  if (parser_ && parser_->is_header_done()) given = HeaderValue(parser_->get(), "X-Request-Id");
  request_id_ = base::RequestIdOf(given);
  if (parser_ && parser_->is_header_done()) {
    BeginTrace(parser_->get());
  } else {
    BeginTrace(bhttp::request<bhttp::string_body>());
  }
  const log::ScopedLogContext scope(log_context_);
  Response response(status, RenderError(code, message));
  Finish(response, "-");
  Write(11, response, AfterWrite::kClose);
}

// The response head is built here, into a buffer the connection keeps, and goes out with the
// body in one gathered write: Beast's serializer and header container cost more per response
// than the few fields we send (docs/benchmarks.md, "CPU per request").
void Connection::Write(unsigned version, Response& response, AfterWrite after) {
  head_.clear();
  head_ += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char digits[24];  // any std::size_t in decimal
  const auto status = std::to_chars(digits, digits + sizeof digits, response.status);
  head_.append(digits, status.ptr);
  head_ += ' ';
  head_ += bhttp::obsolete_reason(static_cast<bhttp::status>(response.status));
  head_ += "\r\nContent-Type: ";
  head_ += response.content_type;
  for (const auto& [name, value] : response.headers) {
    head_ += "\r\n";
    head_ += name;
    head_ += ": ";
    head_ += value;
  }
  chunked_ = false;
  if (response.stream) {
    // Open-ended: chunked in HTTP/1.1; an HTTP/1.0 body ends when the connection closes.
    after = AfterWrite::kClose;
    chunked_ = version != 10;
    if (chunked_) head_ += "\r\nTransfer-Encoding: chunked";
    if (!head_request_) body_stream_ = std::move(response.stream);
    if (chunked_ && !response.body.empty()) response.body = Chunk(response.body);
  } else if (response.status != 304) {  // a 304 has no body and no length (RFC 9110 15.4.5)
    head_ += "\r\nContent-Length: ";
    const auto length = std::to_chars(digits, digits + sizeof digits, response.body.size());
    FS_CHECK(length.ec == std::errc());
    head_.append(digits, length.ptr);
  }
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
  if (after == AfterWrite::kClose && version != 10) head_ += "\r\nConnection: close";
  if (after == AfterWrite::kKeepAlive && version == 10) head_ += "\r\nConnection: keep-alive";
  head_ += "\r\n\r\n";
  body_ = std::move(response.body);
  // HEAD: the GET's status and headers, Content-Length included, and no body (RFC 9110 9.3.2).
  if (head_request_) body_.clear();
  stream_.expires_after(shared_.idle_timeout);  // a client that does not read is dropped
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_)};
  asio::async_write(stream_, buffers,
                    [self = shared_from_this(), after](beast::error_code error, std::size_t) {
                      self->OnWrite(error, after);
                    });
}

void Connection::OnWrite(const beast::error_code& error, AfterWrite after) {
  if (body_stream_ && !error) return StartStream();
  shared_.RequestFinished();
  if (error) return;
  if (after == AfterWrite::kClose) return Linger();
  DoReadHeader();
}

void Connection::Linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(kLingerTimeout);
  DoDrain();
}

void Connection::DoDrain() {
  // Discarded bytes: one scratch buffer per I/O thread is enough.
  thread_local std::array<char, 4096> scratch;
  stream_.async_read_some(asio::buffer(scratch),
                          [self = shared_from_this()](beast::error_code error, std::size_t size) {
                            self->drained_bytes_ += size;
                            if (error || self->drained_bytes_ > kLingerBytesMax) return;
                            self->DoDrain();
                          });
}

// An open stream counts as in flight until it ends: a stopping server ends it at its next
// tick with the last chunk, and waits for that. It holds no read deadline: a silent client is
// normal; one that does not read is dropped when a write stays stuck for the idle timeout.
void Connection::StartStream() {
  stream_.expires_never();
  stream_timer_.emplace(stream_.get_executor());
  WatchForClose();
  ScheduleStreamTick();
}

// Anything from the client (it sends nothing after the request) or its leaving ends the stream.
void Connection::WatchForClose() {
  thread_local std::array<char, 512> scratch;  // discarded
  stream_.async_read_some(
      asio::buffer(scratch),
      [self = shared_from_this()](beast::error_code, std::size_t) { self->EndStreamNow(); });
}

void Connection::ScheduleStreamTick() {
  stream_timer_->expires_after(body_stream_->interval());
  stream_timer_->async_wait([self = shared_from_this()](const beast::error_code& error) {
    if (!error) self->OnStreamTick();
  });
}

void Connection::OnStreamTick() {
  if (stream_ended_) return;
  if (shared_.shutting_down.load(std::memory_order_acquire)) return WriteStream("", true);
  std::optional<std::string> next = body_stream_->Next();
  if (!next) return WriteStream("", true);
  if (next->empty()) return ScheduleStreamTick();
  WriteStream(std::move(*next), false);
}

void Connection::WriteStream(std::string bytes, bool last) {
  body_ = chunked_ ? Chunk(bytes) : std::move(bytes);
  if (last && !chunked_) body_.clear();
  stream_timer_->expires_after(shared_.idle_timeout);
  stream_timer_->async_wait([self = shared_from_this()](const beast::error_code& error) {
    if (!error) self->EndStreamNow();  // the client does not read
  });
  asio::async_write(stream_, asio::buffer(body_),
                    [self = shared_from_this(), last](beast::error_code error, std::size_t) {
                      if (self->stream_ended_) return;
                      self->stream_timer_->cancel();
                      if (error) return self->EndStreamNow();
                      if (!last) return self->ScheduleStreamTick();
                      // The end is sent: the client closes first (see Linger), or we do soon.
                      self->stream_ended_ = true;
                      self->FinishStreamOnce();
                      beast::error_code ignored;
                      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                      self->stream_timer_->expires_after(kLingerTimeout);
                      self->stream_timer_->async_wait([self](const beast::error_code& timer_error) {
                        if (!timer_error) self->EndStreamNow();
                      });
                    });
}

void Connection::FinishStreamOnce() {
  if (stream_finished_) return;
  stream_finished_ = true;
  shared_.RequestFinished();
}

void Connection::EndStreamNow() {
  stream_ended_ = true;
  FinishStreamOnce();
  stream_timer_->cancel();
  beast::error_code ignored;
  stream_.socket().close(ignored);
}

std::vector<std::unique_ptr<asio::io_context>> MakeContexts(std::size_t count) {
  FS_CHECK(count >= 1);
  FS_CHECK(count <= kThreadsMax);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  // Hint 1: each context is run by exactly one thread (posts from other threads stay safe).
  for (std::size_t i = 0; i < count; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  return contexts;
}

}  // namespace

Server::Server(ServerOptions options, Api& api, metrics::HttpMetrics& metrics)
    : options_(std::move(options)),
      shared_(std::make_unique<Shared>(api, metrics, options_)),
      contexts_(MakeContexts(options_.threads)),
      acceptor_(*contexts_.front()),
      accept_retry_timer_(*contexts_.front()) {}

base::Result<std::unique_ptr<Server>> Server::Open(ServerOptions options, Api& api,
                                                   metrics::HttpMetrics& metrics) {
  if (options.threads < 1 || options.threads > kThreadsMax) {
    return base::InvalidArgument("threads must be between 1 and " + std::to_string(kThreadsMax));
  }
  std::unique_ptr<Server> server(new Server(std::move(options), api, metrics));
  FS_RETURN_IF_ERROR(server->Listen());
  return server;
}

base::Status Server::Listen() {
  if (options_.listener >= 0) {
    FS_RETURN_IF_ERROR(AdoptListener(acceptor_, options_.listener));
  } else {
    FS_RETURN_IF_ERROR(BindAndListen(acceptor_, options_.host, options_.port, "--listen"));
  }
  boost::system::error_code error;
  port_ = acceptor_.local_endpoint(error).port();
  if (error) return base::Unavailable("--listen: no local address: " + error.message());
  return base::Status::Ok();
}

Server::~Server() { Stop(); }

void Server::Start() {
  for (auto& context : contexts_) guards_.push_back(asio::make_work_guard(*context));
  asio::post(acceptor_.get_executor(), [this] { DoAccept(); });
  for (auto& context : contexts_) {
    threads_.emplace_back([&context] { RunContext(*context); });
  }
}

void Server::RunContext(asio::io_context& context) {
  for (;;) {
    try {
      context.run();
      return;
    } catch (const std::exception& error) {
      // Connection handlers report errors by code; an exception here is a bug or bad_alloc.
      // Keep the thread serving the other connections.
      log::Logger("http")->error("I/O thread caught: {}", error.what());
    }
  }
}

asio::io_context& Server::NextContext() {
  asio::io_context& context = *contexts_[next_context_index_];
  next_context_index_ = (next_context_index_ + 1) % contexts_.size();
  return context;
}

void Server::DoAccept() {
  acceptor_.async_accept(asio::any_io_executor(NextContext().get_executor()),
                         [this](const boost::system::error_code& error, tcp::socket socket) {
                           OnAccept(error, std::move(socket));
                         });
}

void Server::OnAccept(const boost::system::error_code& error, tcp::socket socket) {
  if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (error) {
    // Typically EMFILE: back off briefly instead of spinning on a failing accept.
    log::Logger("http")->warn("accept failed: {}", error.message());
    accept_retry_timer_.expires_after(std::chrono::milliseconds(50));
    accept_retry_timer_.async_wait([this](const boost::system::error_code& timer_error) {
      if (!timer_error) DoAccept();
    });
    return;
  }
  DoAccept();
  // The peer is fixed for the connection's life: read it once (rate limiting keys on it, and
  // so does the per-address connection count). Empty if unknown.
  boost::system::error_code ignored;
  const tcp::endpoint peer = socket.remote_endpoint(ignored);
  std::string peer_address = ignored ? std::string() : peer.address().to_string();
  const std::size_t open = shared_->connection_count.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (open > shared_->connections_max || !shared_->TryAddPeer(peer_address)) {
    shared_->connection_count.fetch_sub(1, std::memory_order_acq_rel);
    shared_->metrics.connections_rejected.Increment();
    socket.close(ignored);
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);  // small responses must not wait for Nagle
  // The socket is bound to its own context: start it there, on that thread.
  auto executor = socket.get_executor();
  asio::post(executor,
             [connection = std::make_shared<Connection>(
                  std::move(socket), *shared_, std::move(peer_address))] { connection->Start(); });
}

void Server::StopAccepting() {
  shared_->shutting_down.store(true, std::memory_order_release);
  shared_->api.SetShuttingDown();
  // The acceptor belongs to its context's thread: close it there.
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
  });
}

bool Server::WaitForInFlight(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  base::MutexLock lock(shared_->idle_mutex);
  while (shared_->in_flight.load(std::memory_order_acquire) != 0) {
    if (!shared_->idle_cv.WaitUntil(shared_->idle_mutex, deadline)) {
      return shared_->in_flight.load(std::memory_order_acquire) == 0;
    }
  }
  return true;
}

void Server::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Audit reads answer by posting to a connection's executor: finish them while the
  // contexts still run.
  shared_->api.StopAuditReads();
  guards_.clear();
  for (auto& context : contexts_) context->stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace fs::http
