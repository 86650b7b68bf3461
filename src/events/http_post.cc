#include "events/http_post.h"

#include "auth/jwt.h"
#include "net/http_client.h"

namespace fs::events {

base::Result<unsigned> HttpPost(const std::string& url, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout, const std::string& ca_file) {
  net::HttpRequest request;
  request.url = url;
  request.content_type = "application/json";
  request.body = body;
  request.headers = headers;
  request.timeout = timeout;
  request.ca_file = ca_file;
  auto reply = net::HttpSend(request);
  if (!reply) return reply.error();
  return reply->status;
}

std::string HmacSha256Hex(const std::string& key, const std::string& message) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : auth::HmacSha256(key, message)) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

}  // namespace fs::events
