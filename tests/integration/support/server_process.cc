#include "support/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

#include "common/temp_dir.h"

extern char** environ;

namespace fs::itest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kListeningPrefix = "flashsale listening on http://";
// How much of the server's stderr a failing test prints.
constexpr std::size_t kStderrTailBytes = 16 * 1024;

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

std::string Tail(const std::string& text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  return "...\n" + text.substr(text.size() - bytes);
}

// The environment for the child: ours without FLASHSALE_* (tests are hermetic) plus extras.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra_env) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with("FLASHSALE_")) continue;
    env.emplace_back(text);
  }
  for (const auto& [name, value] : extra_env) env.push_back(name + "=" + value);
  return env;
}

// "--jwt-secret" -> "FLASHSALE_JWT_SECRET".
std::string EnvName(std::string_view flag) {
  std::string name = "FLASHSALE_";
  for (char c : flag.substr(2)) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::vector<char*> PointerArray(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Finds the port in a complete listening line within `text`; 0 when none yet.
std::uint16_t ParseListeningPort(const std::string& text) {
  const std::size_t begin = text.find(kListeningPrefix);
  if (begin == std::string::npos) return 0;
  const std::size_t end = text.find('\n', begin);
  if (end == std::string::npos) return 0;
  std::string line = text.substr(begin, end - begin);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const std::size_t colon = line.rfind(':');
  if (colon == std::string::npos || colon + 1 >= line.size()) return 0;
  unsigned long port = 0;
  for (std::size_t i = colon + 1; i < line.size(); ++i) {
    const char c = line[i];
    if (c < '0' || c > '9') return 0;
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return 0;
  }
  return static_cast<std::uint16_t>(port);
}

}  // namespace

ServerProcess::ServerProcess(ServerOptions options) : options_(std::move(options)) {
  root_dir_ = test_common::MakeTempDirOrAbort("flashsale-itest");
  data_dir_ = root_dir_ / "data";
  stderr_path_ = root_dir_ / "server-stderr.log";
  std::filesystem::create_directories(data_dir_);
}

ServerProcess::~ServerProcess() {
  if (running()) Kill9();
  JoinStdoutDrain();
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- flashsale stderr (" << stderr_path_.string() << ", tail) ----\n"
              << Tail(StderrLog(), kStderrTailBytes) << "\n---- flashsale stdout ----\n"
              << Tail(StdoutText(), kStderrTailBytes) << "\n---- end ----\n";
  }
  const char* keep = std::getenv("FLASHSALE_ITEST_KEEP");
  if (keep != nullptr && std::string_view(keep) == "1") {
    std::cerr << "keeping " << root_dir_.string() << "\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(root_dir_, ignored);
}

::testing::AssertionResult ServerProcess::Start() {
  if (running()) return ::testing::AssertionFailure() << "server already running";
  JoinStdoutDrain();
  ++start_count_;
  port_.store(0, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(stdout_mutex_);
    stdout_text_.clear();
  }

  const auto test_sets = [this](const std::string& flag) {
    return std::find(options_.extra_args.begin(), options_.extra_args.end(), flag) !=
               options_.extra_args.end() ||
           std::any_of(options_.extra_env.begin(), options_.extra_env.end(),
                       [&flag](const auto& entry) { return entry.first == EnvName(flag); });
  };
  std::vector<std::pair<std::string, std::string>> settings = {{"--data-dir", data_dir_.string()}};
  // A port of the kernel's choosing, unless the test needs a fixed one (a balancer's backend).
  if (!test_sets("--listen")) settings.push_back({"--listen", "127.0.0.1:0"});
  if (options_.credentials == Credentials::kPassed) {
    settings.push_back({"--jwt-secret", kJwtSecret});
    settings.push_back({"--admin-token", kAdminToken});
  }
  // Every test client shares 127.0.0.1, so rate limiting (on by default) is off unless a test
  // asks for it.
  if (!test_sets("--rate-limit")) settings.push_back({"--rate-limit", "off"});
  // No balancer to wait for: a stop begins at once unless a test asks for the delay.
  if (!test_sets("--shutdown-delay-seconds")) settings.push_back({"--shutdown-delay-seconds", "0"});
  std::vector<std::string> args = {FLASHSALE_BINARY, "serve"};
  std::vector<std::pair<std::string, std::string>> extra_env;
  for (const auto& [flag, value] : settings) {
    if (options_.config_source == ConfigSource::kFlags) {
      args.push_back(flag);
      args.push_back(value);
    } else {
      extra_env.push_back({EnvName(flag), value});
    }
  }
  for (const std::string& arg : options_.extra_args) args.push_back(arg);
  for (const auto& entry : options_.extra_env) extra_env.push_back(entry);
  std::vector<std::string> env = ChildEnvironment(extra_env);
  std::vector<char*> argv = PointerArray(args);
  std::vector<char*> envp = PointerArray(env);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return ::testing::AssertionFailure() << "pipe2: " << std::strerror(errno);
  }
  const int stderr_fd =
      options_.stderr_fd >= 0
          ? ::fcntl(options_.stderr_fd, F_DUPFD_CLOEXEC, 0)
          : ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (stderr_fd < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return ::testing::AssertionFailure() << "open stderr log: " << std::strerror(errno);
  }
  const std::string banner = "==== start #" + std::to_string(start_count_) + " ====\n";
  [[maybe_unused]] const ssize_t written = ::write(stderr_fd, banner.data(), banner.size());

  const pid_t parent_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::close(stderr_fd);
    return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent_pid) ::_exit(126);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(stderr_fd, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    static constexpr char kExecFailed[] = "execve of the flashsale binary failed\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kExecFailed, sizeof kExecFailed - 1);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ::close(stderr_fd);
  pid_ = pid;
  stdout_fd_ = pipe_fds[0];
  return WaitForListening();
}

::testing::AssertionResult ServerProcess::WaitForListening() {
  const auto deadline = Clock::now() + options_.ready_timeout;
  std::string text;
  char buffer[4096];
  while (true) {
    const std::uint16_t port = ParseListeningPort(text);
    if (port != 0) {
      port_.store(port, std::memory_order_release);
      {
        std::lock_guard<std::mutex> lock(stdout_mutex_);
        stdout_text_ = text;
      }
      StartStdoutDrain();
      return ::testing::AssertionSuccess();
    }
    const auto now = Clock::now();
    std::string failure;
    // A child that closed stdout is probably exiting on its own: give it a moment so its exit
    // code is reported. A child that is merely slow gets killed at once.
    std::chrono::milliseconds exit_grace{0};
    if (now >= deadline) {
      failure =
          "no listening line within " + std::to_string(options_.ready_timeout.count()) + " ms";
    } else {
      pollfd fd{stdout_fd_, POLLIN, 0};
      const auto wait_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      const int ready = ::poll(&fd, 1, static_cast<int>(wait_ms) + 1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) continue;
      const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
      if (n > 0) {
        text.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      failure = "server closed stdout before printing the listening line";
      exit_grace = std::chrono::milliseconds(5'000);
    }
    // Failed: make sure the child is gone and report why.
    std::optional<int> exited = WaitExit(exit_grace);
    if (!exited) {
      ::kill(pid_, SIGKILL);
      int killed_status = 0;
      while (::waitpid(pid_, &killed_status, 0) < 0 && errno == EINTR) {
      }
      exited = killed_status;
    }
    const int status = *exited;
    last_wait_status_ = status;
    pid_ = -1;
    ::close(stdout_fd_);
    stdout_fd_ = -1;
    {
      std::lock_guard<std::mutex> lock(stdout_mutex_);
      stdout_text_ = text;
    }
    return ::testing::AssertionFailure()
           << failure << " (" << DescribeWaitStatus(status) << ")\nstdout:\n"
           << text << "\nstderr tail:\n"
           << Tail(StderrLog(), kStderrTailBytes);
  }
}

void ServerProcess::StartStdoutDrain() {
  // The server may print more (e.g. demo hints); keep the pipe from filling up.
  const int fd = stdout_fd_;
  stdout_fd_ = -1;
  stdout_drain_ = std::thread([this, fd] {
    char buffer[4096];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::lock_guard<std::mutex> lock(stdout_mutex_);
      stdout_text_.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
  });
}

void ServerProcess::JoinStdoutDrain() {
  if (stdout_drain_.joinable()) stdout_drain_.join();
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

std::optional<int> ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t result = ::waitpid(pid_, &status, WNOHANG);
    if (result == pid_) return status;
    if (result < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

::testing::AssertionResult ServerProcess::Stop(int signal_number) {
  if (!running()) return ::testing::AssertionFailure() << "server not running";
  const auto started = Clock::now();
  ::kill(pid_, signal_number);
  const std::optional<int> status = WaitExit(options_.stop_timeout);
  if (!status) {
    Kill9();
    return ::testing::AssertionFailure()
           << "server did not exit within " << options_.stop_timeout.count() << " ms of signal "
           << signal_number << "; killed";
  }
  last_wait_status_ = *status;
  pid_ = -1;
  JoinStdoutDrain();
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return ::testing::AssertionFailure()
           << "server ended with " << DescribeWaitStatus(*status) << " after signal "
           << signal_number << " (" << elapsed_ms << " ms), expected exit code 0";
  }
  return ::testing::AssertionSuccess();
}

void ServerProcess::Kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  last_wait_status_ = status;
  pid_ = -1;
  JoinStdoutDrain();
}

::testing::AssertionResult ServerProcess::Restart() {
  if (running()) {
    ::testing::AssertionResult stopped = Stop();
    if (!stopped) return stopped;
  }
  return Start();
}

bool ServerProcess::WaitForStderr(std::string_view text, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (StderrLog().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string ServerProcess::StderrLog() const {
  std::ifstream in(stderr_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ServerProcess::StdoutText() const {
  std::lock_guard<std::mutex> lock(stdout_mutex_);
  return stdout_text_;
}

}  // namespace fs::itest
