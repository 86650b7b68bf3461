// Goal: the HMAC-SHA256 with precomputed pads gives the RFC 4231 answers (short, long and
// hashed keys), the signer mints the standard token bytes, and the JWT check accepts exactly
// the tokens it signed: a changed payload, signature or algorithm, an expired token or a bad
// subject is refused, from many threads at once through one shared verifier.
#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
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

// A token over any payload, signed with `secret` (what an identity provider might send).
std::string TokenOf(std::string_view payload_json, std::string_view secret) {
  const std::string input =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(payload_json);
  return input + "." + Base64UrlEncode(HmacSha256(secret, input));
}

// exp is required as integer seconds in the int64 range: a fraction, 1e300 or a number past
// int64 is refused, never cast. nbf and iat later than now plus the leeway are refused.
TEST(JwtVerifierTest, TimesAreIntegersAndHonoured) {
  const base::Time now = base::TimeFromMillis(1'800'000'000'000);  // 1,800,000,000 s
  const JwtVerifier verifier("secret-one", VerifyOptions{std::chrono::seconds(30), "", ""});
  const auto verify = [&](std::string_view payload) {
    return verifier.Verify(TokenOf(payload, "secret-one"), now).error;
  };
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060})"), JwtError::kOk);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000000})"), JwtError::kExpired);
  for (const char* bad_exp : {R"({"sub":"u","exp":1800000060.5})", R"({"sub":"u","exp":1e300})",
                              R"({"sub":"u","exp":99999999999999999999})",
                              R"({"sub":"u","exp":"1800000060"})", R"({"sub":"u"})"}) {
    EXPECT_EQ(verify(bad_exp), JwtError::kMissingExpiry) << bad_exp;
  }
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"nbf":1800000030})"), JwtError::kOk);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000600,"nbf":1800000031})"), JwtError::kNotYetValid);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"iat":1799999000})"), JwtError::kOk);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000600,"iat":1800000100})"), JwtError::kNotYetValid);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"nbf":1.5})"), JwtError::kMalformed);
}

TEST(JwtVerifierTest, IssuerAndAudienceWhenConfigured) {
  const base::Time now = base::TimeFromMillis(1'800'000'000'000);
  const JwtVerifier verifier("k", VerifyOptions{std::chrono::seconds(0), "https://id", "shop"});
  const auto verify = [&](std::string_view payload) {
    return verifier.Verify(TokenOf(payload, "k"), now).error;
  };
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"iss":"https://id","aud":"shop"})"),
            JwtError::kOk);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"iss":"https://id","aud":["x","shop"]})"),
            JwtError::kOk);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"iss":"https://evil","aud":"shop"})"),
            JwtError::kWrongIssuer);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"aud":"shop"})"), JwtError::kWrongIssuer);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"iss":"https://id","aud":"other"})"),
            JwtError::kWrongAudience);
  EXPECT_EQ(verify(R"({"sub":"u","exp":1800000060,"iss":"https://id"})"), JwtError::kWrongAudience);
  // Without configuration neither claim is looked at.
  EXPECT_EQ(
      JwtVerifier("k").Verify(TokenOf(R"({"sub":"u","exp":1800000060,"iss":"x"})", "k"), now).error,
      JwtError::kOk);
}

// Every byte string has one base64url form: trailing bits must be zero, no padding.
TEST(JwtBase64UrlTest, OnlyCanonicalFormsDecode) {
  EXPECT_EQ(Base64UrlDecode("QQ"), std::optional<std::string>("A"));
  EXPECT_FALSE(Base64UrlDecode("QR").has_value());  // same byte, non-zero trailing bits
  EXPECT_EQ(Base64UrlDecode("QUI"), std::optional<std::string>("AB"));
  EXPECT_FALSE(Base64UrlDecode("QUJ").has_value());
  EXPECT_FALSE(Base64UrlDecode("QQ==").has_value());
  const base::Time now = base::TimeFromMillis(1'800'000'000'000);
  std::string token = SignHs256({"user-1", 1'800'000'060, ""}, "s");
  ASSERT_EQ(VerifyHs256(token, "s", now).error, JwtError::kOk);
  // The signature's last character carries 2 unused bits: setting one keeps the bytes but
  // must not be accepted.
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::size_t last = kAlphabet.find(token.back());
  ASSERT_NE(last, std::string_view::npos);
  token.back() = kAlphabet[last | 1];
  EXPECT_NE(VerifyHs256(token, "s", now).error, JwtError::kOk);
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
