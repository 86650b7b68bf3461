// Outbound HTTP(S) on libcurl (Debian's libcurl4-openssl-dev): the one client of the payment
// gateway, the webhook sinks and the notifications. https:// verifies the peer's certificate
// and host name, always (against the system's CAs, or `ca_file` for a private CA); http:// is
// for a sidecar or a test on the same host. Each calling thread keeps one curl handle, so
// connections to a host are reused across calls (keep-alive) and a call never waits for a
// new TLS handshake it could have skipped. One deadline covers the whole call. Never call it
// on the writer thread. The response body is capped (64 KiB unless the request says more).
// Thread-safety: safe from any thread (each thread has its own handle).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fs::net {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

enum class HttpMethod : std::uint8_t { kPost, kGet };

// The default cap of a response body: a gateway's or a webhook's answer is a few hundred
// bytes; more is dropped so a misbehaving peer cannot grow our memory.
inline constexpr std::size_t kReplyBytesMaxDefault = 64 * 1024;

struct HttpRequest {
  HttpMethod method = HttpMethod::kPost;
  std::string url;           // http:// or https://, with path and optional query
  std::string content_type;  // kPost
  std::string body;          // kPost
  HttpHeaders headers;
  std::chrono::milliseconds timeout{5000};
  std::string ca_file;  // PEM bundle of trusted CAs; empty: the system's
  // Body bytes kept at most; the rest is read and dropped (HttpReply::truncated).
  std::size_t reply_bytes_max = kReplyBytesMaxDefault;
};

struct HttpReply {
  unsigned status = 0;
  std::string body;
  // Retry-After in seconds, when the answer carried one (429, 503).
  std::optional<std::chrono::seconds> retry_after;
  // The body was longer than the request's reply_bytes_max (`body` holds its start).
  bool truncated = false;
};

// Every byte but the unreserved characters of RFC 3986 as %XX: a URL path segment or a query
// value, whatever `text` holds.
std::string PercentEncode(std::string_view text);

// kInvalidArgument unless `url` is an absolute http:// or https:// URL with a host. Callers
// check their URLs once, at start (the flags), not per call.
base::Status CheckHttpUrl(const std::string& url);

// Sends the request (only http and https are spoken; redirects are not followed). kUnavailable
// on resolve, connect, TLS (a certificate that does not verify included), send or receive
// errors, a malformed URL and the deadline.
base::Result<HttpReply> HttpSend(const HttpRequest& request);

}  // namespace fs::net
