// SmtpServer: a real SMTP server for tests (tests/integration/support/smtp_server.py on
// Debian's python3-aiosmtpd) on 127.0.0.1 at a free port, writing each accepted message to its
// own temporary directory. Optionally offers STARTTLS (a certificate from tls_certificates.h),
// requires AUTH, refuses a recipient for good (550) or the first N messages for now (451).
// Start() waits until it accepts connections; Stop() ends it; Start() again brings it back on
// the same port. Missing python3-aiosmtpd fails the test (CI installs it from
// scripts/debian-packages.txt). The child gets SIGKILL if the test process dies.
// Thread-safety: none; drive it from the test's main thread.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs::itest {

struct SmtpServerOptions {
  std::uint16_t port = 0;                 // 0: a free port
  std::filesystem::path tls_certificate;  // with tls_key: offer STARTTLS
  std::filesystem::path tls_key;
  std::string user;  // non-empty: AUTH required (after STARTTLS) with user and password
  std::string password;
  std::vector<std::string> reject;  // recipients answered 550
  int fail_first = 0;               // the first N messages answered 451
};

// One accepted message.
struct ReceivedMail {
  std::string envelope_from;
  std::string envelope_to;
  bool tls = false;                            // the client upgraded with STARTTLS
  std::string auth_user;                       // "-" without AUTH
  std::map<std::string, std::string> headers;  // the message's headers (unfolded), by name
  std::string body;                            // the body as sent (before any decoding)
};

class SmtpServer {
 public:
  explicit SmtpServer(SmtpServerOptions options = {});
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  ::testing::AssertionResult Start();
  ::testing::AssertionResult Stop();

  std::uint16_t port() const { return options_.port; }
  // "smtp://127.0.0.1:PORT" (with "USER@" when AUTH is required): the value of --smtp-url.
  std::string url() const;
  // The messages accepted so far, in the order they were accepted.
  std::vector<ReceivedMail> Messages() const;
  std::string Log() const;

 private:
  SmtpServerOptions options_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::size_t ready_count_ = 0;  // "ready" lines seen in the log (one per start)
};

}  // namespace fs::itest
