// Goal: the HMAC-SHA256 with precomputed pads gives the RFC 4231 answers (short, long and
// hashed keys), the signer mints the standard token bytes, and the JWT check accepts exactly
// the tokens it signed: a changed payload, signature or algorithm, an expired token or a bad
// subject is refused, from many threads at once through one shared verifier.
#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"

namespace fs::auth {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

TEST(HmacSha256Test, Rfc4231Vectors) {
  // Test case 1: 20-byte key.
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: short key.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a 131-byte key is hashed first.
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'),
                           "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // A 64-byte key (exactly one block) is used as is.
  const crypto::HmacSha256Key key(std::string(64, 'k'));
  const auto mac = key.Sign("abc");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(mac.data()), mac.size()),
            HmacSha256(std::string(64, 'k'), "abc"));
}

TEST(JwtVerifierTest, AcceptsItsOwnTokensAndRefusesAlteredOnes) {
  const base::Time now = base::TimeFromMillis(1'800'000'000'000);
  const JwtVerifier verifier("secret-one");
  const std::string token = SignHs256({"user-1", 1'800'000'060, "premium"}, "secret-one");

  VerifyResult ok = verifier.Verify(token, now);
  ASSERT_EQ(ok.error, JwtError::kOk);
  EXPECT_EQ(ok.claims.subject, "user-1");
  EXPECT_EQ(ok.claims.tier, "premium");
  EXPECT_EQ(VerifyHs256(token, "secret-one", now).error, JwtError::kOk);

  EXPECT_EQ(JwtVerifier("secret-two").Verify(token, now).error, JwtError::kBadSignature);
  std::string altered = token;
  altered[token.find('.') + 3] ^= 1;  // one payload character
  EXPECT_NE(verifier.Verify(altered, now).error, JwtError::kOk);
  std::string bad_signature = token;
  bad_signature.back() = bad_signature.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifier.Verify(bad_signature, now).error, JwtError::kBadSignature);
  EXPECT_EQ(verifier.Verify(token, base::TimeFromMillis(1'800'000'060'000)).error,
            JwtError::kExpired);
  const std::string none = Base64UrlEncode(R"({"alg":"none"})") + "." +
                           token.substr(token.find('.') + 1, std::string::npos);
  EXPECT_EQ(verifier.Verify(none, now).error, JwtError::kUnsupportedAlgorithm);
  EXPECT_EQ(verifier.Verify(SignHs256({"", 1'800'000'060, ""}, "secret-one"), now).error,
            JwtError::kInvalidSubject);
}

// The subject becomes the user id stored in every row and audit event: text any store, JSON
// string or log line takes as it is (1-255 bytes of UTF-8 without control characters).
TEST(JwtVerifierTest, SubjectIsPrintableUtf8OfAtMost255Bytes) {
  const base::Time now = base::TimeFromMillis(1'800'000'000'000);
  const JwtVerifier verifier("secret-one");
  const auto verify = [&](const std::string& subject) {
    return verifier.Verify(SignHs256({subject, 1'800'000'060, ""}, "secret-one"), now).error;
  };
  EXPECT_EQ(verify("jos\xc3\xa9"), JwtError::kOk);
  EXPECT_EQ(verify(std::string(255, 'u')), JwtError::kOk);
  EXPECT_EQ(verify(std::string(256, 'u')), JwtError::kInvalidSubject);
  for (const std::string& bad :
       {std::string("\xff"), std::string("caf\xe9"), std::string("a\x01"), std::string("a\x7f"),
        std::string("a\xc2\x85"),        // C1 control (NEL)
        std::string("\xc0\xaf"),         // overlong '/'
        std::string("\xed\xa0\x80")}) {  // surrogate
    EXPECT_EQ(verify(bad), JwtError::kInvalidSubject) << Hex(bad);
  }
}

TEST(JwtSignerTest, MintsTheStandardTokenBytes) {
  // Expected tokens computed independently (Python hmac + base64url) for these claims.
  const JwtSigner signer("secret-one");
  const Claims plain{"lg4242-u17", 1'800'000'060, ""};
  const std::string plain_token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsZzQyNDItdTE3IiwiZXhwIjoxODAwMDAwMDYwfQ."
      "HGZSz--22WYgCYh_UWi9TByRItCH6Vypm-XYxYDXtgM";
  EXPECT_EQ(signer.Sign(plain), plain_token);
  EXPECT_EQ(signer.Sign(plain), plain_token);  // the prepared key is not consumed by a call
  EXPECT_EQ(SignHs256(plain, "secret-one"), plain_token);
  const Claims tiered{"user-1", 1'800'000'060, "premium"};
  EXPECT_EQ(signer.Sign(tiered),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
            "eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE4MDAwMDAwNjAsInRpZXIiOiJwcmVtaXVtIn0."
            "Ra1Cn2KFikOh76YPSWOwSLr7yETw0uM73-3yr4GnrRg");
  EXPECT_NE(JwtSigner("secret-two").Sign(plain), plain_token);
}

TEST(JwtVerifierTest, OneVerifierServesManyThreadsAtOnce) {
  const base::Time now = base::TimeFromMillis(1'800'000'000'000);
  const JwtVerifier verifier("shared-secret");
  std::vector<std::string> tokens;
  for (int i = 0; i < 64; ++i) {
    tokens.push_back(SignHs256({"user-" + std::to_string(i), 1'800'000'060, ""},
                               i % 2 == 0 ? "shared-secret" : "other-secret"));
  }
  std::atomic<int> accepted{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
          const VerifyResult result = verifier.Verify(tokens[i], now);
          const bool should_pass = i % 2 == 0;
          if ((result.error == JwtError::kOk) != should_pass) wrong.fetch_add(1);
          if (result.error == JwtError::kOk) {
            if (result.claims.subject != "user-" + std::to_string(i)) wrong.fetch_add(1);
            accepted.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(accepted.load(), 4 * 200 * 32);
}

}  // namespace
}  // namespace fs::auth
