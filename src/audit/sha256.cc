#include "audit/sha256.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <memory>

#include "base/check.h"

namespace fs::audit {
namespace {

// OpenSSL 3's one-shot SHA256() looks the algorithm up in the provider registry and allocates
// a context on every call: more than half the cost of hashing a ~250-byte audit event. The
// algorithm is fetched once per process and each thread reuses its own context.
const EVP_MD* Sha256Algorithm() {
  static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  FS_CHECK(algorithm != nullptr);
  return algorithm;
}

struct ContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

EVP_MD_CTX* ThreadContext() {
  thread_local const std::unique_ptr<EVP_MD_CTX, ContextDeleter> context(EVP_MD_CTX_new());
  FS_CHECK(context != nullptr);
  return context.get();
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  EVP_MD_CTX* context = ThreadContext();
  // In-memory digests of a fetched algorithm cannot fail short of memory corruption.
  const int initialized = EVP_DigestInit_ex2(context, Sha256Algorithm(), nullptr);
  FS_CHECK(initialized == 1);
  const int updated = EVP_DigestUpdate(context, bytes.data(), bytes.size());
  FS_CHECK(updated == 1);
  const int finished = EVP_DigestFinal_ex(context, digest, &length);
  FS_CHECK(finished == 1);
  FS_CHECK(length == SHA256_DIGEST_LENGTH);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (std::size_t i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace fs::audit
