// ServerProcess: runs the real flashsale binary (FLASHSALE_BINARY) as a child process for
// black-box tests. Each instance owns a fresh temporary directory holding the data dir and the
// server's stderr logs; the directory is removed when the instance is destroyed.
//
// Start() spawns `flashsale serve --listen 127.0.0.1:0 --data-dir <dir> --jwt-secret ...
// --admin-token ...` plus the extra arguments and environment, then waits (bounded) for the
// line `flashsale listening on http://127.0.0.1:PORT` on the child's stdout and parses PORT.
// The child gets SIGKILL if the test process dies, so a crashed test leaves no server behind.
// When the current test has failed, the destructor prints the tail of the server's stderr.
//
// Thread-safety: none; drive one ServerProcess from the test's main thread. port() may be read
// from load threads while the process runs (it only changes in Start()).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace fs::itest {

// The secrets every test server runs with; tests mint tokens with the same secret.
inline constexpr char kJwtSecret[] = "itest-jwt-secret-0123456789abcdef";
inline constexpr char kAdminToken[] = "itest-admin-token-fedcba9876543210";

// How the standard settings (listen address, data dir, secrets) reach the server.
enum class ConfigSource : std::uint8_t {
  kFlags,        // --listen, --data-dir, --jwt-secret, --admin-token
  kEnvironment,  // FLASHSALE_LISTEN, FLASHSALE_DATA_DIR, FLASHSALE_JWT_SECRET, ...
};

enum class Credentials : std::uint8_t {
  kPassed,   // kJwtSecret and kAdminToken
  kOmitted,  // neither (the server must refuse to start unless --demo)
};

struct ServerOptions {
  ConfigSource config_source = ConfigSource::kFlags;
  Credentials credentials = Credentials::kPassed;
  // Appended after the standard arguments, e.g. {"--idle-timeout-seconds", "1"}.
  std::vector<std::string> extra_args;
  // Added to (or replacing in) the inherited environment.
  std::vector<std::pair<std::string, std::string>> extra_env;
  // Startup, including recovery, must print the listening line within this bound.
  std::chrono::milliseconds ready_timeout{20'000};
  // A graceful stop (SIGTERM) must end the process within this bound.
  std::chrono::milliseconds stop_timeout{20'000};
  // >= 0: the server's stderr is (a duplicate of) this descriptor, e.g. a pipe the test does
  // not read, instead of the log file (StderrLog() then has nothing). The test keeps it open.
  int stderr_fd = -1;
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Spawns the server and waits for its listening line. Fails (with the reason and the
  // stderr tail) when the binary cannot start, exits early, or is not ready in time.
  // REQUIRES: not running.
  ::testing::AssertionResult Start();
  // Sends `signal_number` (SIGTERM by default), waits up to stop_timeout and succeeds only if
  // the process exited with code 0. A process still alive after the bound is killed.
  ::testing::AssertionResult Stop(int signal_number = SIGTERM);
  // SIGKILL and reap: a crash at an arbitrary instruction.
  void Kill9();
  // Stops gracefully when running, then starts again on the same data dir (a new port).
  ::testing::AssertionResult Restart();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_.load(std::memory_order_acquire); }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path database_path() const { return data_dir_ / "flashsale.db"; }
  // The wait status (as from waitpid) of the last process that ended, if any.
  std::optional<int> last_wait_status() const { return last_wait_status_; }
  // Everything the server wrote to stderr across all starts (for diagnostics).
  std::string StderrLog() const;
  // Waits until StderrLog() holds `text`: the server writes its log from a thread of its own,
  // so a line may land a moment after the answer that caused it. False after `timeout`.
  bool WaitForStderr(std::string_view text,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;
  // Everything the current or last run wrote to stdout.
  std::string StdoutText() const;

 private:
  ::testing::AssertionResult WaitForListening();
  // Waits for the child up to `timeout`; returns its wait status, or nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  void StartStdoutDrain();
  void JoinStdoutDrain();

  const ServerOptions options_;
  std::filesystem::path root_dir_;
  std::filesystem::path data_dir_;
  std::filesystem::path stderr_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::atomic<std::uint16_t> port_{0};
  int start_count_ = 0;
  std::optional<int> last_wait_status_;

  mutable std::mutex stdout_mutex_;
  std::string stdout_text_;  // guarded by stdout_mutex_
  std::thread stdout_drain_;
};

}  // namespace fs::itest
