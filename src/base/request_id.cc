#include "base/request_id.h"

#include "base/random.h"

namespace fs::base {

bool IsValidRequestId(std::string_view text) {
  if (text.empty()) return false;
  if (text.size() > kRequestIdBytesMax) return false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7E) return false;
  }
  return true;
}

std::string RequestIdOf(std::optional<std::string_view> given) {
  if (given && IsValidRequestId(*given)) return std::string(*given);
  thread_local Rng rng(SeedFromOs());
  return NewUuid(rng);
}

}  // namespace fs::base
