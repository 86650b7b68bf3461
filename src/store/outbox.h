// OutboxSource: the relay's view of the transactional outbox. Events are written by the writer
// in the same transaction as the change they describe (core::EventAppended); a relay reads the
// committed ones in id order and remembers, per sink, the last id its sink acknowledged.
//
// Thread-safety: one thread at a time per instance (the relay's own connection).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/order.h"

namespace fs::store {

struct StoredEvent {
  std::int64_t id = 0;  // global order of commit; per-SKU order follows from it
  core::OutboxEvent event;
};

class OutboxSource {
 public:
  virtual ~OutboxSource() = default;
  // The last id acknowledged by `sink`; 0 when it never acknowledged one.
  virtual base::Result<std::int64_t> LoadCursor(const std::string& sink) = 0;
  // Committed events with id > after_id, in id order, at most count_max.
  virtual base::Result<std::vector<StoredEvent>> ReadAfter(std::int64_t after_id,
                                                           std::size_t count_max) = 0;
  // Records that `sink` acknowledged every event up to `last_id`.
  virtual base::Status SaveCursor(const std::string& sink, std::int64_t last_id) = 0;
  // The id of the newest committed event (0: none). The relay's backlog metric asks it only
  // when a read came back full, so its cost (one index lookup) is paid only when behind.
  virtual base::Result<std::int64_t> LastId() = 0;
};

}  // namespace fs::store
