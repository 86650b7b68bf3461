// Adapter around Boost.Beast and OpenSSL: exceptions and library errors become Status here.
#include "events/http_post.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace fs::events {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kResponseBodyBytesMax = 64 * 1024;

struct Target {
  std::string host;
  std::string port;
  std::string path;
};

base::Result<Target> ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return base::InvalidArgument("url must start http://");
  const std::string rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == authority.size()) {
    return base::InvalidArgument("url must be http://HOST:PORT/PATH, got '" + url + "'");
  }
  return Target{authority.substr(0, colon), authority.substr(colon + 1), path};
}

base::Result<unsigned> Post(const Target& target, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            std::chrono::milliseconds timeout) {
  asio::io_context context;
  tcp::resolver resolver(context);
  beast::tcp_stream stream(context);
  beast::error_code error;
  const auto results = resolver.resolve(target.host, target.port, error);
  if (error) return base::Unavailable("resolve " + target.host + ": " + error.message());
  // Deadlines apply to async operations only: run each step on this private io_context.
  stream.expires_after(timeout);
  auto run = [&context] {
    context.run();
    context.restart();
  };
  stream.async_connect(results,
                       [&error](beast::error_code ec, const tcp::endpoint&) { error = ec; });
  run();
  if (error) return base::Unavailable("connect: " + error.message());
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, target.path, 11};
  request.set(bhttp::field::host, target.host + ":" + target.port);
  request.set(bhttp::field::content_type, "application/json");
  request.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
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
  return parser.get().result_int();
}

}  // namespace

base::Result<unsigned> HttpPost(const std::string& url, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout) {
  auto target = ParseUrl(url);
  if (!target) return target.error();
  try {
    return Post(*target, body, headers, timeout);
  } catch (const std::exception& error) {
    return base::Unavailable(std::string("http post failed: ") + error.what());
  }
}

std::string HmacSha256Hex(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
       &digest_size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < digest_size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace fs::events
