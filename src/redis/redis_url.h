// The --redis URL: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]. HOST is a name, an IPv4 address
// or a bracketed IPv6 address; PORT defaults to 6379 and DB (the SELECTed database) to 0. USER
// and PASSWORD are percent-decoded and sent with AUTH (USER: a Redis 6 ACL user). TLS
// (rediss://) and query options are refused rather than silently ignored.
// Thread-safety: plain values and a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace fs::redis {

inline constexpr std::uint16_t kDefaultPort = 6379;
// Redis ships with 16 databases; a server configured with more allows larger numbers. Above
// this bound the number is a typo.
inline constexpr std::int64_t kDatabaseIndexMax = 1'000'000;

struct RedisUrl {
  std::string host;  // without brackets
  std::uint16_t port = kDefaultPort;
  std::int64_t database = 0;
  std::string username;  // empty: the default user
  std::string password;  // empty: no AUTH

  // "redis://host:port/db", brackets around IPv6 hosts, "***@" for credentials (for logs).
  std::string ToString() const;
};

// kInvalidArgument naming what is wrong.
base::Result<RedisUrl> ParseRedisUrl(std::string_view text);

}  // namespace fs::redis
