// Goal: the load generator's open-loop arrival schedule puts every job at the intended time
// (constant rate, evenly over a window, and a linearly rising ramp), and scenario names parse.
#include <gtest/gtest.h>

#include "tools/loadgen/arrival.h"

namespace fs::loadgen {
namespace {

TEST(LoadgenArrivalTest, ConstantRateSpacesJobsByOneOverRate) {
  const auto schedule = ArrivalSchedule::ConstantRate(25'000);
  EXPECT_EQ(schedule.OffsetMicros(0), 0);
  EXPECT_EQ(schedule.OffsetMicros(1), 40);
  EXPECT_EQ(schedule.OffsetMicros(25'000), 1'000'000);
  EXPECT_EQ(schedule.OffsetMicros(250'000), 10'000'000);
}

TEST(LoadgenArrivalTest, WindowConstantSpreadsCountEvenly) {
  const auto schedule = ArrivalSchedule::OverWindow(1'000'000, 10, ArrivalShape::kConstant);
  EXPECT_EQ(schedule.OffsetMicros(0), 0);
  EXPECT_EQ(schedule.OffsetMicros(500'000), 5'000'000);
  EXPECT_EQ(schedule.OffsetMicros(999'999), 9'999'990);
}

TEST(LoadgenArrivalTest, LinearRampRisesQuadratically) {
  const auto schedule = ArrivalSchedule::OverWindow(100, 10, ArrivalShape::kLinearRamp);
  EXPECT_EQ(schedule.OffsetMicros(0), 0);
  // A quarter of the users have arrived after half the window; all of them at its end.
  EXPECT_EQ(schedule.OffsetMicros(25), 5'000'000);
  EXPECT_EQ(schedule.OffsetMicros(100), 10'000'000);
  // Later gaps are shorter: the rate rises.
  EXPECT_GT(schedule.OffsetMicros(2) - schedule.OffsetMicros(1),
            schedule.OffsetMicros(99) - schedule.OffsetMicros(98));
}

TEST(LoadgenArrivalTest, ZeroWindowSendsEveryoneAtOnce) {
  const auto schedule = ArrivalSchedule::OverWindow(10, 0, ArrivalShape::kConstant);
  EXPECT_EQ(schedule.OffsetMicros(9), 0);
}

TEST(LoadgenArrivalTest, ScheduleIsMonotonic) {
  for (const auto shape : {ArrivalShape::kConstant, ArrivalShape::kLinearRamp}) {
    const auto schedule = ArrivalSchedule::OverWindow(10'000, 3, shape);
    for (std::uint64_t i = 1; i < 10'000; ++i) {
      ASSERT_LE(schedule.OffsetMicros(i - 1), schedule.OffsetMicros(i)) << i;
    }
  }
}

TEST(LoadgenArrivalTest, ScenarioNamesParseAndReserveIsAnAlias) {
  EXPECT_EQ(ParseScenario("sale"), Scenario::kSale);
  EXPECT_EQ(ParseScenario("reserve-only"), Scenario::kReserveOnly);
  EXPECT_EQ(ParseScenario("reserve"), Scenario::kReserveOnly);
  EXPECT_EQ(ParseScenario("availability"), Scenario::kAvailability);
  EXPECT_EQ(ParseScenario("contest"), Scenario::kContest);
  EXPECT_EQ(ParseScenario("checkout"), Scenario::kCheckout);
  EXPECT_FALSE(ParseScenario("Sale").has_value());
  EXPECT_FALSE(ParseScenario("").has_value());
  EXPECT_EQ(ScenarioName(Scenario::kReserveOnly), "reserve-only");
}

}  // namespace
}  // namespace fs::loadgen
