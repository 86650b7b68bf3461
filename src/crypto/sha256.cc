#include "crypto/sha256.h"

// SHA256_Init/Update/Final are marked deprecated in OpenSSL 3 in favour of EVP, but remain
// part of its API; they are what the EVP provider itself runs underneath (including the
// SHA-NI and AVX code paths). See the header for why we call them directly.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>
#include <new>
#include <type_traits>

#include "base/check.h"

namespace fs::crypto {
namespace {

static_assert(sizeof(SHA256_CTX) <= 112, "Sha256::state_ must hold an OpenSSL SHA256_CTX");
static_assert(alignof(SHA256_CTX) <= 8);

constexpr std::size_t kBlockBytes = 64;

static_assert(std::is_trivially_copyable_v<SHA256_CTX>, "copying Sha256 copies the state bytes");

// The SHA256_CTX that the constructor created in `state` (copies carry it along as bytes).
SHA256_CTX* Context(std::array<unsigned char, 112>& state) {
  return std::launder(reinterpret_cast<SHA256_CTX*>(state.data()));
}

}  // namespace

Sha256::Sha256() {
  state_.fill(0);
  ::new (state_.data()) SHA256_CTX{};
  // In-memory hashing cannot fail short of a broken libcrypto.
  FS_CHECK(SHA256_Init(Context(state_)) == 1);
}

void Sha256::Update(std::string_view bytes) {
  Update(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

void Sha256::Update(const unsigned char* bytes, std::size_t size) {
  FS_CHECK(SHA256_Update(Context(state_), bytes, size) == 1);
}

Sha256Digest Sha256::Finish() {
  Sha256Digest digest{};
  FS_CHECK(SHA256_Final(digest.data(), Context(state_)) == 1);
  return digest;
}

Sha256Digest Sha256Of(std::string_view bytes) {
  Sha256 hash;
  hash.Update(bytes);
  return hash.Finish();
}

std::string ToHex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * digest.size(), '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view bytes) { return ToHex(Sha256Of(bytes)); }

HmacSha256Key::HmacSha256Key(std::string_view key) {
  std::array<unsigned char, kBlockBytes> block{};
  if (key.size() > kBlockBytes) {
    // Longer keys are hashed first (RFC 2104 section 2).
    const Sha256Digest digest = Sha256Of(key);
    std::memcpy(block.data(), digest.data(), digest.size());
  } else {
    std::memcpy(block.data(), key.data(), key.size());
  }
  std::array<unsigned char, kBlockBytes> pad{};
  for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = block[i] ^ 0x36;
  inner_.Update(pad.data(), pad.size());
  for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = block[i] ^ 0x5c;
  outer_.Update(pad.data(), pad.size());
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
}

Sha256Digest HmacSha256Key::Sign(std::string_view data) const {
  Sha256 inner = inner_;
  inner.Update(data);
  const Sha256Digest inner_digest = inner.Finish();
  Sha256 outer = outer_;
  outer.Update(inner_digest.data(), inner_digest.size());
  return outer.Finish();
}

}  // namespace fs::crypto
