#include "http/replies.h"

#include "auth/queue_pass.h"
#include "base/check.h"
#include "core/rules.h"
#include "crypto/sha256.h"
#include "http/json_render.h"
#include "log/log_output.h"

namespace fs::http {
namespace {

// The stored answer to a repeated Idempotency-Key: original status and body, marked replayed.
Response ReplayResponse(const core::IdempotencyRecord& record) {
  Response response{static_cast<unsigned>(record.http_status), record.response_body};
  response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

// The pass is rendered (signed) only for an admitted ticket, and these handlers answer only
// the ticket's owner.
Response QueueTicketResponse(unsigned status, const core::TicketView& view,
                             const std::string& pass_key) {
  if (view.status != core::TicketStatus::kAdmitted) {
    return JsonResponse(status, RenderQueueTicket(view, nullptr));
  }
  const std::string pass = auth::SignQueuePass(view.ticket, pass_key);
  return JsonResponse(status, RenderQueueTicket(view, &pass));
}

}  // namespace

Response ErrorResponse(unsigned status, std::string_view code, std::string_view message) {
  return Response{status, RenderError(code, message)};
}

Response JsonResponse(unsigned status, std::string body) {
  return Response{status, std::move(body)};
}

Response OutcomeResponse(const HttpOutcome& outcome) {
  Response response = ErrorResponse(outcome.status, outcome.error_code, outcome.message);
  // 503s are transient by contract: tell well-behaved clients when to come back.
  if (outcome.status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

Response InvalidRequest(const base::Status& status) {
  return ErrorResponse(400, code::kInvalidRequest, status.message());
}

Response Unauthenticated(std::string_view message) {
  Response response = ErrorResponse(401, code::kUnauthenticated, message);
  response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

// RateLimit-* fields (IETF draft): Limit is the tier's requests per minute, Remaining the
// whole requests left in the tightest bucket, Reset the seconds until that bucket is full.
Response RateLimited(const ratelimit::Decision& decision) {
  Response response = ErrorResponse(
      429, code::kRateLimited,
      "too many requests (" + std::string(ratelimit::ThrottleReasonName(decision.reason)) +
          "); retry after " + std::to_string(decision.retry_after_seconds) + " s");
  response.headers.emplace_back("Retry-After", std::to_string(decision.retry_after_seconds));
  response.headers.emplace_back("RateLimit-Limit",
                                std::to_string(decision.limit.requests_per_minute));
  response.headers.emplace_back("RateLimit-Remaining", std::to_string(decision.remaining));
  response.headers.emplace_back("RateLimit-Reset", std::to_string(decision.reset_seconds));
  return response;
}

Response SkuNotFound() { return OutcomeResponse(MapOutcome(core::ReserveOutcome::kSkuNotFound)); }

Response OrderNotFound() {
  return OutcomeResponse(MapOutcome(core::ResolveOutcome::kOrderNotFound));
}

Response TicketNotFound() {
  return OutcomeResponse({404, code::kTicketNotFound, "no such queue ticket"});
}

Response ReservationNotFound() {
  return OutcomeResponse(MapOutcome(core::ReleaseOutcome::kNotFound));
}

Response StoreReadFailure(const base::Status& status) {
  log::Logger("http")->warn("store read failed: {}", status.ToString());
  return OutcomeResponse(
      {503, code::kUnavailable, "the store cannot be read right now; retry shortly"});
}

namespace {

core::StoredReply CreatedReservation(const core::Reservation& reservation) {
  return core::StoredReply{
      static_cast<std::int32_t>(MapOutcome(core::ReserveOutcome::kReserved).status),
      RenderReservation(reservation)};
}

core::StoredReply CreatedOrder(const core::Order& order) {
  return core::StoredReply{
      static_cast<std::int32_t>(MapOutcome(core::CheckoutOutcome::kCreated).status),
      RenderCheckout(order)};
}

Response StoredResponse(core::StoredReply reply) {
  return JsonResponse(static_cast<unsigned>(reply.status), std::move(reply.body));
}

}  // namespace

engine::StoredReplies StoredReplies() { return {&CreatedReservation, &CreatedOrder}; }

Response ReserveResponse(const engine::ReplyOf<engine::Reserve>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::ReserveResult& result = reply.value;
  if (result.outcome == core::ReserveOutcome::kReplayed) {
    FS_CHECK(result.replay.has_value());
    return ReplayResponse(*result.replay);
  }
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.reservation.has_value());
  return StoredResponse(CreatedReservation(*result.reservation));
}

Response ReleaseResponse(const engine::ReplyOf<engine::Release>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const HttpOutcome outcome = MapOutcome(reply.value.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(reply.value.reservation.has_value());
  return JsonResponse(outcome.status, RenderReservation(*reply.value.reservation));
}

Response ReservationResponse(const engine::ReplyOf<engine::GetReservation>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  if (!reply.value) return ReservationNotFound();
  return JsonResponse(200, RenderReservation(*reply.value));
}

Response CreateSaleResponse(const engine::ReplyOf<engine::CreateSale>& reply, base::Time now) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::CreateSaleResult& result = reply.value;
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (result.outcome == core::CreateSaleOutcome::kInvalid) {
    return ErrorResponse(outcome.status, outcome.error_code, result.invalid_reason);
  }
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.sale.has_value());
  const core::StockCounters counters{result.sale->total_stock, 0, 0};
  return JsonResponse(outcome.status,
                      RenderAdminSale(*result.sale, counters,
                                      core::ComputeSaleStatus(*result.sale, counters, now)));
}

Response AdminSaleResponse(const engine::Reply<core::AdminSaleResult>& reply, base::Time now) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::AdminSaleResult& result = reply.value;
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.sale.has_value());
  FS_CHECK(result.counters.has_value());
  return JsonResponse(outcome.status, RenderAdminSale(*result.sale, *result.counters,
                                                      core::ComputeSaleStatus(
                                                          *result.sale, *result.counters, now)));
}

Response CheckoutResponse(const engine::ReplyOf<engine::Checkout>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::CheckoutResult& result = reply.value;
  if (result.outcome == core::CheckoutOutcome::kReplayed) {
    FS_CHECK(result.replay.has_value());
    return ReplayResponse(*result.replay);
  }
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.order.has_value());
  return StoredResponse(CreatedOrder(*result.order));
}

Response OrderResponse(const engine::Reply<std::optional<core::Order>>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  if (!reply.value) return OrderNotFound();
  return JsonResponse(200, RenderOrder(*reply.value));
}

Response AdminOrderResponse(const engine::Reply<std::optional<core::Order>>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  if (!reply.value) return OrderNotFound();
  return JsonResponse(200, RenderAdminOrder(*reply.value));
}

Response AdminOrdersResponse(const engine::Reply<std::vector<core::Order>>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  return JsonResponse(200, RenderAdminOrders(reply.value));
}

Response ResolveResponse(const engine::ReplyOf<engine::ResolveOrder>& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const HttpOutcome outcome = MapOutcome(reply.value.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(reply.value.order.has_value());
  return JsonResponse(outcome.status, RenderAdminOrder(*reply.value.order));
}

Response JoinQueueResponse(const engine::ReplyOf<engine::JoinQueue>& reply,
                           const std::string& pass_key) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const HttpOutcome outcome = MapOutcome(reply.value.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(reply.value.view.has_value());
  return QueueTicketResponse(outcome.status, *reply.value.view, pass_key);
}

Response QueueTicketReplyResponse(const engine::ReplyOf<engine::GetQueueTicket>& reply,
                                  const std::string& pass_key) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  // Another user's ticket is as unknown as a made-up one.
  if (!reply.value) return TicketNotFound();
  return QueueTicketResponse(200, *reply.value, pass_key);
}

bool MatchesEtag(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

Response CacheableJsonResponse(std::string body, std::optional<std::string_view> if_none_match) {
  std::string etag = "\"" + crypto::Sha256Hex(body).substr(0, 32) + "\"";
  const bool unchanged = if_none_match && MatchesEtag(*if_none_match, etag);
  Response response = unchanged ? Response(304, "") : JsonResponse(200, std::move(body));
  response.headers.emplace_back("ETag", std::move(etag));
  response.headers.emplace_back("Cache-Control", "public, max-age=1");
  return response;
}

}  // namespace fs::http
