// One blocking HTTP/1.1 POST to an http:// URL under one deadline, on a private io_context:
// the client side shared by the webhook sinks and the payment gateway. One short-lived
// connection per call, so a hung connection never poisons later calls. Never call it on the
// writer thread. Exceptions never leave this module.
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fs::net {

struct HttpUrl {
  std::string host;
  std::string port;
  std::string path;  // "" when the URL has none
};

// Parses http://HOST:PORT[/PATH]; kInvalidArgument otherwise.
base::Result<HttpUrl> ParseHttpUrl(const std::string& url);

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// POSTs `body` to `path` at `url`'s host. kUnavailable on resolve, connect, send or receive
// errors and on the deadline; the response body is capped at 64 KiB.
base::Result<HttpReply> HttpPost(const HttpUrl& url, const std::string& path,
                                 std::string_view content_type, std::string body,
                                 const HttpHeaders& headers, std::chrono::milliseconds timeout);

}  // namespace fs::net
