#include "support/reserve_load.h"

#include <utility>

#include "support/flashsale_api.h"
#include "support/http_client.h"

namespace fs::itest {

ReserveLoad::ReserveLoad(std::uint16_t port, LoadOptions options)
    : port_(port), options_(std::move(options)) {
  threads_.reserve(static_cast<std::size_t>(options_.thread_count));
  for (int i = 0; i < options_.thread_count; ++i) {
    threads_.emplace_back([this, i] { RunThread(i); });
  }
}

ReserveLoad::~ReserveLoad() {
  RequestStop();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

bool ReserveLoad::WaitForAcknowledged(std::int64_t count, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (acknowledged_count() < count) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

LoadResult ReserveLoad::Join() {
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  std::lock_guard<std::mutex> lock(result_mutex_);
  return result_;
}

void ReserveLoad::RunThread(int thread_index) {
  HttpClient client(port_);
  LoadResult local;
  for (std::int64_t n = 0; !stop_.load(std::memory_order_acquire); ++n) {
    ReserveRequest request;
    request.sku_id = options_.sku_id;
    request.user_id =
        options_.user_prefix + "-" + std::to_string(thread_index) + "-" + std::to_string(n);
    request.quantity = 1 + static_cast<std::int32_t>(n % options_.quantity_max);
    if (options_.idempotency_keys) request.idempotency_key = IdempotencyKeyOf(request.user_id);
    const HttpResponse response = Reserve(client, request);
    ++local.status_counts[response.status];
    if (response.status == 0) break;  // the server is gone or closing: stop this thread
    if (response.status != 201) continue;
    const std::optional<ReservationBody> body = ParseReservation(response.body);
    if (!body) {
      local.problems.push_back("unparsable 201 body: " + response.body);
      continue;
    }
    if (body->user_id != request.user_id || body->quantity != request.quantity) {
      local.problems.push_back("201 body does not match the request: " + response.body);
    }
    local.acknowledged.push_back({body->reservation_id, request.user_id, body->quantity});
    acknowledged_count_.fetch_add(1, std::memory_order_acq_rel);
    const bool release =
        options_.release_every > 0 &&
        local.acknowledged.size() % static_cast<std::size_t>(options_.release_every) == 0;
    if (!release) continue;
    local.release_requested.insert(body->reservation_id);
    const HttpResponse released = ReleaseReservation(client, body->reservation_id, request.user_id);
    if (released.status == 0) break;
    if (released.status != 200 || ReservationStatusOf(released) != "RELEASED") {
      local.problems.push_back("release answered " + released.Describe());
      continue;
    }
    local.released.push_back(local.acknowledged.back());
  }
  std::lock_guard<std::mutex> lock(result_mutex_);
  for (Acknowledged& ack : local.acknowledged) result_.acknowledged.push_back(std::move(ack));
  for (Acknowledged& ack : local.released) result_.released.push_back(std::move(ack));
  result_.release_requested.merge(local.release_requested);
  for (const auto& [status, count] : local.status_counts) result_.status_counts[status] += count;
  for (std::string& problem : local.problems) result_.problems.push_back(std::move(problem));
}

}  // namespace fs::itest
