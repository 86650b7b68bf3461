// The Stripe-style HTTP gateway: one form-encoded POST per charge through the outbound client
// (net/http_client.h), classified by the PaymentIntent's status into succeeded, declined or
// retryable.
#include "base/escape.h"
#include "net/http_client.h"
#include "payment/gateway.h"

namespace fs::payment {
namespace {

// POST target of a charge: the base URL without its trailing slashes, then the route.
base::Result<std::string> ChargeUrl(std::string base) {
  FS_RETURN_IF_ERROR(net::CheckHttpUrl(base));
  if (base.find_first_of("?#") != std::string::npos) {
    return base::InvalidArgument("the gateway URL must not have a query: " + base);
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/payment_intents";
}

std::string FormEscape(std::string_view text) { return base::EscapeBytes(text, '%'); }

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

// The intent's "id" (Stripe's are pi_ and letters and digits), or "" when it holds anything but
// [A-Za-z0-9_-] or is over 255 bytes: it goes into a URL path.
std::string IntentIdFrom(const std::string& body) {
  const std::string needle = "\"id\"";
  std::size_t at = body.find(needle);
  if (at == std::string::npos) return "";
  at = body.find('"', body.find(':', at + needle.size()));
  if (at == std::string::npos) return "";
  const std::size_t end = body.find('"', at + 1);
  if (end == std::string::npos || end - at - 1 > 255) return "";
  std::string id = body.substr(at + 1, end - at - 1);
  for (const char c : id) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!allowed) return "";
  }
  return id;
}

class HttpGateway final : public PaymentGateway {
 public:
  HttpGateway(std::string charge_url, HttpGatewayOptions options)
      : charge_url_(std::move(charge_url)), options_(std::move(options)) {}

  ChargeResult Charge(const ChargeRequest& request) override {
    std::string intent_id;
    ChargeResult result = Call(request, intent_id);
    // A retry's POST is answered with the intent as it was first created (the key replays
    // the first answer, as at Stripe): what it has become since, the intent itself says.
    if (request.attempt > 1 && result.outcome == core::ChargeOutcome::kRetryable &&
        !intent_id.empty()) {
      return Read(intent_id, request);
    }
    return result;
  }

 private:
  // Every call names the checkout's X-Request-Id (when it had one), for the gateway's logs,
  // and the worker's span (when tracing), so the gateway's own spans join the trace.
  void Authorize(net::HttpRequest& call, const ChargeRequest& request) const {
    if (!request.request_id.empty()) call.headers.emplace_back("X-Request-Id", request.request_id);
    if (!request.traceparent.empty()) call.headers.emplace_back("traceparent", request.traceparent);
    if (!options_.api_key.empty()) {
      call.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
    }
    call.timeout = options_.timeout;
    call.ca_file = options_.ca_file;
  }

  // POST the charge. `intent_id`: the PaymentIntent's id when a 2xx answer named one.
  ChargeResult Call(const ChargeRequest& request, std::string& intent_id) {
    net::HttpRequest post;
    post.url = charge_url_;
    post.content_type = "application/x-www-form-urlencoded";
    post.body = "amount=" + std::to_string(request.amount_cents) +
                "&currency=" + FormEscape(Lower(request.currency)) +
                "&payment_method=" + FormEscape(request.payment_method_id) + "&confirm=true";
    post.headers = {{"Idempotency-Key", request.idempotency_key}};
    Authorize(post, request);
    auto reply = net::HttpSend(post);
    if (!reply) return Retryable(reply.error().message());
    if (reply->status >= 200 && reply->status < 300) intent_id = IntentIdFrom(reply->body);
    return Decided(*reply);
  }

  // GET {url}/v1/payment_intents/{id}: the intent's current status.
  ChargeResult Read(const std::string& intent_id, const ChargeRequest& request) {
    net::HttpRequest get;
    get.method = net::HttpMethod::kGet;
    get.url = charge_url_ + "/" + intent_id;
    Authorize(get, request);
    auto reply = net::HttpSend(get);
    if (!reply) return Retryable(reply.error().message());
    if (reply->status < 200 || reply->status >= 300) {
      // The charge's fate is unknown, not declined: ask again later.
      ChargeResult unknown =
          Retryable("reading payment intent: gateway answered " + std::to_string(reply->status));
      if (reply->retry_after) unknown.retry_after = *reply->retry_after;
      return unknown;
    }
    return Decided(*reply);
  }

  static ChargeResult Decided(const net::HttpReply& reply) {
    ChargeResult result = Classify(reply.status, reply.body);
    if (result.outcome == core::ChargeOutcome::kRetryable && reply.retry_after) {
      result.retry_after = *reply.retry_after;
    }
    return result;
  }

  static ChargeResult Retryable(std::string reason) {
    return {core::ChargeOutcome::kRetryable, std::move(reason)};
  }

  static ChargeResult Classify(unsigned status, const std::string& body) {
    if (status >= 200 && status < 300) {
      const std::string intent = ReasonFrom(body, "status");
      if (intent == "succeeded") return {core::ChargeOutcome::kSucceeded, ""};
      if (intent == "requires_payment_method" || intent == "canceled") {
        std::string reason = ReasonFrom(body, "decline_code");
        if (reason.empty()) reason = ReasonFrom(body, "code");
        return {core::ChargeOutcome::kDeclined, reason.empty() ? intent : reason};
      }
      // processing, requires_action, requires_capture, ...: not final yet.
      return Retryable("payment intent " + (intent.empty() ? "without a status" : intent));
    }
    if (status == 409 || status == 429 || status >= 500) {
      return Retryable("gateway answered " + std::to_string(status));
    }
    std::string reason = ReasonFrom(body, "decline_code");
    if (reason.empty()) reason = ReasonFrom(body, "code");
    if (reason.empty()) reason = status == 402 ? "card_declined" : "gateway_rejected";
    return {core::ChargeOutcome::kDeclined, reason};
  }

  const std::string charge_url_;
  const HttpGatewayOptions options_;
};

}  // namespace

base::Result<std::unique_ptr<PaymentGateway>> NewHttpGateway(const HttpGatewayOptions& options) {
  auto url = ChargeUrl(options.url);
  if (!url) return url.error();
  return std::unique_ptr<PaymentGateway>(new HttpGateway(std::move(*url), options));
}

}  // namespace fs::payment
