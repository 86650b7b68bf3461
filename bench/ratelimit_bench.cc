// Benchmark (a program, not a test): the cost of one RateLimiter::Check (three buckets,
// detection windows, LRU maps, one mutex) and of one device fingerprint (SHA-256), single
// thread, over 10,000 identities. With --redis URL also the shared check (one EVALSHA of the
// rate-limit script through redis::SharedRateLimiter): latency one at a time (median, p99)
// and throughput with 512 checks in flight (pipelined by the client).
// Usage: flashsale-ratelimit-bench [--redis redis://127.0.0.1:6379]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ratelimit/rate_limiter.h"
#include "redis/redis_client.h"
#include "redis/shared_rate_limiter.h"
using namespace fs;

namespace {

void SharedCheckFigures(const std::string& url_text,
                        const std::vector<ratelimit::RequestIdentity>& ids,
                        const ratelimit::LimiterOptions& options, const base::Clock& clock) {
  auto url = redis::ParseRedisUrl(url_text);
  if (!url) {
    std::fprintf(stderr, "%s\n", url.error().message().c_str());
    return;
  }
  redis::ClientOptions client_options;
  client_options.url = *url;
  redis::RedisClient client(client_options, {&redis::SharedRateLimiter::CheckScript()}, {});
  for (int i = 0; i < 200 && client.health() != redis::Health::kUp; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ratelimit::RateLimiter local(options, clock);
  redis::SharedRateLimiter shared(client, local, clock);
  std::mutex mutex;
  std::condition_variable cv;
  long in_flight = 0;
  long allowed = 0;
  auto check = [&](const ratelimit::RequestIdentity& id) {
    {
      std::lock_guard lock(mutex);
      ++in_flight;
    }
    shared.Check(id, [&](ratelimit::Decision decision) {
      std::lock_guard lock(mutex);
      allowed += decision.allowed;
      --in_flight;
      cv.notify_all();
    });
  };
  const int sequential = 20'000;
  std::vector<double> micros;
  micros.reserve(sequential);
  for (int i = 0; i < sequential; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    check(ids[static_cast<std::size_t>(i) % ids.size()]);
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return in_flight == 0; });
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(micros.begin(), micros.end());
  const int pipelined = 200'000;
  const long window = 512;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < pipelined; ++i) {
    {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return in_flight < window; });
    }
    check(ids[static_cast<std::size_t>(i) % ids.size()]);
  }
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "Shared check (redis %s): one at a time median %.0f us, p99 %.0f us; %ld in flight: "
      "%.0f checks/s; allowed %ld of %d; fallbacks %llu\n",
      url->ToString().c_str(), micros[micros.size() / 2], micros[micros.size() * 99 / 100], window,
      pipelined / seconds, allowed, sequential + pipelined,
      static_cast<unsigned long long>(shared.fallbacks()));
}

}  // namespace

int main(int argc, char** argv) {
  // Generous tiers: every check passes, so the figure is the full allow path.
  base::SystemClock clock;
  ratelimit::LimiterOptions options;
  options.tiers = *ratelimit::ParseTierTable("normal=1000000:60000", ratelimit::DefaultTierTable());
  options.ip_requests_per_second_max = 1'000'000;
  ratelimit::RateLimiter limiter(options, clock);
  std::vector<ratelimit::RequestIdentity> ids;
  for (int i = 0; i < 10000; ++i) {
    ids.push_back({"user-" + std::to_string(i),
                   *ratelimit::IpAddress::Parse("10.0." + std::to_string(i / 250) + "." +
                                                std::to_string(i % 250)),
                   ratelimit::DeviceFingerprint({"Mozilla/5.0", "en", ""},
                                                *ratelimit::IpAddress::Parse("10.0.0.1")),
                   ratelimit::Tier::kNormal});
    ids.back().fingerprint += std::to_string(i);
  }
  const int n = 2'000'000;
  auto t0 = std::chrono::steady_clock::now();
  long allowed = 0;
  for (int i = 0; i < n; ++i) allowed += limiter.Check(ids[i % ids.size()]).allowed;
  auto t1 = std::chrono::steady_clock::now();
  const int m = 200'000;
  std::size_t fingerprint_bytes = 0;
  auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < m; ++i) {
    auto f =
        ratelimit::DeviceFingerprint({"Mozilla/5.0 (X11; Linux x86_64)", "en-US,en;q=0.9", "dev"},
                                     ids[i % ids.size()].client_ip);
    fingerprint_bytes += f.size();
  }
  auto t3 = std::chrono::steady_clock::now();
  std::printf("Check: %.0f ns/op (allowed %ld of %d); fingerprint: %.0f ns/op (%zu hex chars)\n",
              std::chrono::duration<double, std::nano>(t1 - t0).count() / n, allowed, n,
              std::chrono::duration<double, std::nano>(t3 - t2).count() / m, fingerprint_bytes);
  if (argc == 3 && std::strcmp(argv[1], "--redis") == 0) {
    SharedCheckFigures(argv[2], ids, options, clock);
  }
}
