#include "http/order_waiters.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <utility>

namespace fs::http {

struct OrderWaiters::Waiter {
  std::string order_id;
  boost::asio::any_io_executor executor;
  Wake wake;
  // Armed on the executor's thread and only touched there.
  std::optional<boost::asio::steady_timer> timer;
};

OrderWaiters::HoldOutcome OrderWaiters::Hold(const std::string& order_id,
                                             const boost::asio::any_io_executor& executor,
                                             std::chrono::milliseconds wait, Wake wake) {
  auto waiter = std::make_shared<Waiter>();
  waiter->order_id = order_id;
  waiter->executor = executor;
  waiter->wake = std::move(wake);
  {
    base::MutexLock lock(mutex_);
    if (released_ || last_changed_.contains(order_id)) return HoldOutcome::kAnswerNow;
    if (waiters_.size() >= capacity_) return HoldOutcome::kFull;
    waiters_.emplace(order_id, waiter);
  }
  // Posted before any wake-up of this waiter (both come from the writer thread, and posts to
  // one executor run in order), so a wake-up always finds the timer to cancel.
  boost::asio::post(executor, [this, waiter, wait] {
    waiter->timer.emplace(waiter->executor);
    waiter->timer->expires_after(wait);
    waiter->timer->async_wait([this, waiter](const boost::system::error_code& error) {
      if (error) return;  // cancelled: woken by a change or a release
      if (Take(waiter)) waiter->wake(std::nullopt);
    });
  });
  return HoldOutcome::kHeld;
}

void OrderWaiters::Notify(const std::vector<core::Order>& orders) {
  std::vector<std::pair<std::shared_ptr<Waiter>, const core::Order*>> woken;
  {
    base::MutexLock lock(mutex_);
    last_changed_.clear();
    for (const core::Order& order : orders) {
      if (order.status == core::OrderStatus::kPending) continue;
      last_changed_.insert(order.order_id);
      const auto [first, last] = waiters_.equal_range(order.order_id);
      for (auto it = first; it != last; ++it) woken.emplace_back(std::move(it->second), &order);
      waiters_.erase(first, last);
    }
  }
  for (auto& [waiter, order] : woken) WakeOn(waiter, *order);
}

void OrderWaiters::ReleaseAll() {
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> released;
  {
    base::MutexLock lock(mutex_);
    released_ = true;
    released.swap(waiters_);
  }
  for (auto& [id, waiter] : released) WakeOn(waiter, std::nullopt);
}

std::size_t OrderWaiters::held() const {
  base::MutexLock lock(mutex_);
  return waiters_.size();
}

bool OrderWaiters::Take(const std::shared_ptr<Waiter>& waiter) {
  base::MutexLock lock(mutex_);
  const auto [first, last] = waiters_.equal_range(waiter->order_id);
  for (auto it = first; it != last; ++it) {
    if (it->second == waiter) {
      waiters_.erase(it);
      return true;
    }
  }
  return false;
}

void OrderWaiters::WakeOn(const std::shared_ptr<Waiter>& waiter, std::optional<core::Order> order) {
  boost::asio::post(waiter->executor, [waiter, order = std::move(order)]() mutable {
    if (waiter->timer) waiter->timer->cancel();
    waiter->wake(std::move(order));
  });
}

}  // namespace fs::http
