// Goal: --store / FLASHSALE_STORE select the system of record: empty or "sqlite" keep the
// embedded store, a postgres:// or postgresql:// URL selects the cluster store, anything else
// is refused with exit code 2 and a message that does not echo the password.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "app/config.h"
#include "store/postgres/pg_store.h"

namespace fs::app {
namespace {

CommandLine Serve(std::vector<std::string> args) {
  std::vector<std::string> full = {"flashsale",     "serve",
                                   "--jwt-secret",  "test-jwt-secret-0123456789abcdef0",
                                   "--admin-token", "test-admin-token-0123456789abcdef"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& arg : full) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(ConfigStoreTest, SelectsTheStore) {
  struct Case {
    std::vector<std::string> args;
    std::string store_url;
  };
  const std::vector<Case> cases = {
      {{}, ""},
      {{"--store", "sqlite"}, ""},
      {{"--store", "postgres://app:secret@db:5432/flashsale"},
       "postgres://app:secret@db:5432/flashsale"},
      {{"--store", "postgresql://db/flashsale"}, "postgresql://db/flashsale"},
  };
  for (const Case& c : cases) {
    const CommandLine parsed = Serve(c.args);
    ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
    EXPECT_EQ(parsed.config.store_url, c.store_url);
  }
}

TEST(ConfigStoreTest, RefusesOtherStoresWithoutEchoingThePassword) {
  for (const std::string bad : {"mysql://app:secret@db/x", "redis://x", "postgres", "/var/db"}) {
    const CommandLine parsed = Serve({"--store", bad});
    EXPECT_EQ(parsed.action, CommandLine::Action::kExit) << bad;
    EXPECT_EQ(parsed.exit_code, kExitBadConfig) << bad;
    EXPECT_NE(parsed.err.find("--store"), std::string::npos) << parsed.err;
    EXPECT_EQ(parsed.err.find("secret"), std::string::npos) << parsed.err;
  }
}

TEST(ConfigStoreTest, ReadsTheEnvironment) {
  ::setenv("FLASHSALE_STORE", "postgres://db/env", 1);
  const CommandLine parsed = Serve({});
  ::unsetenv("FLASHSALE_STORE");
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  EXPECT_EQ(parsed.config.store_url, "postgres://db/env");
}

TEST(ConfigStoreTest, RedactsPasswords) {
  EXPECT_EQ(store::RedactedUrl("postgres://app:secret@db:5432/x"), "postgres://app:***@db:5432/x");
  EXPECT_EQ(store::RedactedUrl("postgres://app@db/x"), "postgres://app@db/x");
  EXPECT_EQ(store::RedactedUrl("postgres://db/x"), "postgres://db/x");
}

}  // namespace
}  // namespace fs::app
