// Request and Response as the handlers see them: plain values with no Beast types, so the
// handlers, router and tests do not compile the HTTP stack. The server converts at its edge.
// Thread-safety: plain values. A Request's views point into the connection's buffers and are
// valid only until the handler returns: handlers copy what they keep.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/limits.h"
#include "trace/trace_context.h"

namespace fs::http {

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

std::string_view MethodName(Method method);

struct Request {
  Method method = Method::kGet;
  std::string_view target;  // path and optional ?query, as sent
  std::optional<std::string_view> authorization;
  std::optional<std::string_view> idempotency_key;
  std::string_view body;
  // Client identity inputs for rate limiting (src/ratelimit): the socket peer's IP as text
  // (empty when unknown) and the headers that make the device fingerprint.
  std::string_view peer_address;
  std::optional<std::string_view> forwarded_for;    // X-Forwarded-For
  std::optional<std::string_view> user_agent;       // User-Agent
  std::optional<std::string_view> accept_language;  // Accept-Language
  std::optional<std::string_view> device_id;        // X-Device-Id
  // Set by the Api only (never from the wire): the user id of a request whose token was
  // verified and which an asynchronous rate limiter (Redis) already admitted.
  std::optional<std::string_view> admitted_user_id;
  std::string_view admitted_email;  // with admitted_user_id: the token's `email` claim, or empty
  std::optional<std::string_view> queue_pass;     // X-Queue-Pass (waiting-room sales)
  std::optional<std::string_view> if_none_match;  // If-None-Match (cacheable reads)
  // Set by the server (never empty there): the client's X-Request-Id when valid
  // (base::IsValidRequestId), else a generated one. Recorded with the decisions it causes.
  std::string_view request_id;
  // Set by the server: the request's server span when its trace is sampled (sampled false
  // otherwise), the parent of the spans the request causes (the writer's inbox wait).
  trace::ParentContext trace{};
};

// The rest of the body of a response that stays open (Server-Sent Events). After the head and
// the first bytes (Response::body), the connection asks for more every `interval()` and sends
// what it gets as one chunk, until the client goes, Next() says the stream is over, or the
// server stops. A stream lives as long as its connection; it runs on the connection's thread.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual std::chrono::milliseconds interval() const = 0;
  // The bytes to send now ("" for none), or nullopt when the stream is over.
  virtual std::optional<std::string> Next() = 0;
};

struct Response {
  Response() = default;
  Response(unsigned status_in, std::string body_in,
           std::string_view content_type_in = kJsonContentType)
      : status(status_in), body(std::move(body_in)), content_type(content_type_in) {}

  unsigned status = 200;
  std::string body;
  std::string_view content_type = kJsonContentType;          // static strings only
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, usually none
  // Set: the body goes on after `body` (chunked) for as long as the stream does.
  std::shared_ptr<BodyStream> stream;
  // For the access log, never sent: the matched route's template (static for the server's
  // life; empty when unknown) and the verified user of the request (empty when none).
  std::string_view route_template;
  std::string user_id;
  // For the server span, never sent: the SKU the request was about, when its trace is sampled
  // and the SKU is known (the path's {sku}, the reserve body's sku_id); else empty.
  std::string sku_id;
};

}  // namespace fs::http
