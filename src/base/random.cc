#include "base/random.h"

#include <cstdio>

namespace fs::base {

std::uint64_t SeedFromOs() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

namespace {

std::string FormatUuid(std::uint64_t hi, std::uint64_t lo) {
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

}  // namespace

std::string NewUuid(Rng& rng) {
  std::uint64_t hi = rng.Next();
  std::uint64_t lo = rng.Next();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return FormatUuid(hi, lo);
}

std::string NewUuidV7(Rng& rng, std::int64_t unix_millis) {
  const std::uint64_t millis = static_cast<std::uint64_t>(unix_millis) & 0xFFFFFFFFFFFFULL;
  std::uint64_t hi = (millis << 16) | (rng.Next() & 0x0FFFULL) | 0x7000ULL;  // version 7
  std::uint64_t lo = (rng.Next() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return FormatUuid(hi, lo);
}

}  // namespace fs::base
