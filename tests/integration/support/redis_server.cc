#include "support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/temp_dir.h"
#include "support/http_client.h"

namespace fs::itest {
namespace {

using Clock = std::chrono::steady_clock;

// Start-up of an empty, unpersisted Redis takes milliseconds; this bound is for a loaded box.
constexpr std::chrono::seconds kReadyTimeout{10};
constexpr std::chrono::seconds kStopTimeout{10};

// A port that was free a moment ago (the kernel's choice for port 0).
std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

std::string Resp(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& arg : argv) {
    out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  return out;
}

}  // namespace

RedisServer::RedisServer(std::string password)
    : dir_(test_common::MakeTempDirOrAbort("flashsale-redis")), password_(std::move(password)) {}

RedisServer::~RedisServer() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- redis-server log ----\n" << Log() << "\n---- end ----\n";
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServer::url() const {
  const std::string credentials = password_.empty() ? "" : ":" + password_ + "@";
  return "redis://" + credentials + "127.0.0.1:" + std::to_string(port_);
}

std::string RedisServer::Log() const {
  std::ifstream in(dir_ / "redis.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

::testing::AssertionResult RedisServer::Start() {
  if (running()) return ::testing::AssertionFailure() << "redis-server already running";
  if (::access(kRedisServerBinary, X_OK) != 0) {
    return ::testing::AssertionFailure()
           << kRedisServerBinary << " is missing (install redis-server, see "
           << "scripts/debian-packages.txt)";
  }
  if (port_ == 0) port_ = FreePort();
  if (port_ == 0) return ::testing::AssertionFailure() << "no free port";
  std::vector<std::string> args = {kRedisServerBinary,
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_.string(),
                                   "--logfile",
                                   (dir_ / "redis.log").string(),
                                   "--daemonize",
                                   "no"};
  if (!password_.empty()) {
    args.push_back("--requirepass");
    args.push_back(password_);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent_pid) ::_exit(126);
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDIN_FILENO);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  return WaitUntilReady();
}

::testing::AssertionResult RedisServer::WaitUntilReady() {
  const auto deadline = Clock::now() + kReadyTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure() << "redis-server exited at start:\n" << Log();
    }
    const auto reply = Command({"PING"});
    if (reply && *reply == "+PONG") return ::testing::AssertionSuccess();
    // Polling a port that is not listening yet: no event to wait for.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ::testing::AssertionFailure() << "redis-server not answering PING:\n" << Log();
}

::testing::AssertionResult RedisServer::Stop() {
  if (!running()) return ::testing::AssertionFailure() << "redis-server not running";
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return ::testing::AssertionFailure() << "redis-server ignored SIGTERM";
}

std::optional<std::string> RedisServer::Command(const std::vector<std::string>& argv) const {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port_);
  std::optional<std::string> line;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    // With a password, AUTH goes first on the same connection; its "+OK" line is skipped.
    const std::string request =
        (password_.empty() ? std::string() : Resp({"AUTH", password_})) + Resp(argv);
    const int skip = password_.empty() ? 0 : 1;
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      std::string text;
      char buffer[512];
      std::size_t start = 0;
      for (int i = 0; i < skip; ++i) {
        while (text.find("\r\n", start) == std::string::npos) {
          const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
          if (n <= 0) break;
          text.append(buffer, static_cast<std::size_t>(n));
        }
        const std::size_t end = text.find("\r\n", start);
        start = end == std::string::npos ? text.size() : end + 2;
      }
      while (text.find("\r\n", start) == std::string::npos) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
      }
      const std::size_t end = text.find("\r\n", start);
      if (end != std::string::npos) line = text.substr(start, end - start);
    }
  }
  ::close(fd);
  return line;
}

::testing::AssertionResult AwaitRedisState(std::uint16_t node_port,
                                           const std::string& redis_state) {
  const std::string wanted = "\"redis\":\"" + redis_state + "\"";
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string last;
  while (Clock::now() < deadline) {
    HttpClient http(node_port);
    const HttpResponse ready = http.Get("/readyz");
    if (ready.status != 200) {
      return ::testing::AssertionFailure() << "/readyz answered " << ready.status;
    }
    last = ready.body;
    if (last.find(wanted) != std::string::npos) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure() << "/readyz never said " << wanted << "; last: " << last;
}

}  // namespace fs::itest
