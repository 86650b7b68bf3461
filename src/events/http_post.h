// HttpPost: one JSON POST to an http(s):// URL with a deadline, for the webhook sinks, through
// the product's outbound client (net/http_client.h: verified TLS, kept connections). Blocking
// (the relay's thread, never the writer).
// Thread-safety: safe from any thread.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fs::events {

// Returns the response status code; kUnavailable on connection errors or the deadline,
// kInvalidArgument on a malformed url.
base::Result<unsigned> HttpPost(const std::string& url, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout, const std::string& ca_file);

// Lower-case hex of HMAC-SHA256(key, message).
std::string HmacSha256Hex(const std::string& key, const std::string& message);

}  // namespace fs::events
