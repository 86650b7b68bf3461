// HaproxyServer: a real HAProxy (Debian's /usr/sbin/haproxy, 2.6) in front of N flashsale nodes
// for black-box tests. Create() writes a config into a fresh temporary directory (round robin,
// health checks on GET /readyz, keep-alive, retries with redispatch on connection failures, an
// `X-Flashsale-Node: node<i>` response header naming the node that answered, and an admin
// stats socket) and runs haproxy in the foreground as a child on 127.0.0.1 at a free port. The
// child gets SIGKILL if the test process dies; the destructor kills it and removes the
// directory.
//
// Thread-safety: create, query and destroy from the test's main thread; port() from any thread.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace fs::itest {

struct HaproxyOptions {
  // Health checks: every check_interval; a node is DOWN after `fall` failed checks and UP
  // again after `rise` good ones.
  std::chrono::milliseconds check_interval{200};
  int fall = 2;
  int rise = 1;
  // False: no health checks (a backend that is not a flashsale node, e.g. a fake gateway).
  bool health_checks = true;
  // Set: the frontend speaks TLS with this PEM (certificate chain, then the private key), a
  // TLS terminator in front of a plain-HTTP test server.
  std::string tls_certificate;
  // Servers (by index) that start in maintenance: no traffic until `enable server` (the idle
  // colour of a blue-green pair).
  std::set<std::size_t> disabled_servers{};
};

// One backend server's line of HAProxy's `show stat`.
struct HaproxyServerStat {
  std::string status;  // "UP", "DOWN", "UP 1/2", "MAINT", ...
  std::int64_t responses_2xx = 0;
  std::int64_t responses_4xx = 0;
  std::int64_t responses_5xx = 0;
};

class HaproxyServer {
 public:
  // Starts haproxy in front of `backend_ports` (servers node0, node1, ...). nullptr (and
  // `error` set) when haproxy is missing, rejects the config or does not start.
  static std::unique_ptr<HaproxyServer> Create(const std::vector<std::uint16_t>& backend_ports,
                                               std::string& error, HaproxyOptions options = {});
  ~HaproxyServer();
  HaproxyServer(const HaproxyServer&) = delete;
  HaproxyServer& operator=(const HaproxyServer&) = delete;

  std::uint16_t port() const { return port_; }

  // One command on the admin socket (e.g. "disable server nodes/node0"); its answer, "" on
  // failure (an accepted enable/disable answers an empty line).
  std::string Command(const std::string& command) const;
  // The backend servers by name ("node0", ...) from the stats socket; empty on failure.
  std::map<std::string, HaproxyServerStat> ServerStats() const;
  // Waits until server `name`'s status word is `status` ("UP" or "DOWN"; "UP 1/2", one
  // failed check, is still UP).
  ::testing::AssertionResult WaitForStatus(const std::string& name, const std::string& status,
                                           std::chrono::milliseconds timeout) const;
  // Waits until every backend server is UP.
  ::testing::AssertionResult WaitForAllUp(std::chrono::milliseconds timeout) const;
  std::string LogTail() const;

 private:
  HaproxyServer() = default;
  // One attempt on one port: true when haproxy accepts connections.
  bool Start(std::string& error);

  std::filesystem::path root_;
  std::filesystem::path config_path_;
  std::filesystem::path socket_path_;
  std::filesystem::path log_path_;
  std::vector<std::uint16_t> backend_ports_;
  HaproxyOptions options_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fs::itest
