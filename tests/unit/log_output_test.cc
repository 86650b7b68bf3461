// Goal: the log output never makes a writing thread wait for a slow stderr: with the output's
// pipe full and nobody reading, writes return at once, lines beyond the bounded queue are
// dropped and every drop is counted; once the pipe drains, the lines kept are written whole.
#include "log/log_output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <string>
#include <thread>

namespace fs::log {
namespace {

TEST(LogOutputTest, AFullPipeDropsAndCountsInsteadOfBlocking) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // Fill the pipe, so the output's first write blocks until the reader below starts.
  const int flags = ::fcntl(fds[1], F_GETFL);
  ASSERT_EQ(::fcntl(fds[1], F_SETFL, flags | O_NONBLOCK), 0);
  const std::string filler(4096, 'f');
  std::size_t filled = 0;
  for (;;) {
    const ssize_t written = ::write(fds[1], filler.data(), filler.size());
    if (written < 0) {
      ASSERT_EQ(errno, EAGAIN);
      break;
    }
    filled += static_cast<std::size_t>(written);
  }
  ASSERT_EQ(::fcntl(fds[1], F_SETFL, flags), 0);

  constexpr std::size_t kQueueLines = 4;
  constexpr std::size_t kLines = 200;
  std::atomic<std::size_t> drops{0};
  std::string output;
  OutputOptions options;
  options.format = LogFormat::kJson;
  options.queue_lines_max = kQueueLines;
  options.fd = fds[1];
  options.on_drop = [&drops] { drops.fetch_add(1); };
  std::optional<LogSession> session;
  session.emplace(std::move(options));
  for (std::size_t i = 0; i < kLines; ++i) Emit("info", "test", "line", {});
  // The writing thread took at most one batch (its first write blocks), so at most two
  // queues' worth of lines were kept.
  EXPECT_GE(drops.load(), kLines - 2 * kQueueLines);
  EXPECT_LT(drops.load(), kLines);
  // Drain the pipe so the session can write what it kept and stop.
  std::thread reader([&output, read_end = fds[0]] {
    char buffer[8192];
    for (;;) {
      const ssize_t got = ::read(read_end, buffer, sizeof buffer);
      if (got <= 0) return;
      output.append(buffer, static_cast<std::size_t>(got));
    }
  });
  session.reset();  // writes the kept lines
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  ASSERT_GE(output.size(), filled);
  const std::string lines = output.substr(filled);
  std::size_t count = 0;
  for (const char c : lines) count += c == '\n' ? 1 : 0;
  EXPECT_EQ(count, kLines - drops.load());
}

}  // namespace
}  // namespace fs::log
