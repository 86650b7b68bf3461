#include "http/sale_events.h"

#include <utility>

#include "core/rules.h"
#include "http/json_render.h"

namespace fs::http {

SaleEventStream::SaleEventStream(const engine::Engine& engine, std::string sku_id,
                                 std::atomic<std::size_t>& subscribers)
    : engine_(engine), sku_id_(std::move(sku_id)), subscribers_(subscribers) {}

SaleEventStream::~SaleEventStream() { subscribers_.fetch_sub(1, std::memory_order_acq_rel); }

std::string SaleEventStream::First() {
  return "retry: " + std::to_string(kReconnectDelay.count()) + "\n\n" + Changes(true);
}

std::optional<std::string> SaleEventStream::Next() {
  std::string events = Changes(false);
  if (!events.empty()) {
    quiet_ticks_ = 0;
    return events;
  }
  if (++quiet_ticks_ < kHeartbeatTicks) return events;
  quiet_ticks_ = 0;
  return std::string(": heartbeat\n\n");
}

std::string SaleEventStream::Changes(bool first) {
  const std::shared_ptr<const engine::PublishedSale> published = engine_.FindSale(sku_id_);
  if (!published) return {};
  const std::int64_t available = published->counters.available();
  const core::SaleStatus status =
      core::ComputeSaleStatus(published->sale, published->counters, engine_.clock().Now());
  const bool status_changed = status_sent_ != status;
  if (!first && !status_changed && available == available_sent_) return {};
  available_sent_ = available;
  status_sent_ = status;
  const std::string data = RenderAvailability(sku_id_, available, status);
  std::string events = "event: availability\ndata: " + data + "\n\n";
  if (status_changed) events += "event: status\ndata: " + data + "\n\n";
  return events;
}

}  // namespace fs::http
