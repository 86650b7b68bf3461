#include "core/order.h"

#include <algorithm>
#include <charconv>

#include "base/check.h"
#include "base/time_format.h"
#include "core/audit.h"

namespace fs::core {

std::string_view OrderStatusName(OrderStatus status) {
  switch (status) {
    case OrderStatus::kPending:
      return "PENDING";
    case OrderStatus::kPaid:
      return "PAID";
    case OrderStatus::kFailed:
      return "FAILED";
    case OrderStatus::kNeedsAttention:
      return "NEEDS_ATTENTION";
  }
  return "UNKNOWN";
}

std::optional<OrderStatus> OrderStatusFromInt(int value) {
  if (value < 1 || value > 4) return std::nullopt;
  return static_cast<OrderStatus>(value);
}

std::optional<OrderStatus> OrderStatusFromName(std::string_view name) {
  for (int value = 1; value <= 4; ++value) {
    const auto status = static_cast<OrderStatus>(value);
    if (OrderStatusName(status) == name) return status;
  }
  return std::nullopt;
}

bool IsAllowedOrderTransition(OrderStatus from, OrderStatus to) {
  using S = OrderStatus;
  switch (from) {
    case S::kPending:
      return to == S::kPaid || to == S::kFailed || to == S::kNeedsAttention;
    case S::kNeedsAttention:
      return to == S::kPaid || to == S::kFailed;
    case S::kPaid:
    case S::kFailed:
      return false;
  }
  return false;
}

bool IsValidPaymentMethodId(std::string_view payment_method_id) {
  if (payment_method_id.empty() || payment_method_id.size() > kPaymentMethodIdBytesMax)
    return false;
  for (char c : payment_method_id) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '_' && c != '-') return false;
  }
  return true;
}

RetrySchedule DefaultRetrySchedule() {
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  using std::chrono::seconds;
  return RetrySchedule{{seconds(1), seconds(2), seconds(4), seconds(8), seconds(16), seconds(32),
                        minutes(1), minutes(2), minutes(5), minutes(10)},
                       kRetryJitterPercent};
}

namespace {

std::optional<std::chrono::milliseconds> ParseDelay(std::string_view item) {
  std::int64_t number = 0;
  const char* begin = item.data();
  const char* end = item.data() + item.size();
  const auto [rest, error] = std::from_chars(begin, end, number);
  if (error != std::errc() || rest == begin || number <= 0) return std::nullopt;
  const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  // One day at most per step: bigger numbers are typos, and the product stays far from
  // overflow.
  constexpr std::int64_t kDelayMsMax = 24LL * 3600 * 1000;
  std::int64_t ms = 0;
  if (unit == "ms") {
    ms = number;
  } else if (unit == "s") {
    if (number > kDelayMsMax / 1000) return std::nullopt;
    ms = number * 1000;
  } else if (unit == "m") {
    if (number > kDelayMsMax / 60000) return std::nullopt;
    ms = number * 60000;
  } else {
    return std::nullopt;
  }
  if (ms > kDelayMsMax) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

}  // namespace

std::optional<RetrySchedule> ParseRetrySchedule(std::string_view text) {
  RetrySchedule schedule;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::size_t stop = comma == std::string_view::npos ? text.size() : comma;
    const auto delay = ParseDelay(text.substr(start, stop - start));
    if (!delay) return std::nullopt;
    schedule.delays.push_back(*delay);
    if (schedule.delays.size() > kRetryScheduleLengthMax) return std::nullopt;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (schedule.delays.empty()) return std::nullopt;
  schedule.jitter_percent = kRetryJitterPercent;
  return schedule;
}

RetryDecision DecideRetry(const RetrySchedule& schedule, std::int32_t attempts_done, Time now,
                          std::string_view order_id, std::chrono::milliseconds retry_after) {
  FS_CHECK(attempts_done >= 1);
  const auto index = static_cast<std::size_t>(attempts_done - 1);
  if (index >= schedule.delays.size()) return {RetryDecision::Kind::kNeedsAttention, now};
  std::chrono::milliseconds delay = schedule.delays[index];
  if (schedule.jitter_percent > 0) {
    // FNV-1a over the order id and the attempt: a fixed point in [-jitter, +jitter] per order.
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : order_id) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    hash = (hash ^ static_cast<std::uint64_t>(attempts_done)) * 1099511628211ULL;
    const std::int64_t jitter = schedule.jitter_percent;
    const std::int64_t span = 2 * jitter + 1;
    const std::int64_t percent =
        static_cast<std::int64_t>(hash % static_cast<std::uint64_t>(span)) -
        schedule.jitter_percent;
    delay += delay * percent / 100;
  }
  delay = std::max(delay, std::min(retry_after, kRetryAfterMax));
  return {RetryDecision::Kind::kRetry, now + delay};
}

// One JSON string escaper in core: the audit trail's (core/audit.h).
std::string JsonString(std::string_view text) { return JsonQuote(text); }

std::string ReservationEventPayload(const Reservation& reservation, std::string_view request_id) {
  std::string out = "{\"reservation_id\":" + JsonString(reservation.reservation_id);
  out += ",\"sku_id\":" + JsonString(reservation.sku_id);
  out += ",\"user_id\":" + JsonString(reservation.user_id);
  out += ",\"quantity\":" + std::to_string(reservation.quantity);
  out += ",\"status\":" + JsonString(ReservationStatusName(reservation.status));
  out += ",\"expires_at\":" + JsonString(base::FormatRfc3339(reservation.expires_at));
  if (!request_id.empty()) out += ",\"request_id\":" + JsonString(request_id);
  out += '}';
  return out;
}

namespace {

// The fields every order event carries, without the closing brace.
std::string OrderEventPayloadFields(const Order& order) {
  std::string out = "{\"order_id\":" + JsonString(order.order_id);
  out += ",\"reservation_id\":" + JsonString(order.reservation_id);
  out += ",\"sku_id\":" + JsonString(order.sku_id);
  out += ",\"user_id\":" + JsonString(order.user_id);
  out += ",\"quantity\":" + std::to_string(order.quantity);
  out += ",\"amount_cents\":" + std::to_string(order.amount_cents);
  out += ",\"currency\":" + JsonString(order.currency);
  out += ",\"status\":" + JsonString(OrderStatusName(order.status));
  out += ",\"attempts\":" + std::to_string(order.attempts);
  out += ",\"failure_reason\":";
  out += order.failure_reason.empty() ? "null" : JsonString(order.failure_reason);
  if (!order.request_id.empty()) out += ",\"request_id\":" + JsonString(order.request_id);
  return out;
}

}  // namespace

std::string OrderEventPayload(const Order& order) {
  std::string out = OrderEventPayloadFields(order);
  out += '}';
  return out;
}

std::string OrderNotificationPayload(const Order& order, std::string_view sale_name) {
  std::string out = OrderEventPayloadFields(order);
  out += ",\"sale_name\":" + JsonString(sale_name);
  out += ",\"buyer_email\":";
  out += order.buyer_email.empty() ? "null" : JsonString(order.buyer_email);
  out += '}';
  return out;
}

}  // namespace fs::core
