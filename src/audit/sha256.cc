#include "audit/sha256.h"

#include <openssl/sha.h>

#include "base/check.h"

namespace fs::audit {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  // One-shot SHA256() cannot fail for in-memory input; it returns the digest pointer.
  const unsigned char* done =
      SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  FS_CHECK(done != nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (std::size_t i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace fs::audit
