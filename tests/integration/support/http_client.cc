#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace fs::itest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Responses larger than this are a bug in the server (the biggest is /metrics).
constexpr std::uint64_t kResponseBodyBytesMax = 64ull * 1024 * 1024;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const HttpHeader& header : headers) {
    if (EqualsIgnoreCase(header.name, name)) return header.value;
  }
  return std::nullopt;
}

std::string HttpResponse::Describe() const {
  if (status == 0) return "transport error: " + error;
  constexpr std::size_t kBodyShownMax = 600;
  std::string shown = body.size() > kBodyShownMax ? body.substr(0, kBodyShownMax) + "..." : body;
  return "HTTP " + std::to_string(status) + " body: " + shown;
}

struct HttpClient::Impl {
  Impl(std::uint16_t port_in, std::chrono::milliseconds timeout_in)
      : port(port_in), timeout(timeout_in) {}

  // Runs the io_context until the started operation completes (or the stream's timer fires).
  void RunUntilDone() {
    io.restart();
    io.run();
  }

  beast::error_code Connect() {
    stream = std::make_unique<beast::tcp_stream>(io);
    buffer.clear();
    const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
    beast::error_code result = asio::error::would_block;
    stream->expires_after(timeout);
    stream->async_connect(endpoint, [&result](beast::error_code ec) { result = ec; });
    RunUntilDone();
    if (!result) {
      ++connect_count;
      beast::error_code ignored;
      stream->socket().set_option(tcp::no_delay(true), ignored);
    }
    return result;
  }

  void Drop() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
      stream.reset();
    }
    buffer.clear();
  }

  HttpResponse Fail(std::string_view stage, const beast::error_code& ec) {
    Drop();
    HttpResponse response;
    response.error = std::string(stage) + ": " + ec.message();
    return response;
  }

  HttpResponse Send(const HttpRequest& request) {
    if (!stream || !stream->socket().is_open()) {
      const beast::error_code ec = Connect();
      if (ec) return Fail("connect", ec);
    }
    http::request<http::string_body> message;
    message.version(11);
    message.method_string(request.method);
    message.target(request.target);
    message.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    message.keep_alive(true);
    if (!request.body.empty()) message.set(http::field::content_type, "application/json");
    for (const HttpHeader& header : request.headers) message.set(header.name, header.value);
    message.body() = request.body;
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
      message.content_length(request.body.size());
    }

    beast::error_code write_result = asio::error::would_block;
    stream->expires_after(timeout);
    http::async_write(*stream, message,
                      [&write_result](beast::error_code ec, std::size_t) { write_result = ec; });
    RunUntilDone();
    if (write_result) return Fail("write", write_result);

    http::response_parser<http::string_body> parser;
    parser.body_limit(kResponseBodyBytesMax);
    if (request.method == "HEAD") parser.skip(true);
    beast::error_code read_result = asio::error::would_block;
    stream->expires_after(timeout);
    http::async_read(*stream, buffer, parser,
                     [&read_result](beast::error_code ec, std::size_t) { read_result = ec; });
    RunUntilDone();
    if (read_result) return Fail("read", read_result);

    http::response<http::string_body> reply = parser.release();
    HttpResponse response;
    response.status = static_cast<int>(reply.result_int());
    for (const auto& field : reply.base()) {
      response.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    response.body = std::move(reply.body());
    if (!reply.keep_alive()) Drop();
    return response;
  }

  const std::uint16_t port;
  const std::chrono::milliseconds timeout;
  asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  int connect_count = 0;
};

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(port, timeout)) {}

HttpClient::~HttpClient() { impl_->Drop(); }

HttpResponse HttpClient::Send(const HttpRequest& request) { return impl_->Send(request); }

HttpResponse HttpClient::Get(std::string target, HttpHeaders headers) {
  return Send({"GET", std::move(target), "", std::move(headers)});
}

HttpResponse HttpClient::Post(std::string target, std::string body, HttpHeaders headers) {
  return Send({"POST", std::move(target), std::move(body), std::move(headers)});
}

HttpResponse HttpClient::Delete(std::string target, HttpHeaders headers) {
  return Send({"DELETE", std::move(target), "", std::move(headers)});
}

void HttpClient::Close() { impl_->Drop(); }

int HttpClient::connect_count() const { return impl_->connect_count; }

RawConnection::RawConnection(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Loopback connects complete or fail at once; no timeout needed.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::Send(std::string_view bytes) {
  if (fd_ < 0) return false;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

RawRead RawConnection::ReadUntilClosed(std::chrono::milliseconds timeout) {
  return ReadUntil(timeout, /*stop_after_response=*/false);
}

RawRead RawConnection::ReadResponse(std::chrono::milliseconds timeout) {
  return ReadUntil(timeout, /*stop_after_response=*/true);
}

namespace {

// True when `bytes` holds a complete response head and its Content-Length body.
bool HasCompleteResponse(const std::string& bytes) {
  const std::size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  std::string head = bytes.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::size_t field = head.find("\r\ncontent-length:");
  std::size_t length = 0;
  if (field != std::string::npos) {
    std::size_t i = field + std::strlen("\r\ncontent-length:");
    while (i < head.size() && head[i] == ' ') ++i;
    while (i < head.size() && head[i] >= '0' && head[i] <= '9') {
      length = length * 10 + static_cast<std::size_t>(head[i] - '0');
      ++i;
    }
  }
  return bytes.size() >= head_end + 4 + length;
}

}  // namespace

RawRead RawConnection::ReadUntil(std::chrono::milliseconds timeout, bool stop_after_response) {
  RawRead result;
  if (fd_ < 0) {
    result.closed = true;
    return result;
  }
  const auto deadline = SteadyClock::now() + timeout;
  char buffer[8192];
  while (true) {
    if (stop_after_response && HasCompleteResponse(result.bytes)) return result;
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      result.timed_out = true;
      return result;
    }
    pollfd fd{fd_, POLLIN, 0};
    const auto wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    const int ready = ::poll(&fd, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result.closed = true;
      return result;
    }
    result.bytes.append(buffer, static_cast<std::size_t>(n));
  }
}

int ParseRawStatus(std::string_view bytes) {
  if (!bytes.starts_with("HTTP/1.")) return 0;
  if (bytes.size() < 12 || bytes[8] != ' ') return 0;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (bytes[i] < '0' || bytes[i] > '9') return 0;
    status = status * 10 + (bytes[i] - '0');
  }
  return status;
}

}  // namespace fs::itest
