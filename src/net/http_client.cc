#include "net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <memory>

#include "net/curl_handle.h"

namespace fs::net {
namespace {

struct Received {
  std::size_t body_bytes_max = kReplyBytesMaxDefault;
  std::string body;
  bool truncated = false;
  std::optional<std::chrono::seconds> retry_after;
};

std::size_t OnBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* received = static_cast<Received*>(user);
  const std::size_t bytes = size * count;
  const std::size_t room = received->body_bytes_max - received->body.size();
  if (bytes > room) received->truncated = true;
  received->body.append(data, std::min(bytes, room));
  return bytes;  // the rest is read and dropped: the connection stays usable
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* received = static_cast<Received*>(user);
  const std::string_view line(data, size * count);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kName) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      std::int64_t seconds = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (error == std::errc() && end != value.data() && seconds >= 0) {
        received->retry_after = std::chrono::seconds(seconds);
      }
    }
  }
  return size * count;
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                            (byte >= '0' && byte <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  return out;
}

base::Status CheckHttpUrl(const std::string& url) {
  GlobalInit();
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed(curl_url(), &curl_url_cleanup);
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return base::InvalidArgument("not a URL: " + url);
  }
  char* scheme = nullptr;
  char* host = nullptr;
  const bool has_scheme = curl_url_get(parsed.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK;
  const bool has_host = curl_url_get(parsed.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK;
  const std::string scheme_text = has_scheme ? scheme : "";
  curl_free(scheme);
  curl_free(host);
  if (scheme_text != "http" && scheme_text != "https") {
    return base::InvalidArgument("the URL must be http:// or https://: " + url);
  }
  if (!has_host) return base::InvalidArgument("the URL has no host: " + url);
  return base::Status::Ok();
}

base::Result<HttpReply> HttpSend(const HttpRequest& request) {
  const bool post = request.method == HttpMethod::kPost;
  CURL* curl = ThreadHandle();
  if (curl == nullptr) return base::Unavailable("http: no curl handle");
  curl_easy_reset(curl);  // options only: the connection cache stays
  CurlList headers;
  if (post) {
    headers.Append("Content-Type: " + request.content_type);
    headers.Append("Expect:");  // no 100-continue round trip
  }
  for (const auto& [name, value] : request.headers) {
    std::string line = name;
    line += ": ";
    line += value;
    headers.Append(line);
  }
  Received received;
  received.body_bytes_max = request.reply_bytes_max;
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (post) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM (threads)
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &received);
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    return base::Unavailable((post ? "POST " : "GET ") + request.url + ": " +
                             curl_easy_strerror(code));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  HttpReply reply;
  reply.status = static_cast<unsigned>(status);
  reply.body = std::move(received.body);
  reply.retry_after = received.retry_after;
  reply.truncated = received.truncated;
  return reply;
}

}  // namespace fs::net
