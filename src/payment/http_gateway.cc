// The HTTP gateway adapter: Boost.Beast, one short-lived connection per call so a hung
// connection can never poison later calls. Exceptions never leave this file.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

#include "payment/gateway.h"

namespace fs::payment {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// Gateway answers are small JSON objects; anything bigger is not one.
constexpr std::uint64_t kResponseBodyBytesMax = 64 * 1024;

struct Endpoint {
  std::string host;
  std::string port;
  std::string prefix;  // path before /v1/payment_intents, without a trailing slash
};

base::Result<Endpoint> ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return base::InvalidArgument("gateway url must start http://");
  const std::string rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == authority.size()) {
    return base::InvalidArgument("gateway url must be http://HOST:PORT, got '" + url + "'");
  }
  return Endpoint{authority.substr(0, colon), authority.substr(colon + 1), prefix};
}

std::string FormEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// The string value of "name" in a flat JSON body, without a full parser: the reason is only
// for failure_reason and logs, and is restricted to [A-Za-z0-9_].
std::string ReasonFrom(const std::string& body, const std::string& name) {
  const std::string needle = "\"" + name + "\"";
  std::size_t at = body.find(needle);
  if (at == std::string::npos) return "";
  at = body.find('"', body.find(':', at + needle.size()));
  if (at == std::string::npos) return "";
  std::string out;
  for (std::size_t i = at + 1; i < body.size() && out.size() < 64; ++i) {
    const char c = body[i];
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word) break;
    out += c;
  }
  return out;
}

class HttpGateway final : public PaymentGateway {
 public:
  HttpGateway(Endpoint endpoint, std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)), timeout_(timeout) {}

  ChargeResult Charge(const ChargeRequest& request) override {
    try {
      return Call(request);
    } catch (const std::exception& error) {
      return {core::ChargeOutcome::kRetryable, std::string("gateway call failed: ") + error.what()};
    }
  }

 private:
  ChargeResult Call(const ChargeRequest& request) {
    asio::io_context context;
    tcp::resolver resolver(context);
    beast::tcp_stream stream(context);
    beast::error_code error;
    const auto results = resolver.resolve(endpoint_.host, endpoint_.port, error);
    if (error) return Retryable("resolve: " + error.message());
    // tcp_stream deadlines apply to asynchronous operations only: each step runs async on this
    // thread's private io_context, under one deadline for the whole call.
    stream.expires_after(timeout_);
    auto run = [&context] {
      context.run();
      context.restart();
    };
    stream.async_connect(results,
                         [&error](beast::error_code ec, const tcp::endpoint&) { error = ec; });
    run();
    if (error) return Retryable("connect: " + error.message());

    bhttp::request<bhttp::string_body> http_request{bhttp::verb::post,
                                                    endpoint_.prefix + "/v1/payment_intents", 11};
    http_request.set(bhttp::field::host, endpoint_.host + ":" + endpoint_.port);
    http_request.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    http_request.set("Idempotency-Key", request.idempotency_key);
    http_request.set(bhttp::field::connection, "close");
    http_request.body() = "amount=" + std::to_string(request.amount_cents) +
                          "&currency=" + FormEscape(Lower(request.currency)) +
                          "&payment_method=" + FormEscape(request.payment_method_id) +
                          "&confirm=true";
    http_request.prepare_payload();
    bhttp::async_write(stream, http_request,
                       [&error](beast::error_code ec, std::size_t) { error = ec; });
    run();
    if (error) return Retryable("send: " + error.message());

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kResponseBodyBytesMax);
    bhttp::async_read(stream, buffer, parser,
                      [&error](beast::error_code ec, std::size_t) { error = ec; });
    run();
    if (error) return Retryable("receive: " + error.message());
    stream.socket().shutdown(tcp::socket::shutdown_both, error);  // best effort
    return Classify(parser.get().result_int(), parser.get().body());
  }

  static ChargeResult Retryable(std::string reason) {
    return {core::ChargeOutcome::kRetryable, std::move(reason)};
  }

  static ChargeResult Classify(unsigned status, const std::string& body) {
    if (status >= 200 && status < 300) return {core::ChargeOutcome::kSucceeded, ""};
    if (status == 409 || status == 429 || status >= 500) {
      return Retryable("gateway answered " + std::to_string(status));
    }
    std::string reason = ReasonFrom(body, "decline_code");
    if (reason.empty()) reason = ReasonFrom(body, "code");
    if (reason.empty()) reason = status == 402 ? "card_declined" : "gateway_rejected";
    return {core::ChargeOutcome::kDeclined, reason};
  }

  const Endpoint endpoint_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

base::Result<std::unique_ptr<PaymentGateway>> NewHttpGateway(HttpGatewayOptions options) {
  auto endpoint = ParseUrl(options.url);
  if (!endpoint) return endpoint.error();
  return std::unique_ptr<PaymentGateway>(new HttpGateway(std::move(*endpoint), options.timeout));
}

}  // namespace fs::payment
