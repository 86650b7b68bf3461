// The Stripe-style HTTP gateway: one form-encoded POST per charge through net::HttpPost (one
// short-lived connection per call, one deadline), classified into succeeded, declined or
// retryable.
#include "net/http_call.h"
#include "payment/gateway.h"

namespace fs::payment {
namespace {

// The gateway's base URL: HOST:PORT and the path before /v1/payment_intents, without a
// trailing slash.
struct Endpoint {
  net::HttpUrl url;
  std::string prefix;
};

base::Result<Endpoint> ParseEndpoint(const std::string& url) {
  auto parsed = net::ParseHttpUrl(url);
  if (!parsed) return parsed.error();
  std::string prefix = parsed->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return Endpoint{std::move(*parsed), std::move(prefix)};
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

  ChargeResult Charge(const ChargeRequest& request) override { return Call(request); }

 private:
  ChargeResult Call(const ChargeRequest& request) {
    std::string body = "amount=" + std::to_string(request.amount_cents) +
                       "&currency=" + FormEscape(Lower(request.currency)) +
                       "&payment_method=" + FormEscape(request.payment_method_id) + "&confirm=true";
    auto reply = net::HttpPost(endpoint_.url, endpoint_.prefix + "/v1/payment_intents",
                               "application/x-www-form-urlencoded", std::move(body),
                               {{"Idempotency-Key", request.idempotency_key}}, timeout_);
    if (!reply) return Retryable(reply.error().message());
    return Classify(reply->status, reply->body);
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

base::Result<std::unique_ptr<PaymentGateway>> NewHttpGateway(const HttpGatewayOptions& options) {
  auto endpoint = ParseEndpoint(options.url);
  if (!endpoint) return endpoint.error();
  return std::unique_ptr<PaymentGateway>(new HttpGateway(std::move(*endpoint), options.timeout));
}

}  // namespace fs::payment
