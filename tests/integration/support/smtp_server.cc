#include "support/smtp_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/temp_dir.h"
#include "support/child_process.h"
#include "support/free_port.h"

namespace fs::itest {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kReadyTimeout{20};
constexpr char kPython[] = "/usr/bin/python3";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ReceivedMail ParseMail(const std::string& raw) {
  ReceivedMail mail;
  std::size_t head_end = raw.find("\r\n\r\n");
  std::size_t body_start = head_end == std::string::npos ? raw.size() : head_end + 4;
  if (head_end == std::string::npos) head_end = raw.size();
  mail.body = raw.substr(body_start);
  // Unfold (a CRLF followed by a space continues the header), then split lines.
  std::string head = raw.substr(0, head_end);
  for (std::size_t at = head.find("\r\n "); at != std::string::npos; at = head.find("\r\n ")) {
    head.replace(at, 3, " ");
  }
  std::size_t start = 0;
  while (start < head.size()) {
    std::size_t end = head.find("\r\n", start);
    if (end == std::string::npos) end = head.size();
    const std::string line = head.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.erase(0, 1);
      mail.headers[line.substr(0, colon)] = value;
    }
    start = end + 2;
  }
  mail.envelope_from = mail.headers["X-Test-Envelope-From"];
  mail.envelope_to = mail.headers["X-Test-Envelope-To"];
  mail.tls = mail.headers["X-Test-Tls"] == "yes";
  mail.auth_user = mail.headers["X-Test-Auth"];
  return mail;
}

}  // namespace

SmtpServer::SmtpServer(SmtpServerOptions options)
    : options_(std::move(options)), dir_(test_common::MakeTempDirOrAbort("flashsale-smtp")) {
  std::filesystem::create_directories(dir_ / "mail");
}

SmtpServer::~SmtpServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- smtp server log ----\n" << Log() << "\n---- end ----\n";
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string SmtpServer::url() const {
  const std::string user = options_.user.empty() ? "" : options_.user + "@";
  return "smtp://" + user + "127.0.0.1:" + std::to_string(options_.port);
}

std::string SmtpServer::Log() const { return ReadFile(dir_ / "smtp.log"); }

::testing::AssertionResult SmtpServer::Start() {
  if (pid_ > 0) return ::testing::AssertionFailure() << "smtp server already running";
  if (options_.port == 0) options_.port = FreePort();
  if (options_.port == 0) return ::testing::AssertionFailure() << "no free port";
  std::vector<std::string> args = {kPython,     "-W",
                                   "ignore",    FLASHSALE_SMTP_SERVER_SCRIPT,
                                   "--port",    std::to_string(options_.port),
                                   "--out-dir", (dir_ / "mail").string()};
  if (!options_.tls_certificate.empty()) {
    args.insert(args.end(), {"--tls-cert", options_.tls_certificate.string(), "--tls-key",
                             options_.tls_key.string()});
  }
  if (!options_.user.empty()) {
    args.insert(args.end(), {"--user", options_.user, "--password", options_.password});
  }
  for (const std::string& address : options_.reject) {
    args.insert(args.end(), {"--reject", address});
  }
  if (options_.fail_first > 0) {
    args.insert(args.end(), {"--fail-first", std::to_string(options_.fail_first)});
  }
  ::testing::AssertionResult spawned = SpawnChild(std::move(args), dir_ / "smtp.log", {}, pid_);
  if (!spawned) return spawned;
  // The script prints "ready" once its listener accepts connections.
  const auto deadline = Clock::now() + kReadyTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure() << "smtp server exited at start:\n" << Log();
    }
    const std::string text = Log();
    std::size_t readies = 0;
    for (std::size_t at = text.find("ready\n"); at != std::string::npos;
         at = text.find("ready\n", at + 1)) {
      ++readies;
    }
    if (readies > ready_count_) {
      ready_count_ = readies;
      return ::testing::AssertionSuccess();
    }
    // Polling the log of a starting child: no event to wait for.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure() << "smtp server not ready:\n" << Log();
}

::testing::AssertionResult SmtpServer::Stop() {
  if (pid_ <= 0) return ::testing::AssertionFailure() << "smtp server not running";
  ::kill(pid_, SIGTERM);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return ::testing::AssertionSuccess();
}

std::vector<ReceivedMail> SmtpServer::Messages() const {
  std::vector<std::pair<int, std::filesystem::path>> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "mail", error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".eml") continue;
    files.emplace_back(std::stoi(path.stem().string()), path);
  }
  std::sort(files.begin(), files.end());
  std::vector<ReceivedMail> out;
  for (const auto& [number, path] : files) out.push_back(ParseMail(ReadFile(path)));
  return out;
}

}  // namespace fs::itest
