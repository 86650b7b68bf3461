// JSON Web Tokens for user authentication: HS256 only. Tokens with alg "none" or any other
// algorithm are refused, so a forged header cannot downgrade the check. The signature is
// compared in constant time; `exp` is required (an integer) and checked against the injected
// time; `nbf` and `iat`, when present, are honoured with a leeway; `iss` and `aud` are checked
// when the verifier is given them. Only canonical base64url is accepted.
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "crypto/sha256.h"

namespace fs::auth {

struct Claims {
  std::string subject;                  // "sub": the user id
  std::int64_t expires_at_seconds = 0;  // "exp": seconds since the Unix epoch
  std::string tier;                     // "tier": optional rate-limit tier, empty when absent
  // "email": the buyer's address for order e-mails (base::IsValidEmailAddress). Empty when
  // absent, not a string or not a plain address: such a claim never blocks a purchase, the
  // buyer just gets no e-mail.
  std::string email{};  // {}: aggregate initializations may leave it out
};

enum class JwtError : std::uint8_t {
  kOk,
  kMalformed,             // not three base64url parts of JSON objects
  kUnsupportedAlgorithm,  // header alg is not HS256 (including "none")
  kBadSignature,
  kExpired,
  kMissingExpiry,
  kInvalidSubject,  // missing, empty, over 255 bytes, not UTF-8, or with control characters
  kNotYetValid,     // `nbf` or `iat` later than now plus the leeway
  kWrongIssuer,     // `iss` is not the configured issuer
  kWrongAudience,   // `aud` does not name the configured audience
};

// What a verifier checks beyond the signature, `exp` and `sub`.
struct VerifyOptions {
  // Clock skew allowed for `nbf` and `iat` (a token minted by a clock slightly ahead).
  std::chrono::seconds leeway{0};
  std::string issuer;    // non-empty: `iss` must equal it
  std::string audience;  // non-empty: `aud` (a string, or an array of strings) must name it
};

struct VerifyResult {
  JwtError error = JwtError::kMalformed;
  Claims claims;  // valid only when error == kOk
};

// Tokens longer than this are refused before any decoding.
inline constexpr std::size_t kTokenBytesMax = 4096;

VerifyResult VerifyHs256(std::string_view token, std::string_view secret, base::Time now);

// VerifyHs256 with the secret's HMAC state prepared once (the server's per-request check).
// Thread-safety: Verify() is const and safe from any thread.
class JwtVerifier {
 public:
  explicit JwtVerifier(std::string_view secret, VerifyOptions options = {})
      : key_(secret), options_(std::move(options)) {}
  VerifyResult Verify(std::string_view token, base::Time now) const;

 private:
  crypto::HmacSha256Key key_;
  VerifyOptions options_;
};

// Mints HS256 tokens under one secret with the HMAC state prepared once (the load generator
// signs a token per request). Sign() returns exactly what SignHs256(claims, secret) returns.
// Thread-safety: Sign() is const and safe from any thread.
class JwtSigner {
 public:
  explicit JwtSigner(std::string_view secret) : key_(secret) {}
  std::string Sign(const Claims& claims) const;

 private:
  crypto::HmacSha256Key key_;
};

// Makes a token for `claims` (demo users, tests).
std::string SignHs256(const Claims& claims, std::string_view secret);

std::string_view JwtErrorMessage(JwtError error);

std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);
// HMAC-SHA256 of `data` under `key`, 32 raw bytes.
std::string HmacSha256(std::string_view key, std::string_view data);
// Equal-length-independent constant-time comparison.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace fs::auth
