// SaleEventStream: the Server-Sent Events of GET /api/v1/products/{sku}/events. Every tick
// (250 ms) it compares the sale's published snapshot (never the writer) with what it sent last
// and sends an `availability` event when the units or the status changed, a `status` event too
// when the status changed (opened, closed, sold out), and a comment as a heartbeat after 15 s
// of silence, so proxies keep the connection and the client sees it is alive. The first bytes
// (First()) set the client's reconnect delay and send both events at once.
//
// Thread-safety: owned by one connection and called on its thread only. `subscribers` is the
// node's count of open streams: the stream counts itself out when it ends.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "core/types.h"
#include "engine/engine.h"
#include "http/exchange.h"

namespace fs::http {

class SaleEventStream final : public BodyStream {
 public:
  static constexpr std::chrono::milliseconds kInterval{250};
  static constexpr int kHeartbeatTicks = 60;  // 15 s
  static constexpr std::chrono::milliseconds kReconnectDelay{2000};

  // REQUIRES: `subscribers` was incremented for this stream; `engine` outlives it.
  SaleEventStream(const engine::Engine& engine, std::string sku_id,
                  std::atomic<std::size_t>& subscribers);
  ~SaleEventStream() override;
  SaleEventStream(const SaleEventStream&) = delete;
  SaleEventStream& operator=(const SaleEventStream&) = delete;

  // The reconnect delay and the sale as it is now (both events).
  std::string First();

  std::chrono::milliseconds interval() const override { return kInterval; }
  std::optional<std::string> Next() override;

 private:
  // The events for a change since the last sent state ("" when nothing changed).
  std::string Changes(bool first);

  const engine::Engine& engine_;
  const std::string sku_id_;
  std::atomic<std::size_t>& subscribers_;
  std::int64_t available_sent_ = -1;
  std::optional<core::SaleStatus> status_sent_;
  int quiet_ticks_ = 0;
};

}  // namespace fs::http
