// Goal: what a Redis server sends back never crashes the reply decoder (hiredis's reader and
// our conversion with its depth bound) or the decoder of the cached availability value, and
// both round-trip. Replies: decode -> encode as RESP -> decode gives the same replies.
// Counters ("total:held:sold"): a value that decodes is non-negative with available >= 0, and
// encodes back to itself; counters encoded by the node decode to themselves.
//
// Input: RESP bytes ("*2\r\n:1\r\n$3\r\nabc\r\n"); the same bytes as a cached counters value.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "base/status.h"
#include "redis/redis_services.h"
#include "redis/reply.h"

namespace fs::redis {
namespace {

// RESP2, as a server writes each reply type.
void Encode(const Reply& reply, std::string& out) {
  switch (reply.type) {
    case Reply::Type::kString:
      out += '$' + std::to_string(reply.text.size()) + "\r\n" + reply.text + "\r\n";
      return;
    case Reply::Type::kStatus:
      out += '+' + reply.text + "\r\n";
      return;
    case Reply::Type::kError:
      out += '-' + reply.text + "\r\n";
      return;
    case Reply::Type::kInteger:
      out += ':' + std::to_string(reply.integer) + "\r\n";
      return;
    case Reply::Type::kNil:
      out += "$-1\r\n";
      return;
    case Reply::Type::kArray:
      out += '*' + std::to_string(reply.elements.size()) + "\r\n";
      for (const Reply& element : reply.elements) Encode(element, out);
      return;
  }
}

bool Same(const Reply& a, const Reply& b) {
  if (a.type != b.type || a.text != b.text || a.integer != b.integer) return false;
  if (a.elements.size() != b.elements.size()) return false;
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!Same(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

std::size_t Depth(const Reply& reply) {
  std::size_t depth = 0;
  for (const Reply& element : reply.elements) depth = std::max(depth, Depth(element) + 1);
  return depth;
}

// hiredis 0.14 (Debian 12) allocates an array reply's element pointers up front from the
// count the server declares, up to INT_MAX of them (16 GiB): it trusts the server, and no
// option of that version bounds it. Inputs declaring more elements than any reply of ours
// holds are left out so the fuzzer explores the rest (docs/reliability.md, "Fuzzing").
constexpr std::int64_t kDeclaredElementsMax = 1 << 20;

bool DeclaresHugeArray(std::string_view bytes) {
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    // Any '*', not only at a line start: hiredis 0.14 skips the two bytes after a bulk
    // string without checking they are CRLF, so an array may start after any byte.
    if (bytes[at] != '*') continue;
    std::int64_t count = 0;
    for (std::size_t digit = at + 1; digit < bytes.size() && bytes[digit] >= '0' &&
                                     bytes[digit] <= '9' && count <= kDeclaredElementsMax;
         ++digit) {
      count = count * 10 + (bytes[digit] - '0');
    }
    if (count > kDeclaredElementsMax) return true;
  }
  return false;
}

void Replies(std::string_view bytes) {
  if (DeclaresHugeArray(bytes)) return;
  const auto replies = ParseReplies(bytes);
  if (!replies) {
    FS_CHECK(replies.error().code() == base::StatusCode::kInternal);
    return;
  }
  std::string encoded;
  for (const Reply& reply : *replies) {
    FS_CHECK(Depth(reply) <= kReplyDepthMax);
    Encode(reply, encoded);
    (void)IsNoScriptError(reply);
    if (const auto integers = IntegerArray(reply, reply.elements.size())) {
      FS_CHECK(integers->size() == reply.elements.size());
    }
  }
  const auto again = ParseReplies(encoded);
  FS_CHECK(again.has_value());
  FS_CHECK(again->size() == replies->size());
  for (std::size_t i = 0; i < replies->size(); ++i) FS_CHECK(Same((*again)[i], (*replies)[i]));
}

void Counters(std::string_view bytes) {
  if (const auto counters = DecodeCounters(bytes)) {
    FS_CHECK(counters->total >= 0);
    FS_CHECK(counters->held >= 0);
    FS_CHECK(counters->sold >= 0);
    FS_CHECK(counters->available() >= 0);
    const auto again = DecodeCounters(EncodeCounters(*counters));
    FS_CHECK(again.has_value());
    FS_CHECK(again->total == counters->total);
    FS_CHECK(again->held == counters->held);
    FS_CHECK(again->sold == counters->sold);
  }
  // Counters the node could hold (held + sold <= total, all >= 0): encode -> decode -> equal.
  std::int64_t values[3] = {0, 0, 0};
  std::memcpy(values, bytes.data(), std::min(bytes.size(), sizeof values));
  core::StockCounters counters{values[0] & 0x3fff'ffff'ffff'ffff, 0, 0};
  counters.held = (values[1] & 0x3fff'ffff'ffff'ffff) % (counters.total + 1);
  counters.sold = (values[2] & 0x3fff'ffff'ffff'ffff) % (counters.total - counters.held + 1);
  const auto decoded = DecodeCounters(EncodeCounters(counters));
  FS_CHECK(decoded.has_value());
  FS_CHECK(decoded->total == counters.total);
  FS_CHECK(decoded->held == counters.held);
  FS_CHECK(decoded->sold == counters.sold);
}

}  // namespace
}  // namespace fs::redis

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::redis;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Replies(bytes);
  Counters(bytes);
  return 0;
}
