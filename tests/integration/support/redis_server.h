// RedisServer: a real redis-server (Debian's /usr/bin/redis-server) for tests, on 127.0.0.1 at
// a free port, in its own temporary directory, without persistence (--save '' --appendonly
// no). Start() waits until the server answers PING. Stop() ends it (its data is gone, as after
// a crash of an unpersisted Redis); Start() again brings it back empty on the same port, so a
// flashsale node configured with url() reconnects by itself. A missing binary fails the test
// (CI installs redis-server from scripts/debian-packages.txt). The child gets SIGKILL if the
// test process dies.
//
// Thread-safety: none; drive it from the test's main thread. Command() opens its own
// connection and may be called from any one thread at a time.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fs::itest {

inline constexpr char kRedisServerBinary[] = "/usr/bin/redis-server";

class RedisServer {
 public:
  // `password`: started with --requirepass; Command() authenticates first.
  explicit RedisServer(std::string password = "");
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server (a free port on the first start, the same port afterwards) and waits
  // until it answers PING. REQUIRES: not running.
  ::testing::AssertionResult Start();
  // SIGTERM without saving, then reaps it. REQUIRES: running.
  ::testing::AssertionResult Stop();

  bool running() const { return pid_ > 0; }
  std::uint16_t port() const { return port_; }
  // "redis://127.0.0.1:PORT" ("redis://:PASSWORD@127.0.0.1:PORT" with a password), the value
  // for flashsale's --redis.
  std::string url() const;

  // Sends one command (arguments as RESP bulk strings) and returns the first line of the
  // reply without its CRLF ("+PONG", ":3", "$-1", "-ERR ..."); nullopt when unreachable.
  std::optional<std::string> Command(const std::vector<std::string>& argv) const;
  // The server's log (for diagnostics).
  std::string Log() const;

 private:
  ::testing::AssertionResult WaitUntilReady();

  std::filesystem::path dir_;
  const std::string password_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// Polls a flashsale node's /readyz until its body names `redis_state` ("up" or "down"): there is
// no event to wait on from outside the process. Every answer must be 200 (a node without Redis
// stays ready). Redis outages are noticed within the client's 500 ms health check; the 10 s
// bound is for a loaded box.
::testing::AssertionResult AwaitRedisState(std::uint16_t node_port, const std::string& redis_state);

}  // namespace fs::itest
