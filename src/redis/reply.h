// Reply: a Redis reply as a plain value (no hiredis types), so the code that interprets
// replies (rate-limit results, NOSCRIPT detection, cache values) is testable without a
// server. ParseReplies decodes raw RESP bytes with hiredis's reader, for tests and tools.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace fs::redis {

// Nesting deeper than this is refused (kInternal): our scripts return flat arrays, and a
// bound keeps a hostile or broken server from making conversion recurse without end.
inline constexpr std::size_t kReplyDepthMax = 8;

struct Reply {
  enum class Type : std::uint8_t { kString, kStatus, kInteger, kNil, kArray, kError };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus, kError
  std::int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  static Reply String(std::string value) { return {Type::kString, std::move(value), 0, {}}; }
  static Reply Status(std::string value) { return {Type::kStatus, std::move(value), 0, {}}; }
  static Reply Error(std::string value) { return {Type::kError, std::move(value), 0, {}}; }
  static Reply Integer(std::int64_t value) { return {Type::kInteger, {}, value, {}}; }
  static Reply Nil() { return {}; }
  static Reply Array(std::vector<Reply> values) { return {Type::kArray, {}, 0, std::move(values)}; }

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
};

// An error reply saying the script is not in the server's script cache (EVALSHA after a
// restart or SCRIPT FLUSH): the client loads it and retries.
bool IsNoScriptError(const Reply& reply);

// The integer elements of a flat array reply of exactly `count` integers; nullopt otherwise.
std::optional<std::vector<std::int64_t>> IntegerArray(const Reply& reply, std::size_t count);

// Every complete reply in `bytes` (RESP2). kInternal on a protocol error or a reply nested
// deeper than kReplyDepthMax; an incomplete tail is left out.
base::Result<std::vector<Reply>> ParseReplies(std::string_view bytes);

// Converts one hiredis redisReply (passed as void* so this header stays free of hiredis).
// REQUIRES: `hiredis_reply` is a non-null redisReply*.
base::Result<Reply> ConvertHiredisReply(const void* hiredis_reply);

}  // namespace fs::redis
