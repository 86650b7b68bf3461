#include "http/replies.h"

#include <spdlog/spdlog.h>

#include "auth/queue_pass.h"
#include "base/check.h"
#include "core/rules.h"
#include "http/json_render.h"

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

Response AuditReadFailure(const base::Status& status) {
  spdlog::warn("audit read failed: {}", status.ToString());
  return OutcomeResponse({503, code::kUnavailable, "the audit trail cannot be read right now"});
}

Response ReserveResponse(const engine::ReserveReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::ReserveResult& result = reply.result;
  if (result.outcome == core::ReserveOutcome::kReplayed) {
    FS_CHECK(result.replay.has_value());
    return ReplayResponse(*result.replay);
  }
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.reservation.has_value());
  return JsonResponse(outcome.status, RenderReservation(*result.reservation));
}

Response ReleaseResponse(const engine::ReleaseReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const HttpOutcome outcome = MapOutcome(reply.result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(reply.result.reservation.has_value());
  return JsonResponse(outcome.status, RenderReservation(*reply.result.reservation));
}

Response ReservationResponse(const engine::ReservationReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  if (!reply.reservation) return ReservationNotFound();
  return JsonResponse(200, RenderReservation(*reply.reservation));
}

Response CreateSaleResponse(const engine::CreateSaleReply& reply, base::Time now) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::CreateSaleResult& result = reply.result;
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

Response AdminSaleResponse(const engine::AdminSaleReply& reply, base::Time now) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::AdminSaleResult& result = reply.result;
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.sale.has_value());
  FS_CHECK(result.counters.has_value());
  return JsonResponse(outcome.status, RenderAdminSale(*result.sale, *result.counters,
                                                      core::ComputeSaleStatus(
                                                          *result.sale, *result.counters, now)));
}

Response CheckoutResponse(const engine::CheckoutReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::CheckoutResult& result = reply.result;
  if (result.outcome == core::CheckoutOutcome::kReplayed) {
    FS_CHECK(result.replay.has_value());
    return ReplayResponse(*result.replay);
  }
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.order.has_value());
  return JsonResponse(outcome.status, RenderCheckout(*result.order));
}

Response OrderResponse(const engine::OrderReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  if (!reply.order) return OrderNotFound();
  return JsonResponse(200, RenderOrder(*reply.order));
}

Response AdminOrderResponse(const engine::OrderReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  if (!reply.order) return OrderNotFound();
  return JsonResponse(200, RenderAdminOrder(*reply.order));
}

Response AdminOrdersResponse(const engine::OrdersReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  return JsonResponse(200, RenderAdminOrders(reply.orders));
}

Response ResolveResponse(const engine::ResolveReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const HttpOutcome outcome = MapOutcome(reply.result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(reply.result.order.has_value());
  return JsonResponse(outcome.status, RenderAdminOrder(*reply.result.order));
}

Response JoinQueueResponse(const engine::JoinQueueReply& reply, const std::string& pass_key) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const HttpOutcome outcome = MapOutcome(reply.result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(reply.result.view.has_value());
  return QueueTicketResponse(outcome.status, *reply.result.view, pass_key);
}

Response QueueTicketReplyResponse(const engine::QueueTicketReply& reply,
                                  const std::string& pass_key) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  // Another user's ticket is as unknown as a made-up one.
  if (!reply.ticket) return TicketNotFound();
  return QueueTicketResponse(200, *reply.ticket, pass_key);
}

}  // namespace fs::http
