// SHA-256 and HMAC-SHA256 of crypto/sha256.h against the standard vectors (FIPS 180-2,
// RFC 4231), including inputs that span blocks and states continued from a copy.
#include <gtest/gtest.h>

#include <string>

#include "crypto/sha256.h"

namespace fs::crypto {
namespace {

TEST(Sha256Test, MatchesTheStandardVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding needs a second block.
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalUpdatesAndCopiesGiveTheSameDigest) {
  const std::string message(300, 'x');
  const Sha256Digest whole = Sha256Of(message);
  for (std::size_t split : {0, 1, 63, 64, 65, 200, 300}) {
    Sha256 hash;
    hash.Update(std::string_view(message).substr(0, split));
    Sha256 copy = hash;  // continues from the same state
    hash.Update(std::string_view(message).substr(split));
    copy.Update(std::string_view(message).substr(split));
    EXPECT_EQ(hash.Finish(), whole) << split;
    EXPECT_EQ(copy.Finish(), whole) << split;
  }
  EXPECT_NE(Sha256Of("abd"), Sha256Of("abc"));
  EXPECT_EQ(ToHex(Sha256Of("abc")), Sha256Hex("abc"));
}

TEST(HmacSha256KeyTest, MatchesRfc4231AndIsReusable) {
  const HmacSha256Key key("Jefe");
  for (int i = 0; i < 3; ++i) {  // the prepared states are not consumed by a signature
    EXPECT_EQ(ToHex(key.Sign("what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  // Test case 7: a 131-byte key and a message of several blocks.
  const HmacSha256Key long_key(std::string(131, '\xaa'));
  EXPECT_EQ(ToHex(long_key.Sign(
                "This is a test using a larger than block-size key and a larger than block-size "
                "data. The key needs to be hashed before being used by the HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

}  // namespace
}  // namespace fs::crypto
