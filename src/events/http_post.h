// HttpPost: one HTTP/1.1 POST to an http:// URL with a deadline, for the webhook sinks.
// Blocking (the relay's thread, never the writer); one short-lived connection per call.
// Thread-safety: pure function.
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
                                std::chrono::milliseconds timeout);

// Lower-case hex of HMAC-SHA256(key, message).
std::string HmacSha256Hex(const std::string& key, const std::string& message);

}  // namespace fs::events
