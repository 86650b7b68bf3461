// Outbound SMTP on libcurl: one message to one recipient, for the buyers' order e-mails.
// smtp:// upgrades to TLS with STARTTLS when the server offers it (and requires it when a
// password is set: credentials never cross the network in clear text); smtps:// is TLS from
// the first byte. Certificates and host names are verified, always (the system's CAs, or
// `ca_file`). The calling thread's curl handle keeps the connection open between messages.
// Blocking: never call it on the writer thread.
// Thread-safety: safe from any thread.
#pragma once

#include <chrono>
#include <string>

#include "base/status.h"

namespace fs::net {

struct SmtpServer {
  std::string url;       // smtp://HOST:PORT or smtps://HOST:PORT (a user may precede the host)
  std::string username;  // empty: no AUTH (unless the URL names a user)
  std::string password;
  std::string ca_file;  // PEM bundle of trusted CAs; empty: the system's
  std::chrono::milliseconds timeout{10000};
};

struct MailEnvelope {
  std::string from;       // MAIL FROM, a plain address (base::IsValidEmailAddress)
  std::string recipient;  // RCPT TO, a plain address
  std::string message;    // the RFC 5322 message: headers, blank line, body; CRLF line ends
};

// --smtp-url smtp://[USER@]HOST:PORT (or smtps://) split into the URL without the user and the
// user. kInvalidArgument unless it is smtp:// or smtps:// with a host and no password (a secret
// belongs in a file, not in a URL that shows in the process list). Checked once, at start.
struct SmtpUrl {
  std::string url;
  std::string username;
};
base::Result<SmtpUrl> ParseSmtpUrl(const std::string& url);

// Sends the message. kFailedPrecondition when the server refused it for good (a 5xx answer
// other than to authentication: the recipient or the message will not be accepted however
// often it is sent); kUnavailable for everything worth retrying (connection, TLS, a 4xx
// answer, authentication refused, the deadline).
base::Status SendMail(const SmtpServer& server, const MailEnvelope& envelope);

}  // namespace fs::net
