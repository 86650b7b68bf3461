// Adapter around Boost.Beast: library errors and exceptions become Status here.
#include "net/http_call.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace fs::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// Webhook and gateway answers are small; anything bigger is not one of them.
constexpr std::uint64_t kResponseBodyBytesMax = 64 * 1024;

base::Result<HttpReply> Post(const HttpUrl& url, const std::string& path,
                             std::string_view content_type, std::string body,
                             const HttpHeaders& headers, std::chrono::milliseconds timeout) {
  asio::io_context context;
  tcp::resolver resolver(context);
  beast::tcp_stream stream(context);
  beast::error_code error;
  const auto results = resolver.resolve(url.host, url.port, error);
  if (error) return base::Unavailable("resolve " + url.host + ": " + error.message());
  // tcp_stream deadlines apply to asynchronous operations only: each step runs async on this
  // private io_context, under one deadline for the whole call.
  stream.expires_after(timeout);
  auto run = [&context] {
    context.run();
    context.restart();
  };
  stream.async_connect(results,
                       [&error](beast::error_code ec, const tcp::endpoint&) { error = ec; });
  run();
  if (error) return base::Unavailable("connect: " + error.message());
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, path, 11};
  request.set(bhttp::field::host, url.host + ":" + url.port);
  request.set(bhttp::field::content_type, content_type);
  request.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::move(body);
  request.prepare_payload();
  bhttp::async_write(stream, request, [&error](beast::error_code ec, std::size_t) { error = ec; });
  run();
  if (error) return base::Unavailable("send: " + error.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kResponseBodyBytesMax);
  bhttp::async_read(stream, buffer, parser,
                    [&error](beast::error_code ec, std::size_t) { error = ec; });
  run();
  if (error) return base::Unavailable("receive: " + error.message());
  stream.socket().shutdown(tcp::socket::shutdown_both, error);  // best effort
  return HttpReply{parser.get().result_int(), std::move(parser.get().body())};
}

}  // namespace

base::Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return base::InvalidArgument("url must start http://");
  const std::string rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == authority.size()) {
    return base::InvalidArgument("url must be http://HOST:PORT[/PATH], got '" + url + "'");
  }
  return HttpUrl{authority.substr(0, colon), authority.substr(colon + 1),
                 slash == std::string::npos ? "" : rest.substr(slash)};
}

base::Result<HttpReply> HttpPost(const HttpUrl& url, const std::string& path,
                                 std::string_view content_type, std::string body,
                                 const HttpHeaders& headers, std::chrono::milliseconds timeout) {
  try {
    return Post(url, path, content_type, std::move(body), headers, timeout);
  } catch (const std::exception& error) {
    return base::Unavailable(std::string("http post failed: ") + error.what());
  }
}

}  // namespace fs::net
