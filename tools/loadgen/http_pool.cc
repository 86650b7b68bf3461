#include "tools/loadgen/http_pool.h"

#include <rapidjson/document.h>

#include "json/small_document.h"

namespace fs::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kReadBufferBytes = 64 * 1024;

http::request<http::string_body> ToBeast(const Request& request, const std::string& host) {
  http::request<http::string_body> out(request.method, request.target, 11);
  out.keep_alive(true);
  out.set(http::field::host, host);
  for (const Header& header : request.headers) out.set(header.name, header.value);
  if (!request.body.empty()) {
    out.set(http::field::content_type, "application/json");
    out.body() = request.body;
  }
  out.prepare_payload();
  return out;
}

// The fields Beast's prepare_payload() would set: a Content-Length for a body, and for an
// empty body only on the methods that expect one.
bool SendsContentLength(const Request& request) {
  if (!request.body.empty()) return true;
  return request.method == http::verb::post || request.method == http::verb::put ||
         request.method == http::verb::options;
}

}  // namespace

Connection::Connection(asio::any_io_executor executor, std::string host, std::string port,
                       std::chrono::milliseconds timeout)
    : host_(std::move(host)),
      port_(std::move(port)),
      timeout_(timeout),
      resolver_(executor),
      stream_(executor) {
  // Room for a whole answer (a catalog page is about 8 KB): Beast reads at most the buffer's
  // free capacity per call, so a small buffer reads a large answer in many system calls.
  buffer_.reserve(kReadBufferBytes);
}

asio::awaitable<void> Connection::Connect() {
  auto endpoints = co_await resolver_.async_resolve(host_, port_, asio::use_awaitable);
  stream_.expires_after(timeout_);
  co_await stream_.async_connect(endpoints, asio::use_awaitable);
  stream_.socket().set_option(tcp::no_delay(true));
  connected_ = true;
}

void Connection::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  buffer_.clear();
  connected_ = false;
}

// The same bytes as ToBeast() through Beast's serializer (fields in insertion order), written
// directly: the serializer's buffer sequences cost more CPU than the rest of a request.
void Connection::Serialize(const Request& request) {
  std::string& out = request_text_;
  out.clear();
  out += http::to_string(request.method);
  out += ' ';
  out += request.target;
  out += " HTTP/1.1\r\nHost: ";
  out += host_;
  out += "\r\n";
  for (const Header& header : request.headers) {
    out += header.name;
    out += ": ";
    out += header.value;
    out += "\r\n";
  }
  if (!request.body.empty()) out += "Content-Type: application/json\r\n";
  if (SendsContentLength(request)) {
    out += "Content-Length: ";
    out += std::to_string(request.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += request.body;
}

asio::awaitable<Response> Connection::Send(const Request& request) {
  Response out;
  try {
    if (!connected_) co_await Connect();
    Serialize(request);
    stream_.expires_after(timeout_);
    co_await asio::async_write(stream_, asio::buffer(request_text_), asio::use_awaitable);
    http::response<http::string_body> response;
    co_await http::async_read(stream_, buffer_, response, asio::use_awaitable);
    out.status = static_cast<int>(response.result_int());
    out.body = std::move(response.body());
    if (!response.keep_alive()) Close();
  } catch (const boost::system::system_error&) {
    // A transport failure is counted by the caller (status 0); the next Send reconnects.
    Close();
    out.status = 0;
  }
  co_return out;
}

Response BlockingSend(const std::string& host, const std::string& port, const Request& request) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return {};
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(endpoints, ec);
  if (ec) return {};
  auto beast_request = ToBeast(request, host);
  beast_request.keep_alive(false);
  http::write(stream, beast_request, ec);
  if (ec) return {};
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, ec);
  if (ec) return {};
  return Response{static_cast<int>(response.result_int()), std::move(response.body())};
}

// Parsed in stack memory (json/small_document.h): most answers of a sale are SOLD_OUT errors.
std::string ErrorCode(std::string_view body) {
  json::SmallDocument<> parsed;
  const auto& document = parsed.Parse(body);
  if (document.HasParseError() || !document.IsObject()) return "";
  const auto error = document.FindMember("error");
  if (error == document.MemberEnd() || !error->value.IsObject()) return "";
  const auto code = error->value.FindMember("code");
  if (code == error->value.MemberEnd() || !code->value.IsString()) return "";
  return code->value.GetString();
}

std::string StringField(std::string_view body, const char* name) {
  json::SmallDocument<> parsed;
  const auto& document = parsed.Parse(body);
  if (document.HasParseError() || !document.IsObject()) return "";
  const auto it = document.FindMember(name);
  if (it == document.MemberEnd() || !it->value.IsString()) return "";
  return it->value.GetString();
}

}  // namespace fs::loadgen
