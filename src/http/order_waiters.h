// OrderWaiters: the held order reads of GET /api/v1/orders/{id}?wait_seconds=N. A read whose
// order is PENDING waits here until the engine commits the order's leaving PENDING (Notify),
// its wait runs out, or the server shuts down (ReleaseAll), and is then answered once: with
// the order Notify saw, or told to read it again. At most `capacity` reads are held at once,
// so a flood of waiting clients costs bounded memory and never reaches the writer more than
// once per read and once per answer (instead of once per poll).
//
// Thread-safety: Hold and Notify run on the writer thread (an order read's callback and the
// engine's on_orders_changed), so a change committed after a read was decided always finds
// the read held, and one committed in the same batch is remembered for it (`last_changed_`).
// ReleaseAll and held() may run on any thread. Each read's `wake` runs on its executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/thread_annotations.h"
#include "core/order.h"

namespace fs::http {

class OrderWaiters {
 public:
  // Runs once on the read's executor: with the order when it left PENDING, or nullopt when
  // the wait ran out or the server shuts down (read the order again and answer that).
  using Wake = std::function<void(std::optional<core::Order>)>;

  enum class HoldOutcome : std::uint8_t {
    kHeld,       // `wake` will run
    kFull,       // `capacity` reads are held already: answer 503
    kAnswerNow,  // the order changed in the batch that read it, or the server is stopping
  };

  explicit OrderWaiters(std::size_t capacity) : capacity_(capacity) {}
  OrderWaiters(const OrderWaiters&) = delete;
  OrderWaiters& operator=(const OrderWaiters&) = delete;

  // Holds a read of `order_id`, found PENDING, for at most `wait`. Writer thread only.
  HoldOutcome Hold(const std::string& order_id, const boost::asio::any_io_executor& executor,
                   std::chrono::milliseconds wait, Wake wake);
  // The orders a commit changed: the held reads of every one that left PENDING wake with it.
  // Writer thread only.
  void Notify(const std::vector<core::Order>& orders);
  // Wakes every held read (nullopt) and holds none from now on.
  void ReleaseAll();

  std::size_t held() const;
  std::size_t capacity() const { return capacity_; }

 private:
  struct Waiter;
  // Removes `waiter` if it is still held; true when this call removed it.
  bool Take(const std::shared_ptr<Waiter>& waiter);
  static void WakeOn(const std::shared_ptr<Waiter>& waiter, std::optional<core::Order> order);

  const std::size_t capacity_;
  mutable base::Mutex mutex_;
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> waiters_ GUARDED_BY(mutex_);
  // The orders the last Notify saw leave PENDING: a read decided in that same batch (before the
  // change) is answered at once instead of held.
  std::unordered_set<std::string> last_changed_ GUARDED_BY(mutex_);
  bool released_ GUARDED_BY(mutex_) = false;
};

}  // namespace fs::http
