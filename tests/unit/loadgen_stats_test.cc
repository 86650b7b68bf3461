// Goal: the load generator's percentile math (nearest rank), merging of per-thread results,
// and the JSON report carry the right numbers.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "tools/loadgen/report.h"
#include "tools/loadgen/stats.h"

namespace fs::loadgen {
namespace {

TEST(LoadgenStatsTest, EmptyIsZero) {
  LatencyStats stats;
  EXPECT_EQ(stats.Percentile(50), 0);
  EXPECT_EQ(stats.Max(), 0);
  EXPECT_EQ(stats.count(), 0u);
}

TEST(LoadgenStatsTest, NearestRankOnOneToHundred) {
  LatencyStats stats;
  for (int i = 100; i >= 1; --i) stats.Record(i);  // unsorted on purpose
  EXPECT_EQ(stats.Percentile(50), 50);
  EXPECT_EQ(stats.Percentile(90), 90);
  EXPECT_EQ(stats.Percentile(95), 95);
  EXPECT_EQ(stats.Percentile(99), 99);
  EXPECT_EQ(stats.Percentile(99.9), 100);  // ceil(99.9) = 100th sample
  EXPECT_EQ(stats.Percentile(100), 100);
  EXPECT_EQ(stats.Max(), 100);
}

TEST(LoadgenStatsTest, SmallSampleRoundsUp) {
  LatencyStats stats;
  for (double v : {5.0, 1.0, 3.0}) stats.Record(v);
  EXPECT_EQ(stats.Percentile(1), 1);
  EXPECT_EQ(stats.Percentile(33.3), 1);
  EXPECT_EQ(stats.Percentile(34), 3);
  EXPECT_EQ(stats.Percentile(50), 3);
  EXPECT_EQ(stats.Percentile(67), 5);
}

TEST(LoadgenStatsTest, OneOutlierInAThousandShowsOnlyAtTheTail) {
  LatencyStats stats;
  for (int i = 0; i < 999; ++i) stats.Record(1);
  stats.Record(500);
  EXPECT_EQ(stats.Percentile(99), 1);
  EXPECT_EQ(stats.Percentile(99.9), 1);
  EXPECT_EQ(stats.Percentile(99.95), 500);
  EXPECT_EQ(stats.Max(), 500);
}

TEST(LoadgenStatsTest, RecordAfterPercentileResorts) {
  LatencyStats stats;
  stats.Record(10);
  EXPECT_EQ(stats.Max(), 10);
  stats.Record(20);
  stats.Record(1);
  EXPECT_EQ(stats.Max(), 20);
  EXPECT_EQ(stats.Percentile(1), 1);
}

TEST(LoadgenStatsTest, MergeCombinesThreads) {
  RunStats a;
  RunStats b;
  a.endpoints["reserve"].latency.Record(1);
  a.endpoints["reserve"].status_count[201] = 1;
  b.endpoints["reserve"].latency.Record(9);
  b.endpoints["reserve"].status_count[201] = 2;
  b.endpoints["reserve"].error_code_count["SOLD_OUT"] = 4;
  b.endpoints["checkout"].transport_errors = 3;
  a.units = {1, 2};
  b.units = {10, 20};
  a.units_by_user["u1"] = 1;
  b.units_by_user["u1"] = 1;
  a.order_settled.Record(700);
  b.order_settled.Record(2100);
  a.Merge(b);
  EXPECT_EQ(a.endpoints["reserve"].latency.count(), 2u);
  EXPECT_EQ(a.endpoints["reserve"].latency.Max(), 9);
  EXPECT_EQ(a.endpoints["reserve"].status_count[201], 3u);
  EXPECT_EQ(a.endpoints["reserve"].error_code_count["SOLD_OUT"], 4u);
  EXPECT_EQ(a.endpoints["checkout"].transport_errors, 3u);
  EXPECT_EQ(a.units.honest, 11u);
  EXPECT_EQ(a.units.bots, 22u);
  EXPECT_EQ(a.units_by_user["u1"], 2);
  EXPECT_EQ(a.order_settled.count(), 2u);
  EXPECT_EQ(a.order_settled.Max(), 2100);
}

TEST(LoadgenStatsTest, JsonReportHasPercentilesStatusesAndInvariants) {
  RunSummary summary;
  summary.config.scenario = Scenario::kContest;
  summary.elapsed_seconds = 2;
  for (int i = 1; i <= 100; ++i) summary.stats.endpoints["reserve-honest"].latency.Record(i);
  summary.stats.endpoints["reserve-honest"].status_count[201] = 60;
  summary.stats.endpoints["reserve-honest"].status_count[409] = 40;
  summary.stats.units = {60, 7};
  for (int i = 1; i <= 20; ++i) summary.stats.order_settled.Record(100.0 * i);
  summary.sold_out_after_seconds = 1.5;
  summary.invariants = {{"no oversell", Verdict::kPass, ""},
                        {"counters = rows (reconciliation)", Verdict::kNotAvailable, ""}};
  const std::string json = RenderJson(summary);
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  const auto& e = d["endpoints"]["reserve-honest"];
  EXPECT_EQ(e["requests"].GetUint64(), 100u);
  EXPECT_DOUBLE_EQ(e["rps"].GetDouble(), 50);
  EXPECT_DOUBLE_EQ(e["p95_ms"].GetDouble(), 95);
  EXPECT_DOUBLE_EQ(e["p999_ms"].GetDouble(), 100);
  EXPECT_EQ(e["status"]["409"].GetUint64(), 40u);
  EXPECT_EQ(d["units"]["bots"].GetUint64(), 7u);
  EXPECT_DOUBLE_EQ(d["sold_out_after_seconds"].GetDouble(), 1.5);
  EXPECT_EQ(d["order_settled"]["orders"].GetUint64(), 20u);
  EXPECT_DOUBLE_EQ(d["order_settled"]["p95_ms"].GetDouble(), 1900);
  EXPECT_TRUE(d["invariants"]["ok"].GetBool());
  EXPECT_STREQ(d["invariants"]["checks"][1]["verdict"].GetString(), "not available");
  EXPECT_NE(RenderTable(summary).find("units: honest 60, bots 7"), std::string::npos);
  EXPECT_NE(RenderTable(summary).find("checkout to final order status: 20 orders, p50 1000 ms"),
            std::string::npos);
}

}  // namespace
}  // namespace fs::loadgen

namespace fs::loadgen {
namespace {

TEST(LoadgenStatsTest, TimelineKeepsEachSecondApartAndMerges) {
  EndpointStats a;
  a.RecordAnswer(0, 5);
  a.RecordAnswer(2, 700);
  a.RecordAnswer(2, 900);
  EndpointStats b;
  b.RecordAnswer(1, 10);
  b.RecordAnswer(kTimelineSecondsMax + 50, 1);  // folded into the last second
  a.Merge(b);
  ASSERT_EQ(a.by_second.size(), kTimelineSecondsMax);
  EXPECT_EQ(a.by_second[0].count(), 1u);
  EXPECT_EQ(a.by_second[1].count(), 1u);
  EXPECT_EQ(a.by_second[2].count(), 2u);
  EXPECT_EQ(a.by_second[2].Percentile(50), 700);
  EXPECT_EQ(a.by_second[2].Max(), 900);
  EXPECT_EQ(a.by_second[3].count(), 0u);
  EXPECT_EQ(a.by_second[kTimelineSecondsMax - 1].count(), 1u);
  EXPECT_EQ(a.latency.count(), 5u);  // the whole run still holds every answer
}

}  // namespace
}  // namespace fs::loadgen
