// The server's metric set. HttpMetrics is updated on the I/O threads as responses go out;
// sale and engine series are computed from the engine at scrape time, so the writer thread
// does no metrics work at all.
// Thread-safety: HttpMetrics members are atomics (any thread), but for `build` and
// `collectors`, which are set before the server starts. The Write*/Render functions
// only read and may run on any thread concurrently with updates.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "metrics/prometheus.h"

namespace fs::metrics {

// Reservation latency buckets, seconds. Dense around the 120 ms P95 objective (0.1, 0.12,
// 0.15) so the SLO can be read straight off one bucket; up to 10 s to catch stalls.
inline constexpr std::array<double, 16> kReservationLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
    0.1,    0.12,  0.15,   0.25,  0.5,  1.0,   2.5,  10.0};

// Checkout latency buckets, seconds: dense around the 450 ms P95 objective.
inline constexpr std::array<double, 14> kCheckoutLatencyBucketsSeconds = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.35, 0.45, 0.6, 1.0, 2.5, 5.0, 10.0};

// Payment gateway call buckets, seconds: a card network answers in 0.1-2 s; up to the
// longest --payment-timeout-ms anyone sets in practice.
inline constexpr std::array<double, 12> kGatewayLatencyBucketsSeconds = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0};

// The audit chain head as of the last checkpoint (written at --audit-checkpoint-seconds by
// the app, read at scrape time). The metric is the chained event count only; the head's hash
// goes to the checkpoint's log line and to the audit verify endpoint, never to a label (a label
// value that changes every minute would be a new series every minute).
class AuditCheckpoint {
 public:
  void Set(std::int64_t event_count) {
    event_count_.store(event_count, std::memory_order_relaxed);
    taken_.store(true, std::memory_order_release);
  }
  // nullopt until the first checkpoint.
  std::optional<std::int64_t> Get() const {
    if (!taken_.load(std::memory_order_acquire)) return std::nullopt;
    return event_count_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> event_count_{0};
  std::atomic<bool> taken_{false};
};

// What a request to a latency-tracked route (reserve, checkout) came to, from its status:
// granted (2xx), refused (a business refusal the engine decided: 403 queue pass, 404, 409,
// 410, 422), rejected (answered before the engine: 400, 401, 413, ...), throttled (429) or
// error (5xx). Only granted and refused are decided: the SLO histograms count those alone, so
// a flood of fast 401 or 429 answers cannot make the objective look better.
enum class RequestOutcome : std::uint8_t { kGranted, kRefused, kRejected, kThrottled, kError };
inline constexpr std::size_t kRequestOutcomeCount = 5;
RequestOutcome OutcomeOfStatus(unsigned status);
std::string_view RequestOutcomeName(RequestOutcome outcome);
bool IsDecided(RequestOutcome outcome);

// One latency histogram per outcome.
class OutcomeHistograms {
 public:
  explicit OutcomeHistograms(std::span<const double> upper_bounds_seconds);
  void Observe(RequestOutcome outcome, std::chrono::nanoseconds duration);
  const Histogram& of(RequestOutcome outcome) const;

 private:
  std::vector<std::unique_ptr<Histogram>> histograms_;  // index: RequestOutcome
};

// Payment gateway calls, counted by a decorator around the gateway (payment/metered_gateway.h)
// on the charging threads.
struct GatewayMetrics {
  GatewayMetrics() : latency(kGatewayLatencyBucketsSeconds) {}
  Counter succeeded;  // the charge went through
  Counter declined;   // a final refusal (the card): a business outcome, not an error
  Counter error;      // timeout, connection error, 429, 5xx: retried later
  Histogram latency;  // every call
};

// Drops of the telemetry pipelines, counted where they happen (the log sink, the span
// exporter); a pipeline that does not exist yet leaves its counters at 0.
struct TelemetryDrops {
  Counter log_lines;
  Counter spans;
  Counter span_export_failures;
};
// The process's one instance (the log sink is process-wide too).
TelemetryDrops& Drops();

// Where the build came from: flashsale_build_info{version,revision} 1.
struct BuildInfo {
  std::string version = "unknown";
  std::string revision = "unknown";
};

// Series of parts the http module does not know (the outbox relay, ...), written at scrape
// time. Registered by the app before the server starts; each must be safe to call from any I/O
// thread for as long as the server runs.
using Collector = std::function<void(TextWriter& writer)>;

struct HttpMetrics {
  // `route_labels`: one per route template, plus any catch-all label the server uses;
  // `method_labels`: one per request method the server tells apart (index: the method).
  HttpMetrics(std::vector<std::string> route_labels, std::vector<std::string> method_labels);

  RequestCounters requests;  // flashsale_requests_total{method,route,code}
  // The SLO histograms: decided requests only (IsDecided).
  Histogram reservation_latency;  // flashsale_reservation_latency_seconds
  Histogram checkout_latency;     // flashsale_checkout_latency_seconds
  // Every reserve attempt by outcome: flashsale_reserve_latency_seconds{outcome}.
  OutcomeHistograms reserve_latency_by_outcome;
  Gauge connections_open;            // flashsale_http_connections
  Counter connections_rejected;      // flashsale_http_connections_rejected_total
  AuditCheckpoint audit_checkpoint;  // flashsale_audit_chain_events
  // The last audit chain verification (GET /admin/v1/audit/verify): 1 valid, 0 broken, -1 none
  // yet (then no series). flashsale_audit_chain_valid.
  Gauge audit_chain_valid;
  GatewayMetrics gateway;  // flashsale_payment_gateway_*
  // Set by the app before the server starts; read-only afterwards.
  BuildInfo build;
  std::vector<Collector> collectors;
};

struct EngineGauges {
  std::size_t queue_length = 0;
  std::size_t queue_capacity = 0;
  bool healthy = true;
};

// Per-SKU stock series, sorted by sku id. Oversell = max(0, held + sold - total): any value
// other than 0 is a bug the alerting must page on.
void WriteSaleMetrics(std::vector<std::shared_ptr<const engine::PublishedSale>> sales,
                      TextWriter& writer);
void WriteEngineMetrics(const engine::EngineStats& stats, EngineGauges gauges, TextWriter& writer);
void WriteHttpMetrics(const HttpMetrics& metrics, TextWriter& writer);
// flashsale_audit_chain_events (the last checkpoint); nothing before the first checkpoint.
void WriteAuditMetrics(const AuditCheckpoint& checkpoint, TextWriter& writer);
// flashsale_payment_gateway_calls_total{outcome} and flashsale_payment_gateway_latency_seconds.
void WriteGatewayMetrics(const GatewayMetrics& gateway, TextWriter& writer);
// flashsale_log_lines_dropped_total, flashsale_spans_dropped_total and
// flashsale_span_export_failures_total.
void WriteTelemetryDropMetrics(const TelemetryDrops& drops, TextWriter& writer);
void WriteBuildInfo(const BuildInfo& build, TextWriter& writer);

// flashsale_audit_fairness_{offered,aggregated,unattributed}_total: throttled attempts and
// detections reaching the audit trail, and how many only as part of a count.
void WriteFairnessAuditMetrics(const engine::FairnessAuditStats& stats, TextWriter& writer);

// Everything above plus the process_* series and the collectors, as one exposition body.
std::string RenderMetrics(const engine::Engine& engine, const HttpMetrics& http_metrics);

}  // namespace fs::metrics
