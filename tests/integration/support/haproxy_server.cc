#include "support/haproxy_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/temp_dir.h"
#include "support/free_port.h"

namespace fs::itest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kHaproxyBinary = "/usr/sbin/haproxy";

bool Accepts(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  for (std::string field; std::getline(stream, field, ',');) fields.push_back(field);
  return fields;
}

std::int64_t ToInt(const std::string& text) {
  return text.empty() ? 0 : std::strtoll(text.c_str(), nullptr, 10);
}

std::string ConfigText(const std::vector<std::uint16_t>& backends, std::uint16_t port,
                       const std::filesystem::path& socket, const HaproxyOptions& options) {
  std::ostringstream out;
  out << "global\n"
      << "    stats socket " << socket.string() << " mode 600 level admin\n"
      << "defaults\n"
      << "    mode http\n"
      << "    option http-keep-alive\n"
      << "    option redispatch\n"
      << "    retries 2\n"
      << "    maxconn 2000\n"
      << "    timeout connect 1s\n"
      << "    timeout http-request 10s\n"
      << "    timeout client 150s\n"
      << "    timeout http-keep-alive 150s\n"
      << "    timeout server 30s\n"
      << "    timeout queue 5s\n"
      << "    timeout check 1s\n"
      << "frontend flashsale\n"
      << "    bind 127.0.0.1:" << port
      << (options.tls_certificate.empty() ? "" : " ssl crt " + options.tls_certificate)
      << "\n"
      // The client's address replaces any X-Forwarded-For the client sent.
      << "    http-request set-header X-Forwarded-For %[src]\n"
      << "    default_backend nodes\n"
      << "backend nodes\n"
      << "    balance roundrobin\n"
      << "    option httpchk GET /readyz\n"
      << "    http-check expect status 200\n"
      << "    http-response set-header X-Flashsale-Node %s\n"
      << "    default-server inter " << options.check_interval.count() << "ms fall " << options.fall
      << " rise " << options.rise << "\n";
  for (std::size_t i = 0; i < backends.size(); ++i) {
    out << "    server node" << i << " 127.0.0.1:" << backends[i]
        << (options.health_checks ? " check" : "")
        << (options.disabled_servers.contains(i) ? " disabled" : "") << "\n";
  }
  return out.str();
}

}  // namespace

std::unique_ptr<HaproxyServer> HaproxyServer::Create(
    const std::vector<std::uint16_t>& backend_ports, std::string& error, HaproxyOptions options) {
  if (access(kHaproxyBinary, X_OK) != 0) {
    error = "HAProxy is not installed (haproxy in scripts/debian-packages.txt)";
    return nullptr;
  }
  std::unique_ptr<HaproxyServer> server(new HaproxyServer());
  base::Result<std::filesystem::path> root = test_common::MakeTempDir("flashsale-haproxy");
  if (!root) {
    error = root.error().ToString();
    return nullptr;
  }
  server->root_ = std::move(root).value();
  server->config_path_ = server->root_ / "haproxy.cfg";
  server->socket_path_ = server->root_ / "admin.sock";
  server->log_path_ = server->root_ / "haproxy.log";
  server->backend_ports_ = backend_ports;
  server->options_ = options;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (server->Start(error)) return server;
  }
  return nullptr;
}

bool HaproxyServer::Start(std::string& error) {
  port_ = FreePort();
  if (port_ == 0) {
    error = "no free port";
    return false;
  }
  {
    std::ofstream config(config_path_, std::ios::trunc);
    config << ConfigText(backend_ports_, port_, socket_path_, options_);
    if (!config) {
      error = "cannot write " + config_path_.string();
      return false;
    }
  }
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<std::string> argv_strings = {kHaproxyBinary, "-db", "-f", config_path_.string()};
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log = log_path_.string();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error = "haproxy exited at start: " + LogTail();
      return false;
    }
    if (Accepts(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  error = "haproxy did not accept connections within 10 s: " + LogTail();
  return false;
}

HaproxyServer::~HaproxyServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- haproxy log (tail) ----\n" << LogTail() << "\n---- end ----\n";
  }
  std::error_code ignored;
  if (!root_.empty()) std::filesystem::remove_all(root_, ignored);
}

std::string HaproxyServer::Command(const std::string& command) const {
  std::string text;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return text;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = socket_path_.string();
  if (path.size() >= sizeof(address.sun_path)) {
    close(fd);
    return text;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string line = command + "\n";
    if (write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      char buffer[4096];
      ssize_t n = 0;
      while ((n = read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  close(fd);
  return text;
}

std::map<std::string, HaproxyServerStat> HaproxyServer::ServerStats() const {
  std::map<std::string, HaproxyServerStat> stats;
  const std::string text = Command("show stat");
  // CSV: a "# pxname,svname,..." header, then one line per proxy and server.
  std::stringstream lines(text);
  std::vector<std::string> header;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# ", 0) == 0) {
      header = SplitCsv(line.substr(2));
      continue;
    }
    const std::vector<std::string> fields = SplitCsv(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i) {
      row[header[i]] = fields[i];
    }
    if (row["pxname"] != "nodes" || row["svname"] == "BACKEND") continue;
    HaproxyServerStat& stat = stats[row["svname"]];
    stat.status = row["status"];
    stat.responses_2xx = ToInt(row["hrsp_2xx"]);
    stat.responses_4xx = ToInt(row["hrsp_4xx"]);
    stat.responses_5xx = ToInt(row["hrsp_5xx"]);
  }
  return stats;
}

::testing::AssertionResult HaproxyServer::WaitForStatus(const std::string& name,
                                                        const std::string& status,
                                                        std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  while (true) {
    const auto stats = ServerStats();
    const auto found = stats.find(name);
    last = found == stats.end() ? "(not in show stat)" : found->second.status;
    // "UP 1/2" (one check failed) is still UP, "DOWN 1/2" still DOWN.
    if (last.substr(0, last.find(' ')) == status) return ::testing::AssertionSuccess();
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure() << "haproxy server " << name << " is " << last << ", not "
                                       << status << " after " << timeout.count() << " ms";
}

::testing::AssertionResult HaproxyServer::WaitForAllUp(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  for (std::size_t i = 0; i < backend_ports_.size(); ++i) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    ::testing::AssertionResult up = WaitForStatus("node" + std::to_string(i), "UP",
                                                  std::max(left, std::chrono::milliseconds(0)));
    if (!up) return up;
  }
  return ::testing::AssertionSuccess();
}

std::string HaproxyServer::LogTail() const {
  std::ifstream file(log_path_);
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string text = buffer.str();
  return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
}

}  // namespace fs::itest
