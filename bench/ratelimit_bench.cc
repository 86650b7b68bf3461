// Benchmark (a program, not a test): the cost of one RateLimiter::Check (three buckets,
// detection windows, LRU maps, one mutex) and of one device fingerprint (SHA-256), single
// thread, over 10,000 identities. Usage: flashsale-ratelimit-bench
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ratelimit/rate_limiter.h"
using namespace fs;
int main() {
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
}
