// PostgresServer: a real PostgreSQL 15 server for tests, from Debian's binaries
// (/usr/lib/postgresql/15/bin): initdb into a fresh temporary directory, then pg_ctl start on
// 127.0.0.1 at a free port, with the server's defaults for durability (fsync on,
// synchronous_commit on). When the tests run as root the server runs as the `postgres` user
// (PostgreSQL refuses to run as root). The destructor stops it and removes the directory.
//
// Start one per test binary (e.g. from a ::testing::Environment) and give each test its own
// database (CreateDatabase) to keep tests fast and independent.
//
// Thread-safety: Stop/Start from one thread; Url() and port() from any thread.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace fs::itest {

class PostgresServer {
 public:
  // initdb + start. nullptr (and `error` set) when PostgreSQL 15 is missing or fails.
  static std::unique_ptr<PostgresServer> Create(std::string& error);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // postgres://postgres@127.0.0.1:PORT/<database>
  std::string Url(const std::string& database) const;
  std::uint16_t port() const { return port_; }

  // CREATE DATABASE <name> (a fresh, empty database).
  ::testing::AssertionResult CreateDatabase(const std::string& name);
  // Runs `sql` in `database` and returns the first column of the first row ("" when none).
  // Fails on any error.
  ::testing::AssertionResult Query(const std::string& database, const std::string& sql,
                                   std::string& value);
  // Runs `sql` in `database`; on failure returns the SQLSTATE in `sqlstate` (success: "").
  void Execute(const std::string& database, const std::string& sql, std::string& sqlstate);

  // pg_ctl stop -m fast (clients are disconnected) and start again on the same port.
  ::testing::AssertionResult Stop();
  ::testing::AssertionResult Start();
  bool running() const { return running_; }
  std::string LogTail() const;

 private:
  PostgresServer() = default;
  // Runs a PostgreSQL binary (as `postgres` when we are root); returns its exit code.
  int Run(const std::vector<std::string>& argv) const;

  std::filesystem::path root_;
  std::filesystem::path data_dir_;
  std::filesystem::path log_path_;
  std::uint16_t port_ = 0;
  bool running_ = false;
};

}  // namespace fs::itest
