// The server's metric set. HttpMetrics is updated on the I/O threads as responses go out;
// sale and engine series are computed from the engine at scrape time, so the writer thread
// does no metrics work at all.
// Thread-safety: HttpMetrics members are atomics (any thread). The Write*/Render functions
// only read and may run on any thread concurrently with updates.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "engine/engine.h"
#include "metrics/prometheus.h"

namespace fs::metrics {

// Reservation latency buckets, seconds. Dense around the 120 ms P95 objective (0.1, 0.12,
// 0.15) so the SLO can be read straight off one bucket; up to 10 s to catch stalls.
inline constexpr std::array<double, 16> kReservationLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
    0.1,    0.12,  0.15,   0.25,  0.5,  1.0,   2.5,  10.0};

// The audit chain head as of the last checkpoint (written at --audit-checkpoint-seconds by
// the app, read at scrape time). An operator or a monitoring system that keeps these values
// can later prove that the chain was not rewritten: the event with this id must still have
// this hash.
class AuditCheckpoint {
 public:
  void Set(std::int64_t event_id, std::string event_hash) {
    base::MutexLock lock(mutex_);
    event_id_ = event_id;
    event_hash_ = std::move(event_hash);
    taken_ = true;
  }
  // false until the first checkpoint.
  bool Get(std::int64_t& event_id, std::string& event_hash) const {
    base::MutexLock lock(mutex_);
    event_id = event_id_;
    event_hash = event_hash_;
    return taken_;
  }

 private:
  mutable base::Mutex mutex_;
  std::int64_t event_id_ GUARDED_BY(mutex_) = 0;
  std::string event_hash_ GUARDED_BY(mutex_);
  bool taken_ GUARDED_BY(mutex_) = false;
};

struct HttpMetrics {
  // `route_labels`: one per route template, plus any catch-all label the server uses.
  explicit HttpMetrics(std::vector<std::string> route_labels);

  RequestCounters requests;          // flashsale_requests_total{route,code}
  Histogram reservation_latency;     // flashsale_reservation_latency_seconds
  Gauge connections_open;            // flashsale_http_connections
  Counter connections_rejected;      // flashsale_http_connections_rejected_total
  AuditCheckpoint audit_checkpoint;  // flashsale_audit_chain_head_id / _info
};

struct EngineGauges {
  std::size_t queue_length = 0;
  bool healthy = true;
};

// Per-SKU stock series, sorted by sku id. Oversell = max(0, held + sold - total): any value
// other than 0 is a bug the alerting must page on.
void WriteSaleMetrics(std::vector<std::shared_ptr<const engine::PublishedSale>> sales,
                      TextWriter& writer);
void WriteEngineMetrics(const engine::EngineStats& stats, EngineGauges gauges, TextWriter& writer);
void WriteHttpMetrics(const HttpMetrics& metrics, TextWriter& writer);
// flashsale_audit_chain_head_id and flashsale_audit_chain_head_info{event_hash} (the last
// checkpoint); nothing before the first checkpoint.
void WriteAuditMetrics(const AuditCheckpoint& checkpoint, TextWriter& writer);

// flashsale_audit_fairness_{offered,aggregated,unattributed}_total: throttled attempts and
// detections reaching the audit trail, and how many only as part of a count.
void WriteFairnessAuditMetrics(const engine::FairnessAuditStats& stats, TextWriter& writer);

// Everything above, as one exposition body.
std::string RenderMetrics(const engine::Engine& engine, const HttpMetrics& http_metrics);

}  // namespace fs::metrics
