#include "metrics/flashsale_metrics.h"

#include <algorithm>

#include "metrics/process_metrics.h"
#include "metrics/waiting_room_metrics.h"

namespace fs::metrics {

RequestOutcome OutcomeOfStatus(unsigned status) {
  if (status >= 200 && status < 300) return RequestOutcome::kGranted;
  if (status == 429) return RequestOutcome::kThrottled;
  if (status >= 500) return RequestOutcome::kError;
  switch (status) {
    case 403:  // a missing or invalid queue pass: the writer refused it
    case 404:
    case 409:
    case 410:
    case 422:
      return RequestOutcome::kRefused;
    default:
      return RequestOutcome::kRejected;
  }
}

std::string_view RequestOutcomeName(RequestOutcome outcome) {
  switch (outcome) {
    case RequestOutcome::kGranted:
      return "granted";
    case RequestOutcome::kRefused:
      return "refused";
    case RequestOutcome::kRejected:
      return "rejected";
    case RequestOutcome::kThrottled:
      return "throttled";
    case RequestOutcome::kError:
      return "error";
  }
  return "error";
}

bool IsDecided(RequestOutcome outcome) {
  return outcome == RequestOutcome::kGranted || outcome == RequestOutcome::kRefused;
}

OutcomeHistograms::OutcomeHistograms(std::span<const double> upper_bounds_seconds) {
  for (std::size_t i = 0; i < kRequestOutcomeCount; ++i) {
    histograms_.push_back(std::make_unique<Histogram>(upper_bounds_seconds));
  }
}

void OutcomeHistograms::Observe(RequestOutcome outcome, std::chrono::nanoseconds duration) {
  histograms_[static_cast<std::size_t>(outcome)]->Observe(duration);
}

const Histogram& OutcomeHistograms::of(RequestOutcome outcome) const {
  return *histograms_[static_cast<std::size_t>(outcome)];
}

TelemetryDrops& Drops() {
  static TelemetryDrops drops;
  return drops;
}

HttpMetrics::HttpMetrics(std::vector<std::string> route_labels,
                         std::vector<std::string> method_labels)
    : requests(std::move(route_labels), std::move(method_labels)),
      reservation_latency(kReservationLatencyBucketsSeconds),
      checkout_latency(kCheckoutLatencyBucketsSeconds),
      reserve_latency_by_outcome(kReservationLatencyBucketsSeconds) {
  audit_chain_valid.Set(-1);
}

void WriteSaleMetrics(std::vector<std::shared_ptr<const engine::PublishedSale>> sales,
                      TextWriter& writer) {
  std::sort(sales.begin(), sales.end(),
            [](const auto& a, const auto& b) { return a->sale.sku_id < b->sale.sku_id; });
  struct Series {
    const char* name;
    const char* help;
    std::int64_t (*value)(const core::StockCounters&);
  };
  static constexpr Series kSeries[] = {
      {"flashsale_available", "Units available to reserve (total - held - sold).",
       [](const core::StockCounters& c) { return c.available(); }},
      {"flashsale_reserved_count", "Units held by RESERVED or CHECKOUT_PENDING reservations.",
       [](const core::StockCounters& c) { return c.held; }},
      {"flashsale_sold_count", "Units sold (PURCHASED).",
       [](const core::StockCounters& c) { return c.sold; }},
      {"flashsale_total_stock", "Units the sale started with.",
       [](const core::StockCounters& c) { return c.total; }},
      {"flashsale_oversell_count", "Units held or sold beyond the stock; must always be 0.",
       [](const core::StockCounters& c) {
         return std::max<std::int64_t>(0, c.held + c.sold - c.total);
       }},
  };
  for (const Series& series : kSeries) {
    writer.Family(series.name, series.help, MetricType::kGauge);
    for (const auto& published : sales) {
      writer.SampleSigned(series.name, {{"sku", published->sale.sku_id}},
                          series.value(published->counters));
    }
  }
}

void WriteEngineMetrics(const engine::EngineStats& stats, EngineGauges gauges, TextWriter& writer) {
  auto load = [](const std::atomic<std::uint64_t>& value) {
    return value.load(std::memory_order_relaxed);
  };
  writer.Family("flashsale_queue_length", "Commands waiting in the engine inbox.",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_queue_length", {}, gauges.queue_length);
  writer.Family("flashsale_queue_capacity",
                "Commands the engine inbox holds at most (--inbox-capacity); beyond it 503.",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_queue_capacity", {}, gauges.queue_capacity);
  writer.Family("flashsale_engine_healthy",
                "1 while the engine accepts writes, 0 after a "
                "failed commit made writing unsafe.",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_engine_healthy", {}, gauges.healthy ? 1 : 0);

  struct CounterSeries {
    const char* name;
    const char* help;
    const std::atomic<std::uint64_t>& value;
  };
  const CounterSeries counters[] = {
      {"flashsale_engine_batches_committed_total", "Batches committed to the store.",
       stats.batches_committed},
      {"flashsale_engine_batches_failed_total",
       "Batch commits that failed (a data refusal is committed again in parts).",
       stats.batches_failed},
      {"flashsale_engine_commands_processed_total", "Commands decided by the writer.",
       stats.commands_processed},
      {"flashsale_engine_reservations_expired_total", "Reservations expired by the writer.",
       stats.reservations_expired},
      {"flashsale_engine_inbox_rejections_total", "Commands refused because the inbox was full.",
       stats.inbox_rejections},
      {"flashsale_engine_commands_refused_by_store_total",
       "Commands the store refused for their own data (answered 400); their batch committed.",
       stats.commands_refused_by_store},
      {"flashsale_orders_created_total", "Orders created by checkout (committed).",
       stats.orders_created},
      {"flashsale_orders_paid_total", "Orders that became PAID (gateway or operator).",
       stats.orders_paid},
      {"flashsale_orders_failed_total", "Orders that became FAILED (declined or operator).",
       stats.orders_failed},
      {"flashsale_orders_needs_attention_total", "Orders whose payment retries ran out.",
       stats.orders_needs_attention},
      {"flashsale_payment_retries_total", "Transient gateway failures rescheduled.",
       stats.payment_retries_scheduled},
      {"flashsale_cluster_rows_synced_total",
       "Cluster mode: rows other nodes committed that this node's writer applied.",
       stats.rows_synced},
      {"flashsale_cluster_refresh_failures_total",
       "Cluster mode: idle refreshes from the shared store that failed (reads then show the "
       "last state until one succeeds).",
       stats.refresh_failures},
  };
  for (const CounterSeries& series : counters) {
    writer.Family(series.name, series.help, MetricType::kCounter);
    writer.SampleUnsigned(series.name, {}, load(series.value));
  }
  writer.Family("flashsale_engine_commit_seconds_total", "Time spent in store commits.",
                MetricType::kCounter);
  writer.SampleDouble("flashsale_engine_commit_seconds_total", {},
                      static_cast<double>(load(stats.commit_micros_total)) / 1e6);
  writer.Family("flashsale_engine_last_batch_size", "Commands in the last batch.",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_engine_last_batch_size", {}, load(stats.last_batch_size));
  writer.Family("flashsale_engine_batch_size_max_seen", "Largest batch so far.",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_engine_batch_size_max_seen", {},
                        load(stats.batch_size_max_seen));
}

void WriteHttpMetrics(const HttpMetrics& metrics, TextWriter& writer) {
  writer.Family("flashsale_requests_total",
                "HTTP responses by method, route template and status code.", MetricType::kCounter);
  const auto& routes = metrics.requests.route_labels();
  const auto& methods = metrics.requests.method_labels();
  for (std::size_t route = 0; route < routes.size(); ++route) {
    for (std::size_t method = 0; method < methods.size(); ++method) {
      for (unsigned code = RequestCounters::kStatusCodeMin;
           code < RequestCounters::kStatusCodeMin + RequestCounters::kStatusCodeCount; ++code) {
        const std::uint64_t count = metrics.requests.value(route, method, code);
        // Only series that happened: 500 mostly-zero codes per route would drown the scrape.
        if (count == 0) continue;
        const std::string code_text = std::to_string(code);
        writer.SampleUnsigned(
            "flashsale_requests_total",
            {{"method", methods[method]}, {"route", routes[route]}, {"code", code_text}}, count);
      }
    }
  }
  writer.Family("flashsale_reservation_latency_seconds",
                "Decided reserve requests (granted or refused by the engine), from the request "
                "read to the response handed to the socket: the latency objective's histogram.",
                MetricType::kHistogram);
  writer.HistogramSamples("flashsale_reservation_latency_seconds",
                          metrics.reservation_latency.Read());
  writer.Family("flashsale_reserve_latency_seconds",
                "Every reserve request by outcome (granted, refused, rejected, throttled, error).",
                MetricType::kHistogram);
  for (std::size_t i = 0; i < kRequestOutcomeCount; ++i) {
    const auto outcome = static_cast<RequestOutcome>(i);
    writer.HistogramSamples("flashsale_reserve_latency_seconds",
                            {{"outcome", RequestOutcomeName(outcome)}},
                            metrics.reserve_latency_by_outcome.of(outcome).Read());
  }
  writer.Family("flashsale_checkout_latency_seconds",
                "Decided checkout requests (accepted or refused by the engine), from the request "
                "read to the response handed to the socket: the latency objective's histogram.",
                MetricType::kHistogram);
  writer.HistogramSamples("flashsale_checkout_latency_seconds", metrics.checkout_latency.Read());
  writer.Family("flashsale_http_connections", "Open client connections.", MetricType::kGauge);
  writer.SampleSigned("flashsale_http_connections", {}, metrics.connections_open.value());
  writer.Family("flashsale_http_connections_rejected_total",
                "Connections closed at accept because the connection limit was reached.",
                MetricType::kCounter);
  writer.SampleUnsigned("flashsale_http_connections_rejected_total", {},
                        metrics.connections_rejected.value());
}

void WriteAuditMetrics(const AuditCheckpoint& checkpoint, TextWriter& writer) {
  if (const std::optional<std::int64_t> events = checkpoint.Get()) {
    writer.Family("flashsale_audit_chain_events",
                  "Events in the audit hash chain at the last checkpoint (the head's hash is in "
                  "the checkpoint's log line).",
                  MetricType::kGauge);
    writer.SampleSigned("flashsale_audit_chain_events", {}, *events);
  }
}

void WriteGatewayMetrics(const GatewayMetrics& gateway, TextWriter& writer) {
  writer.Family("flashsale_payment_gateway_calls_total",
                "Payment gateway calls by outcome: succeeded, declined (final, the card) or "
                "error (timeout, connection error, 429, 5xx; retried).",
                MetricType::kCounter);
  writer.SampleUnsigned("flashsale_payment_gateway_calls_total", {{"outcome", "succeeded"}},
                        gateway.succeeded.value());
  writer.SampleUnsigned("flashsale_payment_gateway_calls_total", {{"outcome", "declined"}},
                        gateway.declined.value());
  writer.SampleUnsigned("flashsale_payment_gateway_calls_total", {{"outcome", "error"}},
                        gateway.error.value());
  writer.Family("flashsale_payment_gateway_latency_seconds",
                "Payment gateway calls, from the request to the answer (or the timeout).",
                MetricType::kHistogram);
  writer.HistogramSamples("flashsale_payment_gateway_latency_seconds", gateway.latency.Read());
}

void WriteTelemetryDropMetrics(const TelemetryDrops& drops, TextWriter& writer) {
  const struct {
    const char* name;
    const char* help;
    const Counter& counter;
  } counters[] = {
      {"flashsale_log_lines_dropped_total",
       "Log lines dropped because the log buffer was full (a slow stderr).", drops.log_lines},
      {"flashsale_spans_dropped_total", "Trace spans dropped because the export queue was full.",
       drops.spans},
      {"flashsale_span_export_failures_total", "Trace span exports that failed.",
       drops.span_export_failures},
  };
  for (const auto& counter : counters) {
    writer.Family(counter.name, counter.help, MetricType::kCounter);
    writer.SampleUnsigned(counter.name, {}, counter.counter.value());
  }
}

void WriteBuildInfo(const BuildInfo& build, TextWriter& writer) {
  writer.Family("flashsale_build_info", "Always 1; the labels name the running build.",
                MetricType::kGauge);
  writer.SampleUnsigned("flashsale_build_info",
                        {{"version", build.version}, {"revision", build.revision}}, 1);
}

void WriteFairnessAuditMetrics(const engine::FairnessAuditStats& stats, TextWriter& writer) {
  const struct {
    const char* name;
    const char* help;
    const std::atomic<std::uint64_t>& value;
  } counters[] = {
      {"flashsale_audit_fairness_offered_total",
       "Throttled reserve attempts and bot detections offered to the audit trail.", stats.offered},
      {"flashsale_audit_fairness_aggregated_total",
       "Of those, written as part of a per-identity count instead of one event each "
       "(the individual-event bound was reached).",
       stats.aggregated},
      {"flashsale_audit_fairness_unattributed_total",
       "Of those, counted without their identity (too many distinct identities at once).",
       stats.unattributed},
  };
  for (const auto& counter : counters) {
    writer.Family(counter.name, counter.help, MetricType::kCounter);
    writer.SampleUnsigned(counter.name, {}, counter.value.load(std::memory_order_relaxed));
  }
}

std::string RenderMetrics(const engine::Engine& engine, const HttpMetrics& http_metrics) {
  TextWriter writer;
  WriteSaleMetrics(engine.AllSales(), writer);
  WriteEngineMetrics(engine.stats(),
                     {.queue_length = engine.queue_length(),
                      .queue_capacity = engine.queue_capacity(),
                      .healthy = engine.healthy()},
                     writer);
  WriteHttpMetrics(http_metrics, writer);
  WriteAuditMetrics(http_metrics.audit_checkpoint, writer);
  if (const std::int64_t valid = http_metrics.audit_chain_valid.value(); valid >= 0) {
    writer.Family("flashsale_audit_chain_valid",
                  "1 when the last audit chain verification found the chain intact, 0 when it "
                  "found it broken (no series before the first verification).",
                  MetricType::kGauge);
    writer.SampleSigned("flashsale_audit_chain_valid", {}, valid);
  }
  WriteGatewayMetrics(http_metrics.gateway, writer);
  WriteTelemetryDropMetrics(Drops(), writer);
  WriteBuildInfo(http_metrics.build, writer);
  WriteProcessMetrics(writer);
  WriteFairnessAuditMetrics(engine.fairness_audit().stats(), writer);
  WriteWaitingRoomMetrics(engine.WaitingRoomStats(),
                          engine.stats().queue_pass_refusals.load(std::memory_order_relaxed),
                          writer);
  for (const Collector& collector : http_metrics.collectors) collector(writer);
  return writer.Take();
}

}  // namespace fs::metrics
