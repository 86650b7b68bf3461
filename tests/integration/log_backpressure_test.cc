// Goal: a stderr nobody reads does not stall the server. With the server's stderr a pipe the
// test never reads and an access line per request, requests are still all answered, the lines
// beyond the bounded log queue are dropped and counted in flashsale_log_lines_dropped_total,
// and once the pipe is drained the server stops cleanly. Deterministic: the pipe is shrunk to
// one page and the queue holds 8192 lines, so at most ~16.4k access lines can be kept (one
// queue in the writing thread's hands, one waiting); 20k requests must drop some.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr int kRequests = 20'000;

TEST(LogBackpressureTest, ABlockedStderrDropsLinesInsteadOfStallingRequests) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::fcntl(fds[1], F_SETPIPE_SZ, 4096);  // the smallest pipe: full after a few lines
  ServerOptions options;
  options.extra_args = {"--log-format", "json", "--access-log", "all"};
  options.stderr_fd = fds[1];
  ServerProcess server(options);
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    const HttpResponse health = client.Get("/healthz");
    if (health.status != 200) {
      ADD_FAILURE() << "request " << i << ": " << health.Describe();
      break;
    }
    ++answered;
  }
  EXPECT_EQ(answered, kRequests);
  const HttpResponse metrics = client.Get("/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.Describe();
  const auto samples = MetricSamples(metrics.body, "flashsale_log_lines_dropped_total");
  ASSERT_EQ(samples.size(), 1u) << metrics.body;
  const std::string value = samples[0].substr(samples[0].rfind(' ') + 1);
  EXPECT_GT(std::stoll(value), 0) << samples[0];

  // Drain the pipe so the server can write what it kept and stop.
  std::thread reader([read_end = fds[0]] {
    char buffer[65536];
    while (::read(read_end, buffer, sizeof buffer) > 0) {
    }
  });
  ::close(fds[1]);  // the server holds its own copy
  EXPECT_TRUE(server.Stop());
  reader.join();
  ::close(fds[0]);
}

}  // namespace
}  // namespace fs::itest
