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
// Whether an If-None-Match value names `etag` (a list, weak tags, or "*").
bool MatchesEtag(std::string_view header, std::string_view etag);
// A public JSON read that a cache in front (CDN, gateway) may keep for a second: 200 with an
// ETag made from the body and Cache-Control: public, max-age=1, or 304 with the same fields
// when `if_none_match` names that ETag.
Response CacheableJsonResponse(std::string body, std::optional<std::string_view> if_none_match);
Response OrderNotFound();
Response TicketNotFound();
Response ReservationNotFound();
// A read of the audit trail failed (busy or unreadable database): 503, logged.
Response StoreReadFailure(const base::Status& status);

// Engine replies.
// The answers stored with the idempotency key of a request that created something, replayed
// byte for byte to its repeats: the same status and body as the first answer, made here only.
// The engine stores them (engine::Options::stored_replies).
engine::StoredReplies StoredReplies();

Response ReserveResponse(const engine::ReplyOf<engine::Reserve>& reply);
Response ReleaseResponse(const engine::ReplyOf<engine::Release>& reply);
Response ReservationResponse(const engine::ReplyOf<engine::GetReservation>& reply);
Response CreateSaleResponse(const engine::ReplyOf<engine::CreateSale>& reply, base::Time now);
Response AdminSaleResponse(const engine::Reply<core::AdminSaleResult>& reply, base::Time now);
Response CheckoutResponse(const engine::ReplyOf<engine::Checkout>& reply);
Response OrderResponse(const engine::Reply<std::optional<core::Order>>& reply);
Response AdminOrderResponse(const engine::Reply<std::optional<core::Order>>& reply);
Response AdminOrdersResponse(const engine::Reply<std::vector<core::Order>>& reply);
Response ResolveResponse(const engine::ReplyOf<engine::ResolveOrder>& reply);
Response JoinQueueResponse(const engine::ReplyOf<engine::JoinQueue>& reply,
                           const std::string& pass_key);
Response QueueTicketReplyResponse(const engine::ReplyOf<engine::GetQueueTicket>& reply,
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
