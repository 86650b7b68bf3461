// Goal: the JWT verifier (header, claims, signature, base64url) never crashes on any token,
// never accepts a token under a secret that did not sign it, and accepts only claims that keep
// its contract (a printable subject of at most kUserIdBytesMax bytes, exp in the future, an
// e-mail claim that is a plain address or nothing). Round trips: sign -> verify -> the same
// claims; base64url encode -> decode -> the same bytes, and a text that decodes is the one
// canonical encoding of what it decodes to.
//
// Input: a token ("header.payload.signature"); its bytes are also signed as claims.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/jwt.h"
#include "base/check.h"
#include "base/email_address.h"
#include "base/time_format.h"
#include "base/utf8.h"
#include "core/rules.h"

namespace fs::auth {
namespace {

// The secret of the seed tokens (tests/fuzz/corpus/jwt), and one that signed none of them.
constexpr std::string_view kSecret = "fuzz-jwt-secret";
constexpr std::string_view kOtherSecret = "fuzz-jwt-secret-other";

base::Time Now() {
  static const base::Time now = *base::ParseRfc3339("2026-06-01T12:00:00Z");
  return now;
}

void CheckAcceptedClaims(const VerifyResult& result) {
  if (result.error != JwtError::kOk) return;
  const Claims& claims = result.claims;
  FS_CHECK(!claims.subject.empty());
  FS_CHECK(claims.subject.size() <= core::kUserIdBytesMax);
  FS_CHECK(base::IsPrintableUtf8(claims.subject));
  FS_CHECK(claims.expires_at_seconds > base::ToMillis(Now()) / 1000);
  FS_CHECK(claims.email.empty() || base::IsValidEmailAddress(claims.email));
}

void VerifyToken(std::string_view token) {
  static const JwtVerifier verifier(kSecret);
  static const JwtVerifier strict(
      kSecret, VerifyOptions{std::chrono::seconds(30), "fuzz-issuer", "fuzz-audience"});
  static const JwtVerifier other(kOtherSecret);
  const VerifyResult result = verifier.Verify(token, Now());
  CheckAcceptedClaims(result);
  // The one-shot function answers what the prepared verifier does (checked on the tokens that
  // pass: preparing a key per input would halve the fuzzer's speed).
  if (result.error == JwtError::kOk) {
    const VerifyResult once = VerifyHs256(token, kSecret, Now());
    FS_CHECK(once.error == JwtError::kOk);
    FS_CHECK(once.claims.subject == result.claims.subject);
  }
  // Issuer and audience only ever refuse more.
  const VerifyResult strict_result = strict.Verify(token, Now());
  CheckAcceptedClaims(strict_result);
  if (strict_result.error == JwtError::kOk) FS_CHECK(result.error == JwtError::kOk);
  // A token signed under kSecret (or under nothing) never passes under another secret.
  FS_CHECK(other.Verify(token, Now()).error != JwtError::kOk);
  FS_CHECK(!JwtErrorMessage(result.error).empty() || result.error == JwtError::kOk);
}

// The input as claims: sign -> verify -> equal whenever the claims are valid.
void SignAndVerify(std::string_view bytes) {
  Claims claims;
  claims.subject = std::string(bytes.substr(0, core::kUserIdBytesMax + 8));
  claims.expires_at_seconds =
      base::ToMillis(Now()) / 1000 + 1 + static_cast<std::int64_t>(bytes.size());
  claims.tier = std::string(bytes.substr(0, 16));
  // Bounded so that the token stays under kTokenBytesMax even with every byte escaped.
  claims.email = std::string(bytes.substr(0, 128));
  static const JwtSigner signer(kSecret);
  static const JwtVerifier verifier(kSecret);
  static const JwtVerifier other(kOtherSecret);
  const std::string token = signer.Sign(claims);
  const VerifyResult result = verifier.Verify(token, Now());
  const bool valid_subject = !claims.subject.empty() &&
                             claims.subject.size() <= core::kUserIdBytesMax &&
                             base::IsPrintableUtf8(claims.subject);
  if (!valid_subject) {
    FS_CHECK(result.error == JwtError::kInvalidSubject);
    return;
  }
  FS_CHECK(result.error == JwtError::kOk);
  FS_CHECK(result.claims.subject == claims.subject);
  FS_CHECK(result.claims.expires_at_seconds == claims.expires_at_seconds);
  FS_CHECK(result.claims.tier == claims.tier);
  const bool valid_email = base::IsValidEmailAddress(claims.email);
  FS_CHECK(result.claims.email == (valid_email ? claims.email : std::string()));
  FS_CHECK(other.Verify(token, Now()).error == JwtError::kBadSignature);
  // The one-shot signer makes the same token (checked on one input in 32, for speed).
  if (claims.subject.size() % 32 == 0) FS_CHECK(SignHs256(claims, kSecret) == token);
}

void Base64Url(std::string_view bytes) {
  const std::string encoded = Base64UrlEncode(bytes);
  const auto decoded = Base64UrlDecode(encoded);
  FS_CHECK(decoded.has_value());
  FS_CHECK(*decoded == bytes);
  // Canonical only: whatever decodes is the encoding of its bytes.
  if (const auto text = Base64UrlDecode(bytes)) FS_CHECK(Base64UrlEncode(*text) == bytes);
}

}  // namespace
}  // namespace fs::auth

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::auth;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  VerifyToken(bytes);
  SignAndVerify(bytes);
  Base64Url(bytes);
  return 0;
}
