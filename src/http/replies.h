// Reply mapping: how an engine reply or a refusal becomes a Response. Every business outcome
// goes through the one outcome -> status table (outcome_table.h); this file only adds bodies
// and headers (Retry-After, Idempotent-Replayed, the RateLimit-* fields) around it.
//
// Thread-safety: pure functions. PostBack's callback runs on the writer thread and only posts;
// the mapping itself runs on the connection's executor.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "base/status.h"
#include "core/waiting_room.h"
#include "engine/engine.h"
#include "http/api_services.h"
#include "http/exchange.h"
#include "http/outcome_table.h"
#include "http/reply_batch.h"
#include "ratelimit/rate_limiter.h"

namespace fs::http {

// Builders of common responses.
Response ErrorResponse(unsigned status, std::string_view code, std::string_view message);
Response JsonResponse(unsigned status, std::string body);
// An error from the outcome table; a 503 carries Retry-After: 1 (503s are transient).
Response OutcomeResponse(const HttpOutcome& outcome);
Response InvalidRequest(const base::Status& status);
Response Unauthenticated(std::string_view message);
// 429 RATE_LIMITED with Retry-After and the RateLimit-* fields of `decision`.
Response RateLimited(const ratelimit::Decision& decision);
Response SkuNotFound();
Response OrderNotFound();
Response TicketNotFound();
Response ReservationNotFound();
// A read of the audit trail failed (busy or unreadable database): 503, logged.
Response AuditReadFailure(const base::Status& status);

// Engine replies.
Response ReserveResponse(const engine::ReserveReply& reply);
Response ReleaseResponse(const engine::ReleaseReply& reply);
Response ReservationResponse(const engine::ReservationReply& reply);
Response CreateSaleResponse(const engine::CreateSaleReply& reply, base::Time now);
Response AdminSaleResponse(const engine::AdminSaleReply& reply, base::Time now);
Response CheckoutResponse(const engine::CheckoutReply& reply);
Response OrderResponse(const engine::OrderReply& reply);
Response AdminOrderResponse(const engine::OrderReply& reply);
Response AdminOrdersResponse(const engine::OrdersReply& reply);
Response ResolveResponse(const engine::ResolveReply& reply);
Response JoinQueueResponse(const engine::JoinQueueReply& reply, const std::string& pass_key);
Response QueueTicketReplyResponse(const engine::QueueTicketReply& reply,
                                  const std::string& pass_key);

// An engine callback (writer thread) that posts the reply to the connection's executor and
// maps it there with `render` (Reply -> Response), which must be cheap to copy.
template <typename Reply, typename Render>
auto PostBack(Exchange exchange, Render render) {
  return [executor = std::move(exchange.executor), respond = std::move(exchange.respond),
          render](Reply reply) {
    ReplyBatch::Post(executor, [respond, render, reply = std::move(reply)]() mutable {
      respond(render(reply));
    });
  };
}

}  // namespace fs::http
