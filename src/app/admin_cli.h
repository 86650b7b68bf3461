// `flashsale admin ...`: the operator CLI. Each command is one call of a running node's admin
// API (docs/operations.md, "Operator CLI") over net::HttpSend, with the admin token as
// `Authorization: Bearer`. It prints the answer as short readable lines, or with --json the
// API's JSON as received, for scripts. Exit codes (also in `flashsale admin --help`):
//   0 success; kExitRuntimeError (1) cannot connect or a bad answer; kExitBadConfig (2) a
//   usage error (config.cc); kExitCheckFailed (3) reconcile does not add up or the audit chain
//   is broken; kExitRefused (4) the server refused the request (4xx/5xx; its error code and
//   message on stderr).
// Thread-safety: call from main only.
#pragma once

#include <string>

#include "app/config.h"
#include "net/http_client.h"

namespace fs::app {

// The server answered the request with an error status (4xx or 5xx).
inline constexpr int kExitRefused = 4;

// One admin API call: what a command sends.
struct AdminCall {
  net::HttpMethod method = net::HttpMethod::kGet;
  std::string path;  // from the API's root, e.g. /admin/v1/skus/sneaker
  std::string body;  // JSON, POST only
};

// The call `config.command` makes (pure).
AdminCall AdminCallOf(const AdminConfig& config);

// Runs the command against config.url; prints on stdout (answers) and stderr (errors).
int RunAdmin(const AdminConfig& config);

}  // namespace fs::app
