// flashsale-loadgen: drives a flashsale server over HTTP/1.1 keep-alive connections and reports
// throughput, latency percentiles and status codes. Closed loop (each connection sends its next
// request when the previous answer arrives) or open loop at a fixed arrival rate (--rate), with
// latency measured from each request's intended send time.
//
// Scenarios: reserve (each request a distinct or cycling user reserving 1 unit),
// availability (GET availability), checkout (reserve 1 unit, then POST /api/v1/checkout with
// pm_card_visa; only the checkout's latency is recorded, measured from its own send time; a
// reserve that is not 201 is counted under the negative of its status).
// It mints user JWTs itself from --jwt-secret and can create the sale (--create-stock).
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwt.h"
#include "tools/loadgen/latency_stats.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace fs::loadgen {
namespace {

struct Config {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string scenario = "reserve";
  std::string sku = "bench-sku";
  int connections = 64;
  int threads = 1;
  double duration_seconds = 10;
  double rate = 0;  // 0: closed loop
  std::uint64_t users = 1'000'000'000;
  std::string jwt_secret;
  std::string admin_token;
  std::int64_t create_stock = 0;
  bool json = false;
};

struct ThreadResult {
  LatencyStats latency;
  std::map<int, std::uint64_t> statuses;
  std::uint64_t errors = 0;
};

struct Shared {
  Config config;
  Clock::time_point start;
  Clock::time_point deadline;
  std::atomic<std::uint64_t> next_index{0};
  std::string user_prefix;
};

http::request<http::string_body> MakeRequest(const Shared& shared, std::uint64_t index) {
  const Config& c = shared.config;
  http::request<http::string_body> request;
  request.version(11);
  request.keep_alive(true);
  request.set(http::field::host, c.host);
  if (c.scenario == "availability") {
    request.method(http::verb::get);
    request.target("/api/v1/products/" + c.sku + "/availability");
    return request;
  }
  const std::uint64_t user = index % c.users;
  auth::Claims claims;
  claims.subject = shared.user_prefix + std::to_string(user);
  claims.expires_at_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
  request.method(http::verb::post);
  request.target("/api/v1/products/" + c.sku + "/reserve");
  request.set(http::field::authorization, "Bearer " + auth::SignHs256(claims, c.jwt_secret));
  request.set(http::field::content_type, "application/json");
  request.body() = R"({"quantity":1})";
  request.prepare_payload();
  return request;
}

// The checkout request for the reservation in a 201 reserve body (same user and token).
http::request<http::string_body> MakeCheckout(const http::request<http::string_body>& reserve,
                                              const std::string& reserve_body) {
  const std::string key = "\"reservation_id\":\"";
  const std::size_t at = reserve_body.find(key);
  const std::size_t start = at == std::string::npos ? 0 : at + key.size();
  const std::string id =
      at == std::string::npos ? "" : reserve_body.substr(start, reserve_body.find('"', start) - start);
  http::request<http::string_body> request(http::verb::post, "/api/v1/checkout", 11);
  request.keep_alive(true);
  request.set(http::field::host, reserve[http::field::host]);
  request.set(http::field::authorization, reserve[http::field::authorization]);
  request.set(http::field::content_type, "application/json");
  request.body() = "{\"reservation_id\":\"" + id + "\",\"payment_method_id\":\"pm_card_visa\"}";
  request.prepare_payload();
  return request;
}

asio::awaitable<void> RunConnection(Shared& shared, ThreadResult& result) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  beast::tcp_stream stream(executor);
  beast::flat_buffer buffer;
  bool connected = false;
  asio::steady_timer timer(executor);
  const bool open_loop = shared.config.rate > 0;
  for (;;) {
    const std::uint64_t index = shared.next_index.fetch_add(1);
    Clock::time_point intended = Clock::now();
    if (open_loop) {
      intended = shared.start + std::chrono::microseconds(
                                    IntendedOffsetMicros(index, shared.config.rate));
      if (intended >= shared.deadline) break;
      if (intended > Clock::now()) {
        timer.expires_at(intended);
        co_await timer.async_wait(asio::use_awaitable);
      }
    } else if (Clock::now() >= shared.deadline) {
      break;
    }
    try {
      if (!connected) {
        auto endpoints = co_await resolver.async_resolve(shared.config.host, shared.config.port,
                                                         asio::use_awaitable);
        co_await stream.async_connect(endpoints, asio::use_awaitable);
        stream.socket().set_option(tcp::no_delay(true));
        connected = true;
      }
      auto request = MakeRequest(shared, index);
      stream.expires_after(std::chrono::seconds(30));
      if (shared.config.scenario == "checkout") {
        co_await http::async_write(stream, request, asio::use_awaitable);
        http::response<http::string_body> reserved;
        co_await http::async_read(stream, buffer, reserved, asio::use_awaitable);
        if (reserved.result_int() != 201) {
          ++result.statuses[-static_cast<int>(reserved.result_int())];
          continue;
        }
        request = MakeCheckout(request, reserved.body());
        if (!open_loop) intended = Clock::now();
      }
      co_await http::async_write(stream, request, asio::use_awaitable);
      http::response<http::string_body> response;
      co_await http::async_read(stream, buffer, response, asio::use_awaitable);
      const double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - intended).count();
      result.latency.Record(ms);
      ++result.statuses[static_cast<int>(response.result_int())];
      if (!response.keep_alive()) {
        beast::error_code ignored;
        stream.socket().close(ignored);
        connected = false;
      }
    } catch (const std::exception&) {
      ++result.errors;
      beast::error_code ignored;
      stream.socket().close(ignored);
      connected = false;
    }
  }
}

bool CreateSale(const Config& c) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::error_code ec;
  stream.connect(resolver.resolve(c.host, c.port, ec), ec);
  if (ec) return false;
  http::request<http::string_body> request(http::verb::post, "/admin/v1/skus", 11);
  request.set(http::field::host, c.host);
  request.set(http::field::authorization, "Bearer " + c.admin_token);
  request.set(http::field::content_type, "application/json");
  request.body() = "{\"sku_id\":\"" + c.sku + "\",\"name\":\"Load test\",\"price_cents\":100," +
                   "\"currency\":\"USD\",\"total_stock\":" + std::to_string(c.create_stock) +
                   ",\"per_user_limit\":1}";
  request.prepare_payload();
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, ec);
  if (ec) return false;
  const int status = static_cast<int>(response.result_int());
  std::fprintf(stderr, "create sale %s: %d\n", c.sku.c_str(), status);
  return status == 201 || status == 409;
}

void Report(const Config& c, std::vector<ThreadResult>& results, double elapsed) {
  ThreadResult total;
  for (auto& r : results) {
    total.latency.Merge(r.latency);
    for (auto [code, n] : r.statuses) total.statuses[code] += n;
    total.errors += r.errors;
  }
  LatencyStats& l = total.latency;
  const double rps = static_cast<double>(l.count()) / elapsed;
  std::string codes;
  for (auto [code, n] : total.statuses) {
    if (!codes.empty()) codes += ",";
    codes += "\"" + std::to_string(code) + "\":" + std::to_string(n);
  }
  if (c.json) {
    std::printf("{\"scenario\":\"%s\",\"connections\":%d,\"rate\":%.0f,\"requests\":%zu,"
                "\"seconds\":%.2f,\"rps\":%.0f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p95_ms\":%.3f,"
                "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%llu,"
                "\"status\":{%s}}\n",
                c.scenario.c_str(), c.connections, c.rate, l.count(), elapsed, rps,
                l.Percentile(50), l.Percentile(90), l.Percentile(95), l.Percentile(99),
                l.Percentile(99.9), l.Max(), static_cast<unsigned long long>(total.errors),
                codes.c_str());
    return;
  }
  std::printf("scenario %s, %d connections, %s\n", c.scenario.c_str(), c.connections,
              c.rate > 0 ? ("open loop " + std::to_string(static_cast<long>(c.rate)) + "/s").c_str()
                         : "closed loop");
  std::printf("%10s %10s %8s %8s %8s %8s %9s %8s  status\n", "requests", "req/s", "p50 ms",
              "p90 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms");
  std::printf("%10zu %10.0f %8.2f %8.2f %8.2f %8.2f %9.2f %8.2f  {%s} errors=%llu\n", l.count(),
              rps, l.Percentile(50), l.Percentile(90), l.Percentile(95), l.Percentile(99),
              l.Percentile(99.9), l.Max(), codes.c_str(),
              static_cast<unsigned long long>(total.errors));
}

}  // namespace
}  // namespace fs::loadgen

int main(int argc, char** argv) {
  using namespace fs::loadgen;
  Config c;
  CLI::App app("flashsale load generator");
  app.add_option("--host", c.host);
  app.add_option("--port", c.port);
  app.add_option("--scenario", c.scenario)->check(CLI::IsMember({"reserve", "availability", "checkout"}));
  app.add_option("--sku", c.sku);
  app.add_option("--connections", c.connections)->check(CLI::Range(1, 20000));
  app.add_option("--threads", c.threads)->check(CLI::Range(1, 64));
  app.add_option("--duration", c.duration_seconds, "seconds")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--rate", c.rate, "requests/s offered, open loop; 0 = closed loop");
  app.add_option("--users", c.users, "distinct users (ids cycle)")->check(CLI::PositiveNumber);
  app.add_option("--jwt-secret", c.jwt_secret)->envname("FLASHSALE_JWT_SECRET");
  app.add_option("--admin-token", c.admin_token)->envname("FLASHSALE_ADMIN_TOKEN");
  app.add_option("--create-stock", c.create_stock, "create the sale with this stock first");
  app.add_flag("--json", c.json);
  CLI11_PARSE(app, argc, argv);
  if (c.scenario != "availability" && c.jwt_secret.empty()) {
    std::fprintf(stderr, "--jwt-secret is required for the reserve and checkout scenarios\n");
    return 2;
  }
  if (c.create_stock > 0 && !CreateSale(c)) {
    std::fprintf(stderr, "could not create the sale\n");
    return 1;
  }
  Shared shared;
  shared.config = c;
  shared.user_prefix = "lg-" + std::to_string(::getpid()) + "-";
  std::vector<ThreadResult> results(static_cast<std::size_t>(c.threads));
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int t = 0; t < c.threads; ++t) contexts.push_back(std::make_unique<asio::io_context>(1));
  shared.start = Clock::now();
  shared.deadline = shared.start + std::chrono::microseconds(
                                       static_cast<std::int64_t>(c.duration_seconds * 1e6));
  for (int i = 0; i < c.connections; ++i) {
    const auto t = static_cast<std::size_t>(i % c.threads);
    asio::co_spawn(*contexts[t], RunConnection(shared, results[t]), asio::detached);
  }
  std::vector<std::thread> threads;
  for (auto& context : contexts) threads.emplace_back([&context] { context->run(); });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - shared.start).count();
  Report(c, results, elapsed);
  return 0;
}
