#include "support/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/free_port.h"

namespace fs::itest {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";

struct Connection {
  explicit Connection(const std::string& url) : raw(PQconnectdb(url.c_str())) {}
  ~Connection() { PQfinish(raw); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  PGconn* raw;
};

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::Create(std::string& error) {
  if (access((std::string(kBinDir) + "/initdb").c_str(), X_OK) != 0) {
    error = "PostgreSQL 15 is not installed (postgresql-15 in scripts/debian-packages.txt)";
    return nullptr;
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  // Under /tmp itself, not $TMPDIR (common/temp_dir.h): as root, the server runs as the
  // postgres user, who must be able to reach this directory.
  char pattern[] = "/tmp/flashsale-pg-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    error = "mkdtemp failed";
    return nullptr;
  }
  server->root_ = pattern;
  server->data_dir_ = server->root_ / "data";
  server->log_path_ = server->root_ / "server.log";
  if (geteuid() == 0) {
    const passwd* user = getpwnam("postgres");
    if (user == nullptr || chown(pattern, user->pw_uid, user->pw_gid) != 0) {
      error = "running as root needs the postgres user (from postgresql-15) to own " +
              server->root_.string();
      return nullptr;
    }
  }
  // -A trust on a loopback-only server of a test; --no-sync only skips initdb's final sync of
  // the template files, the server itself keeps fsync on.
  if (server->Run({std::string(kBinDir) + "/initdb", "-D", server->data_dir_.string(), "-U",
                   "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"}) != 0) {
    error = "initdb failed: " + server->LogTail();
    return nullptr;
  }
  for (int attempt = 0; attempt < 5 && !server->running_; ++attempt) {
    server->port_ = FreePort();
    if (server->port_ == 0) continue;
    if (!server->Start()) continue;
  }
  if (!server->running_) {
    error = "PostgreSQL did not start: " + server->LogTail();
    return nullptr;
  }
  return server;
}

PostgresServer::~PostgresServer() {
  if (running_) {
    Run({std::string(kBinDir) + "/pg_ctl", "-D", data_dir_.string(), "-m", "immediate", "-w",
         "stop"});
  }
  std::error_code ignored;
  if (!root_.empty()) std::filesystem::remove_all(root_, ignored);
}

int PostgresServer::Run(const std::vector<std::string>& argv) const {
  std::vector<std::string> full;
  if (geteuid() == 0) full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  // Everything the child needs is built before fork: other threads of the test may hold
  // malloc's lock, so the child only calls async-signal-safe functions.
  std::vector<char*> args;
  for (auto& arg : full) args.push_back(arg.data());
  args.push_back(nullptr);
  const std::string log = log_path_.string();
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

::testing::AssertionResult PostgresServer::Start() {
  const std::string options = "-p " + std::to_string(port_) + " -c listen_addresses=127.0.0.1 -k " +
                              root_.string() + " -c max_connections=300 -c shared_buffers=64MB";
  const int code =
      Run({std::string(kBinDir) + "/pg_ctl", "-D", data_dir_.string(), "-l",
           (root_ / "postgres.log").string(), "-o", options, "-w", "-t", "60", "start"});
  running_ = code == 0;
  if (!running_) return ::testing::AssertionFailure() << "pg_ctl start failed: " << LogTail();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult PostgresServer::Stop() {
  const int code = Run({std::string(kBinDir) + "/pg_ctl", "-D", data_dir_.string(), "-m", "fast",
                        "-w", "-t", "60", "stop"});
  if (code != 0) return ::testing::AssertionFailure() << "pg_ctl stop failed: " << LogTail();
  running_ = false;
  return ::testing::AssertionSuccess();
}

std::string PostgresServer::Url(const std::string& database) const {
  return "postgres://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

::testing::AssertionResult PostgresServer::CreateDatabase(const std::string& name) {
  std::string sqlstate;
  Execute("postgres", "CREATE DATABASE \"" + name + "\"", sqlstate);
  if (!sqlstate.empty()) {
    return ::testing::AssertionFailure() << "CREATE DATABASE " << name << ": " << sqlstate;
  }
  return ::testing::AssertionSuccess();
}

void PostgresServer::Execute(const std::string& database, const std::string& sql,
                             std::string& sqlstate) {
  Connection connection(Url(database));
  sqlstate.clear();
  if (PQstatus(connection.raw) != CONNECTION_OK) {
    sqlstate = "connect: " + std::string(PQerrorMessage(connection.raw));
    return;
  }
  PGresult* result = PQexec(connection.raw, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    sqlstate = state != nullptr ? state : PQerrorMessage(connection.raw);
  }
  PQclear(result);
}

::testing::AssertionResult PostgresServer::Query(const std::string& database,
                                                 const std::string& sql, std::string& value) {
  Connection connection(Url(database));
  if (PQstatus(connection.raw) != CONNECTION_OK) {
    return ::testing::AssertionFailure() << "connect: " << PQerrorMessage(connection.raw);
  }
  PGresult* result = PQexec(connection.raw, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  ::testing::AssertionResult outcome = ::testing::AssertionSuccess();
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    outcome = ::testing::AssertionFailure() << sql << ": " << PQresultErrorMessage(result);
  } else {
    value = PQntuples(result) > 0 && PQnfields(result) > 0 ? PQgetvalue(result, 0, 0) : "";
  }
  PQclear(result);
  return outcome;
}

std::string PostgresServer::LogTail() const {
  std::string text;
  for (const auto& path : {log_path_, root_ / "postgres.log"}) {
    std::ifstream file(path);
    std::stringstream buffer;
    buffer << file.rdbuf();
    text += buffer.str();
  }
  return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
}

}  // namespace fs::itest
