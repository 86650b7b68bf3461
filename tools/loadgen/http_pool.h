// HTTP/1.1 keep-alive client connections for the load generator (Boost.Beast over Asio
// coroutines). A Connection is one TCP connection that reconnects on demand; the pool is simply
// one Connection per load coroutine, so requests on a connection never overlap.
// Also a blocking one-shot request for setup and the final admin reads.
// Thread-safety: a Connection belongs to the coroutine (and io_context thread) that made it.
#pragma once

// clang-format off
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it
// clang-format on

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace fs::loadgen {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;
  std::string body;  // sent as application/json when not empty
  std::vector<Header> headers;
};

struct Response {
  int status = 0;  // 0: transport error (connect, write, read or timeout)
  std::string body;
};

class Connection {
 public:
  Connection(boost::asio::any_io_executor executor, std::string host, std::string port,
             std::chrono::milliseconds timeout);
  boost::asio::awaitable<Response> Send(const Request& request);

 private:
  boost::asio::awaitable<void> Connect();
  void Close();
  // Writes `request` into request_text_ as HTTP/1.1 bytes, reusing its capacity.
  void Serialize(const Request& request);

  std::string host_;
  std::string port_;
  std::chrono::milliseconds timeout_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::string request_text_;  // the request being written; its capacity is kept between sends
  bool connected_ = false;
};

// One request on a fresh connection, blocking; for setup and the final checks.
Response BlockingSend(const std::string& host, const std::string& port, const Request& request);

// The "error.code" of an error body, or "" when there is none.
std::string ErrorCode(std::string_view body);
// A top-level string field of a JSON object body, or "" when absent.
std::string StringField(std::string_view body, const char* name);

}  // namespace fs::loadgen
