#include "support/fake_gateway.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace fs::itest {
namespace {

// Reads one HTTP/1.1 request (headers + Content-Length body) from `fd`; "" on failure.
std::string ReadRequest(int fd) {
  std::string data;
  char buffer[4096];
  for (;;) {
    const std::size_t header_end = data.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      std::size_t length = 0;
      const std::string lower_headers = [&] {
        std::string h = data.substr(0, header_end);
        for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return h;
      }();
      const std::size_t at = lower_headers.find("content-length:");
      if (at != std::string::npos) length = std::stoul(lower_headers.substr(at + 15));
      if (data.size() >= header_end + 4 + length) return data;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return "";
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return "";
    data.append(buffer, static_cast<std::size_t>(n));
  }
}

std::string HeaderValue(const std::string& request, const std::string& name) {
  std::string lower = request.substr(0, request.find("\r\n\r\n"));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  std::size_t start = at + 3 + name.size();
  while (start < request.size() && request[start] == ' ') ++start;
  const std::size_t end = request.find("\r\n", start);
  return request.substr(start, end - start);
}

std::string FormValue(const std::string& body, const std::string& name) {
  const std::string needle = name + "=";
  std::size_t at = 0;
  while ((at = body.find(needle, at)) != std::string::npos) {
    if (at == 0 || body[at - 1] == '&') {
      const std::size_t end = body.find('&', at);
      return body.substr(at + needle.size(),
                         end == std::string::npos ? end : end - at - needle.size());
    }
    at += needle.size();
  }
  return "";
}

void WriteAll(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n <= 0) return;
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

FakeGateway::FakeGateway(FakeGatewayOptions options) : options_(options) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  listen(listen_fd_, 128);
  socklen_t size = sizeof(address);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

FakeGateway::~FakeGateway() {
  stopping_.store(true);
  acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> connections;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections.swap(connections_);
  }
  for (auto& thread : connections) thread.join();
}

void FakeGateway::Accept() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

std::pair<int, std::string> FakeGateway::Decide(const std::string& key, const std::string& body,
                                                bool& stall, const std::string& authorization) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_authorization_ = authorization;
  const std::string method = FormValue(body, "payment_method");
  if (key.empty() || method.empty() || FormValue(body, "amount").empty() ||
      FormValue(body, "confirm") != "true") {
    ++malformed_;
    return {400, R"({"error":{"code":"parameter_missing"}})"};
  }
  const int seen = ++requests_[key];
  if (seen <= options_.errors_per_key) return {500, R"({"error":{"code":"api_error"}})"};
  auto answered = answers_.find(key);
  if (answered == answers_.end()) {
    methods_[key] = method;
    const std::string intent = R"({"id":"pi_)" + key + R"(","status":")";
    if (method == "pm_card_requiresAction") return {200, intent + R"(requires_action"})"};
    if (method == "pm_card_rateLimited" && seen == options_.errors_per_key + 1) {
      return {429, R"({"error":{"code":"rate_limit"}})"};  // with Retry-After: 1
    }
    std::pair<int, std::string> answer;
    if (method == "pm_card_processing") {
      answer = {200, intent + R"(processing"})"};
    } else if (method == "pm_card_requiresPaymentMethod") {
      answer = {200, intent + R"(requires_payment_method","last_payment_error":)"
                              R"({"code":"card_declined","decline_code":"generic_decline"}})"};
    } else if (method == "pm_card_chargeDeclined") {
      answer = {402, R"({"error":{"code":"card_declined","decline_code":"insufficient_funds"}})"};
    } else {
      answer = {200, R"({"id":"pi_)" + key + R"(","status":"succeeded"})"};
      ++charges_[key];
    }
    answered = answers_.emplace(key, answer).first;
  }
  stall = seen <= options_.errors_per_key + options_.stalls_per_key;
  return answered->second;
}

std::pair<int, std::string> FakeGateway::ReadIntent(const std::string& intent_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string key = intent_id.rfind("pi_", 0) == 0 ? intent_id.substr(3) : "";
  const auto method = methods_.find(key);
  if (method == methods_.end()) return {404, R"({"error":{"code":"resource_missing"}})"};
  ++reads_[key];
  const std::string intent = R"({"id":"pi_)" + key + R"(","status":")";
  if (method->second == "pm_card_requiresAction") return {200, intent + R"(requires_action"})"};
  if (method->second == "pm_card_processing" && charges_[key] == 0) ++charges_[key];
  const auto answered = answers_.find(key);
  if (method->second != "pm_card_processing" && answered != answers_.end()) {
    return answered->second;
  }
  return {200, intent + R"(succeeded"})"};
}

void FakeGateway::Serve(int fd) {
  const std::string request = ReadRequest(fd);
  if (!request.empty()) {
    const bool right_route = request.rfind("POST /v1/payment_intents ", 0) == 0;
    const std::string body = request.substr(request.find("\r\n\r\n") + 4);
    bool stall = false;
    std::pair<int, std::string> answer{404, "{}"};
    constexpr std::string_view kRead = "GET /v1/payment_intents/";
    if (right_route) {
      const std::string key = HeaderValue(request, "idempotency-key");
      {
        std::lock_guard<std::mutex> lock(mutex_);
        request_ids_[key] = HeaderValue(request, "x-request-id");
        traceparents_[key] = HeaderValue(request, "traceparent");
      }
      answer = Decide(key, body, stall, HeaderValue(request, "authorization"));
    } else if (request.rfind(kRead, 0) == 0) {
      answer =
          ReadIntent(request.substr(kRead.size(), request.find(' ', kRead.size()) - kRead.size()));
    } else if (request.rfind("POST ", 0) == 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      RecordedPost post;
      const std::size_t path_end = request.find(' ', 5);
      post.path = request.substr(5, path_end - 5);
      post.signature = HeaderValue(request, "x-flashsale-signature");
      post.event_id = HeaderValue(request, "x-flashsale-event-id");
      post.request_id = HeaderValue(request, "x-request-id");
      post.traceparent = HeaderValue(request, "traceparent");
      post.body = body;
      const bool fail = static_cast<int>(posts_.size()) < options_.webhook_errors;
      post.answered = fail ? 500 : 200;
      answer = {post.answered, "{}"};
      posts_.push_back(std::move(post));
    }
    if (stall) std::this_thread::sleep_for(options_.stall);
    const std::string response = "HTTP/1.1 " + std::to_string(answer.first) +
                                 " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(answer.second.size()) +
                                 (answer.first == 429 ? "\r\nRetry-After: 1" : "") +
                                 "\r\nConnection: close\r\n\r\n" + answer.second;
    WriteAll(fd, response);
  }
  close(fd);
}

std::map<std::string, int> FakeGateway::ChargesByKey() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return charges_;
}

std::map<std::string, int> FakeGateway::RequestsByKey() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::map<std::string, int> FakeGateway::IntentReadsByKey() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reads_;
}

std::vector<RecordedPost> FakeGateway::Posts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return posts_;
}

std::map<std::string, std::string> FakeGateway::RequestIdsByKey() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return request_ids_;
}

std::map<std::string, std::string> FakeGateway::TraceparentsByKey() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return traceparents_;
}

std::vector<std::string> GatewayAndWebhookFlags(const FakeGateway& fake) {
  return {"--payment-gateway",
          "http",
          "--payment-gateway-url",
          fake.url(),
          "--events",
          "webhook",
          "--webhook-url",
          fake.url() + "/events",
          "--webhook-allow-unsigned"};
}

std::string FakeGateway::last_authorization() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_authorization_;
}

int FakeGateway::malformed_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return malformed_;
}

}  // namespace fs::itest
