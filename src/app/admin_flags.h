// The command line of `flashsale admin ...` (the operator CLI, app/admin_cli.h): its CLI11
// subcommands and their validation into an AdminConfig. Part of ParseCommandLine (config.cc);
// like it, never exits the process. Usage errors are kInvalidArgument (exit 2).
// Thread-safety: call from main only (reads the process environment).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "app/config.h"
#include "base/status.h"

namespace fs::app {

// Where the admin subcommands write what they parse.
struct AdminFlags {
  CLI::App* admin = nullptr;
  AdminConfig config{};
  std::string token_file;  // --admin-token-file, FLASHSALE_ADMIN_TOKEN_FILE
  bool json = false;
  // Options whose absence matters (left out of the request body).
  CLI::Option* per_user_limit = nullptr;
  CLI::Option* reservation_ttl_seconds = nullptr;
  CLI::Option* starts_at = nullptr;
  CLI::Option* ends_at = nullptr;
  CLI::Option* description = nullptr;
  CLI::Option* image_url = nullptr;
  CLI::Option* category = nullptr;
  std::int64_t per_user_limit_value = 0;
  std::int64_t reservation_ttl_seconds_value = 0;
  std::string starts_at_value;
  std::string ends_at_value;
  std::string description_value;
  std::string image_url_value;
  std::string category_value;
};

// Adds `admin` and its commands to `app`, writing into `flags` (which must outlive parsing).
void AddAdminCommands(CLI::App& app, AdminFlags& flags);

// After a parse that ran `admin`: the command, URL, token and request fields. Errors: the URL
// is not http(s), no token (FLASHSALE_ADMIN_TOKEN or --admin-token-file), both, or an
// unreadable token file.
base::Result<AdminConfig> ValidateAdmin(AdminFlags& flags);

}  // namespace fs::app
