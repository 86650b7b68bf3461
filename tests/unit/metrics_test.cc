// Goal: the metrics registry counts exactly (also under concurrent updates), puts each
// observation in the right histogram bucket (upper bounds inclusive, as Prometheus defines
// `le`), and renders valid Prometheus text format 0.0.4: HELP/TYPE lines, escaped label values,
// cumulative buckets ending in +Inf == _count, per-SKU stock series with oversell = max(0,
// held + sold - total), and only the request series that occurred.

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "metrics/flashsale_metrics.h"
#include "metrics/prometheus.h"

namespace fs::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(MetricsTest, CounterAndGauge) {
  Counter counter;
  counter.Increment();
  counter.Increment(41);
  EXPECT_EQ(counter.value(), 42u);
  Gauge gauge;
  gauge.Set(5);
  gauge.Add(-7);
  EXPECT_EQ(gauge.value(), -2);
}

TEST(MetricsTest, HistogramBucketsAreInclusiveUpperBounds) {
  constexpr std::array<double, 3> kBounds = {0.001, 0.01, 0.1};
  Histogram histogram(kBounds);
  histogram.Observe(microseconds(-5));         // clamped to 0 -> first bucket
  histogram.Observe(milliseconds(1));          // exactly on a bound: that bucket
  histogram.Observe(microseconds(1001));       // just above: next bucket
  histogram.Observe(milliseconds(100));        // last finite bound
  histogram.Observe(std::chrono::seconds(3));  // +Inf only
  const Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<std::uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(snapshot.count, 5u);
  EXPECT_NEAR(snapshot.sum_seconds, 0.001 + 0.001001 + 0.1 + 3.0, 1e-9);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  RequestCounters requests({"/a", "unmatched"});
  Histogram histogram(kReservationLatencyBucketsSeconds);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        requests.Increment(0, 201);
        histogram.Observe(microseconds(i));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(requests.value(0, 201), std::uint64_t{kThreads * kPerThread});
  EXPECT_EQ(requests.value(1, 201), 0u);
  EXPECT_EQ(histogram.Read().count, std::uint64_t{kThreads * kPerThread});
}

TEST(MetricsTest, RequestCountersRejectOutOfRangeIndexes) {
  RequestCounters requests({"/a"});
  requests.Increment(0, 100);
  requests.Increment(0, 599);
  EXPECT_EQ(requests.value(0, 599), 1u);
  EXPECT_DEATH(requests.Increment(1, 200), "route_index");
  EXPECT_DEATH(requests.Increment(0, 600), "status_code");
  EXPECT_DEATH(requests.Increment(0, 99), "status_code");
}

TEST(MetricsTest, TextFormatFamiliesLabelsAndEscaping) {
  TextWriter writer;
  writer.Family("x_total", "Things.", MetricType::kCounter);
  writer.SampleUnsigned("x_total", {}, 3);
  writer.SampleSigned("x_total", {{"a", "q\"uo\\te\nnl"}, {"b", "2"}}, -4);
  writer.SampleDouble("x_total", {{"a", "1"}}, 0.25);
  EXPECT_EQ(writer.text(),
            "# HELP x_total Things.\n"
            "# TYPE x_total counter\n"
            "x_total 3\n"
            "x_total{a=\"q\\\"uo\\\\te\\nnl\",b=\"2\"} -4\n"
            "x_total{a=\"1\"} 0.25\n");
}

TEST(MetricsTest, HistogramText) {
  constexpr std::array<double, 2> kBounds = {0.0005, 0.12};
  Histogram histogram(kBounds);
  histogram.Observe(microseconds(100));
  histogram.Observe(milliseconds(200));
  TextWriter writer;
  writer.Family("lat_seconds", "Latency.", MetricType::kHistogram);
  writer.HistogramSamples("lat_seconds", histogram.Read());
  EXPECT_EQ(writer.text(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.0005\"} 1\n"
            "lat_seconds_bucket{le=\"0.12\"} 1\n"
            "lat_seconds_bucket{le=\"+Inf\"} 2\n"
            "lat_seconds_sum 0.2001\n"
            "lat_seconds_count 2\n");
}

std::shared_ptr<const engine::PublishedSale> Published(std::string sku, core::StockCounters c) {
  auto published = std::make_shared<engine::PublishedSale>();
  published->sale.sku_id = std::move(sku);
  published->counters = c;
  return published;
}

TEST(MetricsTest, SaleSeriesSortedWithOversell) {
  TextWriter writer;
  // "b" is impossible in a correct system (held + sold > total): the gauge must show it.
  WriteSaleMetrics({Published("b", {10, 8, 5}), Published("a", {10, 3, 2})}, writer);
  const std::string& text = writer.text();
  EXPECT_TRUE(Contains(text,
                       "# TYPE flashsale_oversell_count gauge\n"
                       "flashsale_oversell_count{sku=\"a\"} 0\n"
                       "flashsale_oversell_count{sku=\"b\"} 3\n"));
  EXPECT_TRUE(Contains(text,
                       "flashsale_available{sku=\"a\"} 5\n"
                       "flashsale_available{sku=\"b\"} -3\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reserved_count{sku=\"a\"} 3\n"));
  EXPECT_TRUE(Contains(text, "flashsale_sold_count{sku=\"b\"} 5\n"));
  EXPECT_TRUE(Contains(text, "# TYPE flashsale_available gauge\n"));
}

TEST(MetricsTest, EngineSeries) {
  engine::EngineStats stats;
  stats.batches_committed = 7;
  stats.batches_failed = 1;
  stats.commit_micros_total = 1'500'000;
  stats.reservations_expired = 4;
  TextWriter writer;
  WriteEngineMetrics(stats, {12, false}, writer);
  const std::string& text = writer.text();
  EXPECT_TRUE(Contains(text, "flashsale_queue_length 12\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_healthy 0\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_batches_committed_total 7\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_batches_failed_total 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_reservations_expired_total 4\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_commit_seconds_total 1.5\n"));
}

TEST(MetricsTest, HttpSeriesOnlyForCodesSeen) {
  HttpMetrics metrics({"/api/v1/products/{sku}/reserve", "unmatched"});
  metrics.requests.Increment(0, 201);
  metrics.requests.Increment(0, 201);
  metrics.requests.Increment(1, 404);
  metrics.reservation_latency.Observe(milliseconds(2));
  metrics.connections_open.Add(3);
  TextWriter writer;
  WriteHttpMetrics(metrics, writer);
  const std::string& text = writer.text();
  EXPECT_TRUE(Contains(text,
                       "# TYPE flashsale_requests_total counter\n"
                       "flashsale_requests_total{route=\"/api/v1/products/{sku}/reserve\","
                       "code=\"201\"} 2\n"
                       "flashsale_requests_total{route=\"unmatched\",code=\"404\"} 1\n"
                       "# HELP flashsale_reservation_latency_seconds"));
  EXPECT_FALSE(Contains(text, "code=\"200\""));
  EXPECT_TRUE(Contains(text, "# TYPE flashsale_reservation_latency_seconds histogram\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reservation_latency_seconds_bucket{le=\"0.0025\"} 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reservation_latency_seconds_bucket{le=\"0.001\"} 0\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reservation_latency_seconds_count 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_http_connections 3\n"));
}

}  // namespace
}  // namespace fs::metrics
