// HTTP clients for black-box tests against 127.0.0.1.
//
// HttpClient: a small synchronous HTTP/1.1 keep-alive client on Boost.Beast. Every request and
// connect is bounded by a timeout; a transport failure (refused, reset, timeout, server closed
// the connection) comes back as HttpResponse::status == 0 with `error` set, never as an
// exception. It never retries: a request that failed may or may not have reached the server.
// After a failure or a `Connection: close` response the next request opens a new connection.
//
// RawConnection: a plain socket for sending arbitrary bytes (malformed requests, slow or idle
// clients) and reading whatever comes back until the server closes the connection.
//
// Thread-safety: an instance belongs to one thread at a time; use one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fs::itest {

struct HttpHeader {
  std::string name;
  std::string value;
};
using HttpHeaders = std::vector<HttpHeader>;

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  std::string body;     // sent with a Content-Length whenever non-empty or the method is POST
  HttpHeaders headers;  // sent after the defaults (Host, Content-Type for bodies)
};

struct HttpResponse {
  int status = 0;     // 0: transport failure, see `error`
  std::string error;  // transport error text when status == 0
  HttpHeaders headers;
  std::string body;

  // The first header named `name` (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
  // For assertion messages: status, error or body (truncated).
  std::string Describe() const;
};

inline constexpr std::chrono::milliseconds kDefaultHttpTimeout{15'000};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::chrono::milliseconds timeout = kDefaultHttpTimeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse Send(const HttpRequest& request);
  HttpResponse Get(std::string target, HttpHeaders headers = {});
  HttpResponse Post(std::string target, std::string body, HttpHeaders headers = {});
  HttpResponse Delete(std::string target, HttpHeaders headers = {});

  // Drops the connection; the next request reconnects.
  void Close();
  // Connections opened so far (tests check keep-alive reuse).
  int connect_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The result of reading from a RawConnection.
struct RawRead {
  std::string bytes;
  bool closed = false;     // the server closed (FIN or reset) the connection
  bool timed_out = false;  // the bound passed with the connection still open
};

class RawConnection {
 public:
  // Connects at once; connected() says whether it worked.
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of `bytes`; false when the connection is broken.
  bool Send(std::string_view bytes);
  // Reads until the server closes the connection or `timeout` passes.
  RawRead ReadUntilClosed(std::chrono::milliseconds timeout);
  // Reads until at least one complete HTTP response head has arrived plus its Content-Length
  // body, the server closes, or `timeout` passes.
  RawRead ReadResponse(std::chrono::milliseconds timeout);

 private:
  RawRead ReadUntil(std::chrono::milliseconds timeout, bool stop_after_response);

  int fd_ = -1;
};

// The status code of the first response in `bytes` ("HTTP/1.1 400 ..."), or 0.
int ParseRawStatus(std::string_view bytes);

}  // namespace fs::itest
