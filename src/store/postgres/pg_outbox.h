// The cluster's side jobs on PostgreSQL, each on its own connection:
//
// PgOutbox: the outbox relay's source. Every node runs a relay, but only the leader of a sink
// publishes: the node holding the session advisory lock pg_try_advisory_lock(hash(sink)). The
// others read nothing and try again at their next poll, so a dead leader (its connection, and
// with it the lock, is gone) is replaced within a poll. A new leader starts from the cursor
// saved in outbox_cursors. One publisher in outbox id order, which is commit order (ids are
// drawn under the batch lock): every event once per delivery attempt, in order per SKU;
// delivery stays at least once (a leader change republishes what was not yet saved).
//
// PgOrderLeases: one node at a time charges an order. Before a gateway call the payment worker
// claims the order: a lease (owner, until) on its row, taken only if free, expired or already
// ours, with FOR UPDATE SKIP LOCKED so a claim never waits. A dead node's lease runs out and
// another node resumes the order.
//
// Thread-safety: PgOutbox: one thread (the relay). PgOrderLeases: any thread (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/thread_annotations.h"
#include "core/order.h"
#include "store/outbox.h"
#include "store/postgres/pg_connection.h"

namespace fs::store {

class PgOutbox final : public OutboxSource {
 public:
  // REQUIRES: the database is migrated (open PgStore first).
  static base::Result<std::unique_ptr<PgOutbox>> Open(const std::string& url);
  ~PgOutbox() override;
  PgOutbox(const PgOutbox&) = delete;
  PgOutbox& operator=(const PgOutbox&) = delete;

  base::Result<std::int64_t> LoadCursor(const std::string& sink) override;
  // Nothing while another node leads this sink; events after max(after_id, the saved cursor)
  // when this call made us the leader.
  base::Result<std::vector<StoredEvent>> ReadAfter(std::int64_t after_id,
                                                   std::size_t count_max) override;
  // Only the leader saves; a cursor never moves back.
  base::Status SaveCursor(const std::string& sink, std::int64_t last_id) override;
  base::Result<std::int64_t> LastId() override;

  bool leader() const { return leader_; }

 private:
  explicit PgOutbox(std::string url) : url_(std::move(url)) {}
  base::Status EnsureConnected();
  base::Result<bool> TryLead();
  base::Result<std::int64_t> StoredCursor(const std::string& sink);

  const std::string url_;
  pg::ConnectionHandle connection_;
  std::string sink_;
  bool leader_ = false;
  std::int64_t floor_ = 0;  // the saved cursor when we became leader
};

class PgOrderLeases {
 public:
  // `node_id` names this node in orders.lease_owner; `lease` is how long a claim holds (longer
  // than one gateway call).
  static base::Result<std::unique_ptr<PgOrderLeases>> Open(const std::string& url,
                                                           std::string node_id,
                                                           std::chrono::milliseconds lease);
  // True when this node holds the order's lease now (taken or renewed). False when another
  // node holds it, the order is no longer PENDING, or the database cannot be reached.
  bool TryClaim(const core::Order& order);

 private:
  PgOrderLeases(std::string url, std::string node_id, std::chrono::milliseconds lease)
      : url_(std::move(url)), node_id_(std::move(node_id)), lease_(lease) {}

  const std::string url_;
  const std::string node_id_;
  const std::chrono::milliseconds lease_;
  base::Mutex mutex_;
  pg::ConnectionHandle connection_ GUARDED_BY(mutex_);
};

}  // namespace fs::store
