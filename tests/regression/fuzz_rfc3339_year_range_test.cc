// Goal: RFC 3339 times whose offset or leap second carries them out of years 0000-9999 are
// refused. rfc3339_fuzzer found that "9999-12-31 23:59:60z" parsed to 10000-01-01, which
// FormatRfc3339 wrote as "10000-01-01T00:00:00.000Z", text the parser then refused: a sale
// accepted with such an ends_at was shown with a time no client could send back. The inputs
// are also replayed through the fuzz target (fuzz/rfc3339/).

#include <gtest/gtest.h>

#include "base/time_format.h"

namespace fs::base {
namespace {

TEST(FuzzRfc3339YearRangeTest, InstantsOutsideFourDigitYearsAreRefused) {
  for (const char* outside :
       {"9999-12-31 23:59:60z", "9999-12-31T23:59:60.000Z", "9999-12-31T23:00:00-01:00",
        "0000-01-01T00:00:00+01:00", "0000-01-01T00:00:00.999+00:01"}) {
    EXPECT_FALSE(ParseRfc3339(outside).has_value()) << outside;
  }
}

TEST(FuzzRfc3339YearRangeTest, TheFirstAndLastInstantsStillRoundTrip) {
  for (const char* edge : {"0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"}) {
    const auto parsed = ParseRfc3339(edge);
    ASSERT_TRUE(parsed.has_value()) << edge;
    EXPECT_EQ(FormatRfc3339(*parsed), edge);
  }
  const auto offset = ParseRfc3339("0000-01-01T01:00:00+01:00");
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(FormatRfc3339(*offset), "0000-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace fs::base
