#include "metrics/flashsale_metrics.h"

#include <algorithm>

#include "metrics/waiting_room_metrics.h"

namespace fs::metrics {

HttpMetrics::HttpMetrics(std::vector<std::string> route_labels)
    : requests(std::move(route_labels)), reservation_latency(kReservationLatencyBucketsSeconds) {}

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
  writer.Family("flashsale_requests_total", "HTTP responses by route template and status code.",
                MetricType::kCounter);
  const auto& routes = metrics.requests.route_labels();
  for (std::size_t route = 0; route < routes.size(); ++route) {
    for (unsigned code = RequestCounters::kStatusCodeMin;
         code < RequestCounters::kStatusCodeMin + RequestCounters::kStatusCodeCount; ++code) {
      const std::uint64_t count = metrics.requests.value(route, code);
      // Only series that happened: 500 mostly-zero codes per route would drown the scrape.
      if (count == 0) continue;
      const std::string code_text = std::to_string(code);
      writer.SampleUnsigned("flashsale_requests_total",
                            {{"route", routes[route]}, {"code", code_text}}, count);
    }
  }
  writer.Family("flashsale_reservation_latency_seconds",
                "Reserve requests, from the request read to the response handed to the socket.",
                MetricType::kHistogram);
  writer.HistogramSamples("flashsale_reservation_latency_seconds",
                          metrics.reservation_latency.Read());
  writer.Family("flashsale_http_connections", "Open client connections.", MetricType::kGauge);
  writer.SampleSigned("flashsale_http_connections", {}, metrics.connections_open.value());
  writer.Family("flashsale_http_connections_rejected_total",
                "Connections closed at accept because the connection limit was reached.",
                MetricType::kCounter);
  writer.SampleUnsigned("flashsale_http_connections_rejected_total", {},
                        metrics.connections_rejected.value());
}

void WriteAuditMetrics(const AuditCheckpoint& checkpoint, TextWriter& writer) {
  std::int64_t event_id = 0;
  std::string event_hash;
  if (!checkpoint.Get(event_id, event_hash)) return;
  writer.Family("flashsale_audit_chain_head_id",
                "Id of the last audit event at the last checkpoint.", MetricType::kGauge);
  writer.SampleSigned("flashsale_audit_chain_head_id", {}, event_id);
  writer.Family("flashsale_audit_chain_head_info",
                "Always 1; the label holds the hash of the last audit event at the checkpoint.",
                MetricType::kGauge);
  const std::string id_text = std::to_string(event_id);
  writer.SampleSigned("flashsale_audit_chain_head_info",
                      {{"event_id", id_text}, {"event_hash", event_hash}}, 1);
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
  WriteEngineMetrics(engine.stats(), {engine.queue_length(), engine.healthy()}, writer);
  WriteHttpMetrics(http_metrics, writer);
  WriteAuditMetrics(http_metrics.audit_checkpoint, writer);
  WriteFairnessAuditMetrics(engine.fairness_audit().stats(), writer);
  WriteWaitingRoomMetrics(engine.WaitingRoomStats(),
                          engine.stats().queue_pass_refusals.load(std::memory_order_relaxed),
                          writer);
  return writer.Take();
}

}  // namespace fs::metrics
