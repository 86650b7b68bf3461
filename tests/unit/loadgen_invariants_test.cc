// Goal: the load generator's end-of-run judgement catches oversell, counters that do not add
// up, an unclean reconciliation and a user over the limit, and reports a missing
// reconciliation endpoint as "not available" rather than as a failure.
#include <gtest/gtest.h>

#include "tools/loadgen/invariants.h"

namespace fs::loadgen {
namespace {

const InvariantCheck& Find(const std::vector<InvariantCheck>& checks, std::string_view name) {
  for (const auto& check : checks) {
    if (check.name == name) return check;
  }
  static const InvariantCheck kMissing{"missing", Verdict::kFail, ""};
  ADD_FAILURE() << "no check named " << name;
  return kMissing;
}

InvariantInput Healthy() {
  InvariantInput input;
  input.counters = AdminCounters{100, 10, 30, 60, 1};
  input.units_by_user = {{"a", 1}, {"b", 1}, {"c", 0}};
  input.client_units_held_or_sold = 90;
  return input;
}

TEST(LoadgenInvariantsTest, HealthyRunPassesAndReconciliationIsNotAvailable) {
  const auto checks = CheckInvariants(Healthy());
  EXPECT_TRUE(NoneFailed(checks));
  EXPECT_EQ(Find(checks, "no oversell").verdict, Verdict::kPass);
  EXPECT_EQ(Find(checks, "counters add up").verdict, Verdict::kPass);
  EXPECT_EQ(Find(checks, "no user over the limit").verdict, Verdict::kPass);
  EXPECT_EQ(Find(checks, "counters = rows (reconciliation)").verdict, Verdict::kNotAvailable);
}

TEST(LoadgenInvariantsTest, OversoldCountersFail) {
  auto input = Healthy();
  input.counters = AdminCounters{100, -1, 41, 60, 1};
  const auto checks = CheckInvariants(input);
  EXPECT_EQ(Find(checks, "no oversell").verdict, Verdict::kFail);
  EXPECT_FALSE(NoneFailed(checks));
}

TEST(LoadgenInvariantsTest, ClientSawMoreGrantsThanStock) {
  auto input = Healthy();
  input.client_units_held_or_sold = 101;
  EXPECT_EQ(Find(CheckInvariants(input), "no oversell").verdict, Verdict::kFail);
}

TEST(LoadgenInvariantsTest, CountersThatDoNotAddUpFail) {
  auto input = Healthy();
  input.counters = AdminCounters{100, 11, 30, 60, 1};
  const auto checks = CheckInvariants(input);
  EXPECT_EQ(Find(checks, "counters add up").verdict, Verdict::kFail);
  EXPECT_EQ(Find(checks, "no oversell").verdict, Verdict::kPass);
}

TEST(LoadgenInvariantsTest, UserOverTheLimitFails) {
  auto input = Healthy();
  input.units_by_user["greedy"] = 2;
  const auto check = Find(CheckInvariants(input), "no user over the limit");
  EXPECT_EQ(check.verdict, Verdict::kFail);
  EXPECT_NE(check.detail.find("greedy"), std::string::npos);
  input.counters->per_user_limit = 2;
  EXPECT_EQ(Find(CheckInvariants(input), "no user over the limit").verdict, Verdict::kPass);
}

TEST(LoadgenInvariantsTest, MissingCountersAreNotAvailableNotPass) {
  InvariantInput input;
  const auto checks = CheckInvariants(input);
  EXPECT_EQ(Find(checks, "no oversell").verdict, Verdict::kNotAvailable);
  EXPECT_EQ(Find(checks, "counters add up").verdict, Verdict::kNotAvailable);
  EXPECT_TRUE(NoneFailed(checks));
}

TEST(LoadgenInvariantsTest, ReconciliationVerdicts) {
  auto input = Healthy();
  input.reconciliation_availability = ReconciliationAvailability::kRead;
  input.reconciliation = *ParseReconciliation(R"({"oversell":0,"mismatches":[]})");
  EXPECT_TRUE(NoneFailed(CheckInvariants(input)));
  EXPECT_EQ(Find(CheckInvariants(input), "counters = rows (reconciliation)").verdict,
            Verdict::kPass);

  input.reconciliation = *ParseReconciliation(R"({"oversell":0,"mismatches":[{"field":"x"}]})");
  EXPECT_EQ(Find(CheckInvariants(input), "counters = rows (reconciliation)").verdict,
            Verdict::kFail);

  input.reconciliation =
      *ParseReconciliation(R"({"mismatches":["held: counter 3, rows 2"],"consistent":false})");
  const auto named = Find(CheckInvariants(input), "counters = rows (reconciliation)");
  EXPECT_EQ(named.verdict, Verdict::kFail);
  EXPECT_NE(named.detail.find("held: counter 3, rows 2"), std::string::npos) << named.detail;

  input.reconciliation = *ParseReconciliation(R"({"oversell":2,"ok":true})");
  EXPECT_EQ(Find(CheckInvariants(input), "no oversell").verdict, Verdict::kFail);

  input.reconciliation = *ParseReconciliation(R"({"consistent":false})");
  EXPECT_EQ(Find(CheckInvariants(input), "counters = rows (reconciliation)").verdict,
            Verdict::kFail);

  input.reconciliation_availability = ReconciliationAvailability::kFailed;
  EXPECT_FALSE(NoneFailed(CheckInvariants(input)));
}

TEST(LoadgenInvariantsTest, ParseAdminCounters) {
  const auto counters = ParseAdminCounters(
      R"({"sku_id":"s","total_stock":10,"per_user_limit":2,"available":3,"reserved":4,)"
      R"("sold":3,"status":"OPEN"})");
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->total_stock, 10);
  EXPECT_EQ(counters->available, 3);
  EXPECT_EQ(counters->reserved, 4);
  EXPECT_EQ(counters->sold, 3);
  EXPECT_EQ(counters->per_user_limit, 2);
  EXPECT_FALSE(ParseAdminCounters(R"({"total_stock":10,"available":3})").has_value());
  EXPECT_FALSE(ParseAdminCounters(R"({"total_stock":"10","available":3,"reserved":0,)"
                                  R"("sold":0})")
                   .has_value());
  EXPECT_FALSE(ParseAdminCounters("not json").has_value());
  EXPECT_FALSE(ParseReconciliation("[1]").has_value());
}

}  // namespace
}  // namespace fs::loadgen
