// SHA-256 and HMAC-SHA256 (OpenSSL's implementation): the audit chain's hash, device
// fingerprints, and the HMAC of JWTs, queue passes and webhook signatures.
//
// Every request hashes at least twice (the JWT's HMAC, the device fingerprint) and every
// audited decision once more on the writer, so these run OpenSSL's SHA-256 block function
// through its plain-struct interface: OpenSSL 3's EVP layer allocates a provider context on
// every digest initialization, which cost more than hashing a 300-byte message itself
// (docs/benchmarks.md, "CPU per request").
//
// Thread-safety: free functions are pure; Sha256 is a value (one per thread of use);
// HmacSha256Key::Sign() is const and safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace fs::crypto {

inline constexpr std::size_t kSha256DigestBytes = 32;
using Sha256Digest = std::array<unsigned char, kSha256DigestBytes>;

// An incremental SHA-256. A copy continues from the same state (HMAC's prepared pads).
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view bytes);
  void Update(const unsigned char* bytes, std::size_t size);
  // The digest of everything given so far. REQUIRES: called once; the object is spent after.
  Sha256Digest Finish();

 private:
  // Layout of OpenSSL's SHA256_CTX (checked by static_assert in the .cc): a plain struct, so
  // copying the object copies the state.
  alignas(8) std::array<unsigned char, 112> state_;
};

Sha256Digest Sha256Of(std::string_view bytes);
// 64 lower-case hex characters.
std::string Sha256Hex(std::string_view bytes);
std::string ToHex(const Sha256Digest& digest);

// HMAC-SHA256 under one fixed key, with the key's inner and outer pad blocks hashed once at
// construction (RFC 2104): a signature then costs the message's blocks plus two.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  Sha256Digest Sign(std::string_view data) const;

 private:
  Sha256 inner_;  // after (key XOR ipad)
  Sha256 outer_;  // after (key XOR opad)
};

}  // namespace fs::crypto
