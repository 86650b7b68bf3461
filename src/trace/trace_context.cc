#include "trace/trace_context.h"

#include <algorithm>

#include "base/random.h"

namespace fs::trace {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is not valid in traceparent
}

template <std::size_t N>
bool ParseHex(std::string_view text, std::array<std::uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int high = HexValue(text[2 * i]);
    const int low = HexValue(text[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

template <std::size_t N>
std::string ToHex(const std::array<std::uint8_t, N>& bytes) {
  std::string out(2 * N, '0');
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
  return out;
}

template <std::size_t N>
bool NotZero(const std::array<std::uint8_t, N>& bytes) {
  return std::any_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b != 0; });
}

base::Rng& ThreadRng() {
  thread_local base::Rng rng(base::SeedFromOs());
  return rng;
}

template <std::size_t N>
void FillRandom(std::array<std::uint8_t, N>& bytes) {
  do {
    for (std::size_t i = 0; i < N; i += 8) {
      std::uint64_t word = ThreadRng().Next();
      for (std::size_t j = i; j < i + 8 && j < N; ++j, word >>= 8) {
        bytes[j] = static_cast<std::uint8_t>(word);
      }
    }
  } while (!NotZero(bytes));
}

}  // namespace

bool TraceId::valid() const { return NotZero(bytes); }
std::string TraceId::Hex() const { return ToHex(bytes); }
bool SpanId::valid() const { return NotZero(bytes); }
std::string SpanId::Hex() const { return ToHex(bytes); }

std::optional<ParentContext> ParseTraceparent(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  constexpr std::size_t kLength = 55;
  if (header.size() < kLength) return std::nullopt;
  std::array<std::uint8_t, 1> version{};
  if (!ParseHex(header.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
  if (version[0] == 0 ? header.size() != kLength
                      : header.size() > kLength && header[kLength] != '-') {
    return std::nullopt;
  }
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  ParentContext parent;
  std::array<std::uint8_t, 1> flags{};
  if (!ParseHex(header.substr(3, 32), parent.trace_id.bytes) ||
      !ParseHex(header.substr(36, 16), parent.span_id.bytes) ||
      !ParseHex(header.substr(53, 2), flags)) {
    return std::nullopt;
  }
  if (!parent.trace_id.valid() || !parent.span_id.valid()) return std::nullopt;
  parent.sampled = (flags[0] & 0x01) != 0;
  return parent;
}

std::string FormatTraceparent(const TraceId& trace_id, const SpanId& span_id, bool sampled) {
  return "00-" + trace_id.Hex() + "-" + span_id.Hex() + (sampled ? "-01" : "-00");
}

bool IsValidTracestate(std::string_view header) {
  constexpr std::size_t kBytesMax = 512;
  constexpr std::size_t kMembersMax = 32;
  if (header.empty() || header.size() > kBytesMax) return false;
  std::size_t members = 1;
  for (const char c : header) {
    if (c == ',') ++members;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return members <= kMembersMax;
}

TraceId NewTraceId() {
  TraceId id;
  FillRandom(id.bytes);
  return id;
}

SpanId NewSpanId() {
  SpanId id;
  FillRandom(id.bytes);
  return id;
}

}  // namespace fs::trace
