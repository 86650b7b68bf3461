// Goal: the metrics registry counts exactly (also under concurrent updates), puts each
// observation in the right histogram bucket (upper bounds inclusive, as Prometheus defines
// `le`), and renders valid Prometheus text format 0.0.4: HELP/TYPE lines, escaped label values,
// cumulative buckets ending in +Inf == _count, per-SKU stock series with oversell = max(0,
// held + sold - total), and only the request series that occurred (by method, route and
// code). The outcome of a reserve or checkout follows from its status, and only decided ones
// feed the SLO histograms; the process_* series parse /proc/self/stat; the payment gateway
// decorator counts calls by outcome; build info and drop counters exist from the start.

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "metrics/flashsale_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/prometheus.h"
#include "payment/metered_gateway.h"

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
  RequestCounters requests({"/a", "unmatched"}, {"GET", "POST"});
  Histogram histogram(kReservationLatencyBucketsSeconds);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        requests.Increment(0, 1, 201);
        histogram.Observe(microseconds(i));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(requests.value(0, 1, 201), std::uint64_t{kThreads * kPerThread});
  EXPECT_EQ(requests.value(0, 0, 201), 0u);
  EXPECT_EQ(requests.value(1, 1, 201), 0u);
  EXPECT_EQ(histogram.Read().count, std::uint64_t{kThreads * kPerThread});
}

TEST(MetricsTest, RequestCountersRejectOutOfRangeIndexes) {
  RequestCounters requests({"/a"}, {"GET"});
  requests.Increment(0, 0, 100);
  requests.Increment(0, 0, 599);
  EXPECT_EQ(requests.value(0, 0, 599), 1u);
  EXPECT_DEATH(requests.Increment(1, 0, 200), "route_index");
  EXPECT_DEATH(requests.Increment(0, 1, 200), "method_index");
  EXPECT_DEATH(requests.Increment(0, 0, 600), "status_code");
  EXPECT_DEATH(requests.Increment(0, 0, 99), "status_code");
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
  stats.rows_synced = 9;
  WriteEngineMetrics(stats, {.queue_length = 12, .queue_capacity = 100, .healthy = false}, writer);
  const std::string& text = writer.text();
  EXPECT_TRUE(Contains(text, "flashsale_queue_length 12\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_healthy 0\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_batches_committed_total 7\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_batches_failed_total 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_reservations_expired_total 4\n"));
  EXPECT_TRUE(Contains(text, "flashsale_engine_commit_seconds_total 1.5\n"));
  EXPECT_TRUE(Contains(text, "flashsale_queue_capacity 100\n"));
  EXPECT_TRUE(Contains(text, "flashsale_cluster_rows_synced_total 9\n"));
  EXPECT_TRUE(Contains(text, "flashsale_cluster_refresh_failures_total 0\n"));
}

TEST(MetricsTest, HttpSeriesOnlyForCodesSeen) {
  HttpMetrics metrics({"/api/v1/products/{sku}/reserve", "unmatched"}, {"GET", "POST"});
  metrics.requests.Increment(0, 1, 201);
  metrics.requests.Increment(0, 1, 201);
  metrics.requests.Increment(1, 0, 404);
  metrics.reservation_latency.Observe(milliseconds(2));
  metrics.connections_open.Add(3);
  TextWriter writer;
  WriteHttpMetrics(metrics, writer);
  const std::string& text = writer.text();
  EXPECT_TRUE(Contains(text,
                       "# TYPE flashsale_requests_total counter\n"
                       "flashsale_requests_total{method=\"POST\","
                       "route=\"/api/v1/products/{sku}/reserve\",code=\"201\"} 2\n"
                       "flashsale_requests_total{method=\"GET\",route=\"unmatched\","
                       "code=\"404\"} 1\n"
                       "# HELP flashsale_reservation_latency_seconds"));
  EXPECT_FALSE(Contains(text, "code=\"200\""));
  EXPECT_TRUE(Contains(text, "# TYPE flashsale_reservation_latency_seconds histogram\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reservation_latency_seconds_bucket{le=\"0.0025\"} 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reservation_latency_seconds_bucket{le=\"0.001\"} 0\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reservation_latency_seconds_count 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_http_connections 3\n"));
}

TEST(MetricsTest, OutcomeOfStatusAndWhichAreDecided) {
  const struct {
    unsigned status;
    RequestOutcome outcome;
    bool decided;
  } kCases[] = {
      {200, RequestOutcome::kGranted, true},    {201, RequestOutcome::kGranted, true},
      {202, RequestOutcome::kGranted, true},    {403, RequestOutcome::kRefused, true},
      {404, RequestOutcome::kRefused, true},    {409, RequestOutcome::kRefused, true},
      {422, RequestOutcome::kRefused, true},    {400, RequestOutcome::kRejected, false},
      {401, RequestOutcome::kRejected, false},  {413, RequestOutcome::kRejected, false},
      {429, RequestOutcome::kThrottled, false}, {500, RequestOutcome::kError, false},
      {503, RequestOutcome::kError, false},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(OutcomeOfStatus(c.status), c.outcome) << c.status;
    EXPECT_EQ(IsDecided(OutcomeOfStatus(c.status)), c.decided) << c.status;
  }
  EXPECT_EQ(RequestOutcomeName(RequestOutcome::kThrottled), "throttled");
}

TEST(MetricsTest, LabeledHistogramAndReserveOutcomes) {
  HttpMetrics metrics({"/r", "unmatched"}, {"POST"});
  metrics.reserve_latency_by_outcome.Observe(RequestOutcome::kThrottled, microseconds(100));
  metrics.checkout_latency.Observe(milliseconds(300));
  TextWriter writer;
  WriteHttpMetrics(metrics, writer);
  const std::string& text = writer.text();
  EXPECT_TRUE(Contains(text, "# TYPE flashsale_reserve_latency_seconds histogram\n"));
  EXPECT_TRUE(Contains(
      text, "flashsale_reserve_latency_seconds_bucket{outcome=\"throttled\",le=\"0.0005\"} 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reserve_latency_seconds_count{outcome=\"throttled\"} 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_reserve_latency_seconds_count{outcome=\"granted\"} 0\n"));
  // The throttled answer is not in the SLO histogram.
  EXPECT_TRUE(Contains(text, "flashsale_reservation_latency_seconds_count 0\n"));
  EXPECT_TRUE(Contains(text, "flashsale_checkout_latency_seconds_bucket{le=\"0.35\"} 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_checkout_latency_seconds_bucket{le=\"0.25\"} 0\n"));
}

TEST(MetricsTest, AuditBuildAndDropSeries) {
  AuditCheckpoint checkpoint;
  TextWriter before;
  WriteAuditMetrics(checkpoint, before);
  EXPECT_EQ(before.text(), "");  // nothing before the first checkpoint
  checkpoint.Set(42);
  TextWriter writer;
  WriteAuditMetrics(checkpoint, writer);
  WriteBuildInfo({.version = "1.2.3", .revision = "abc"}, writer);
  TelemetryDrops drops;
  drops.spans.Increment(2);
  WriteTelemetryDropMetrics(drops, writer);
  const std::string& text = writer.text();
  EXPECT_TRUE(Contains(text,
                       "# TYPE flashsale_audit_chain_events gauge\n"
                       "flashsale_audit_chain_events 42\n"));
  EXPECT_TRUE(Contains(text, "flashsale_build_info{version=\"1.2.3\",revision=\"abc\"} 1\n"));
  EXPECT_TRUE(Contains(text, "flashsale_log_lines_dropped_total 0\n"));
  EXPECT_TRUE(Contains(text, "flashsale_spans_dropped_total 2\n"));
  EXPECT_TRUE(Contains(text, "flashsale_span_export_failures_total 0\n"));
}

TEST(MetricsTest, ProcessStatParsing) {
  // proc(5): a command name with spaces and parentheses; utime 150 and stime 50 ticks, start
  // 1000 ticks after boot, vsize 4096000 bytes, rss 100 pages.
  const std::string stat =
      "1234 (flash (sale) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 5 0 1000 "
      "4096000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
  const auto parsed = ParseProcessStat(stat, 1'700'000'000, 100, 4096);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_DOUBLE_EQ(parsed->cpu_seconds, 2.0);
  EXPECT_DOUBLE_EQ(parsed->start_time_seconds, 1'700'000'010.0);
  EXPECT_DOUBLE_EQ(parsed->virtual_memory_bytes, 4096000.0);
  EXPECT_DOUBLE_EQ(parsed->resident_memory_bytes, 409600.0);
  EXPECT_FALSE(ParseProcessStat("garbage", 0, 100, 4096).has_value());
  EXPECT_FALSE(ParseProcessStat("1 (x) S 1 2", 0, 100, 4096).has_value());  // too short

  TextWriter writer;
  WriteProcessMetrics(writer);  // this very process
  EXPECT_TRUE(Contains(writer.text(), "# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_TRUE(Contains(writer.text(), "\nprocess_resident_memory_bytes "));
  EXPECT_TRUE(Contains(writer.text(), "\nprocess_open_fds "));
  EXPECT_TRUE(Contains(writer.text(), "\nprocess_start_time_seconds "));
}

// A gateway answering from a script, for the decorator.
class ScriptedGateway : public payment::PaymentGateway {
 public:
  payment::ChargeResult Charge(const payment::ChargeRequest& request) override {
    payment::ChargeResult result;
    if (request.payment_method_id == "ok") result.outcome = core::ChargeOutcome::kSucceeded;
    if (request.payment_method_id == "no") result.outcome = core::ChargeOutcome::kDeclined;
    return result;  // anything else: retryable
  }
};

TEST(MetricsTest, MeteredGatewayCountsCallsByOutcome) {
  GatewayMetrics metrics;
  auto gateway = payment::NewMeteredGateway(std::make_unique<ScriptedGateway>(), metrics);
  for (const char* method : {"ok", "ok", "no", "timeout"}) {
    payment::ChargeRequest request;
    request.payment_method_id = method;
    (void)gateway->Charge(request);
  }
  EXPECT_EQ(metrics.succeeded.value(), 2u);
  EXPECT_EQ(metrics.declined.value(), 1u);
  EXPECT_EQ(metrics.error.value(), 1u);
  EXPECT_EQ(metrics.latency.Read().count, 4u);
  TextWriter writer;
  WriteGatewayMetrics(metrics, writer);
  EXPECT_TRUE(Contains(writer.text(),
                       "flashsale_payment_gateway_calls_total{outcome=\"succeeded\"} 2\n"
                       "flashsale_payment_gateway_calls_total{outcome=\"declined\"} 1\n"
                       "flashsale_payment_gateway_calls_total{outcome=\"error\"} 1\n"));
  EXPECT_TRUE(Contains(writer.text(), "flashsale_payment_gateway_latency_seconds_count 4\n"));
}

}  // namespace
}  // namespace fs::metrics
