// Handlers of the fair waiting room: joining a sale's room and polling a ticket. A ticket's
// pass is signed here (crypto stays out of the writer), only for an admitted ticket and only
// in an answer to its owner.
#include "core/rules.h"
#include "http/handlers.h"
#include "http/replies.h"
#include "http/request_parsing.h"

namespace fs::http::handlers {

void JoinQueue(const ApiServices& services, Call& call) {
  const std::string sku_id(call.match.params[0]);
  if (!core::IsValidSkuId(sku_id)) return call.exchange.respond(SkuNotFound());
  const std::string* key = &services.queue_pass_key;
  services.engine.Submit(engine::JoinQueue{sku_id, std::move(call.user_id)},
                         PostBack<engine::ReplyOf<engine::JoinQueue>>(
                             std::move(call.exchange),
                             [key](const engine::ReplyOf<engine::JoinQueue>& reply) {
                               return JoinQueueResponse(reply, *key);
                             }),
                         call.request.trace);
}

void GetQueueTicket(const ApiServices& services, Call& call) {
  const std::string sku_id(call.match.params[0]);
  const std::string_view ticket_id = call.match.params[1];
  if (!core::IsValidSkuId(sku_id) || !IsPlausibleReservationId(ticket_id)) {
    return call.exchange.respond(TicketNotFound());
  }
  const std::string* key = &services.queue_pass_key;
  services.engine.Submit(
      engine::GetQueueTicket{sku_id, std::string(ticket_id), std::move(call.user_id)},
      PostBack<engine::ReplyOf<engine::GetQueueTicket>>(
          std::move(call.exchange),
          [key](const engine::ReplyOf<engine::GetQueueTicket>& reply) {
            return QueueTicketReplyResponse(reply, *key);
          }),
      call.request.trace);
}

}  // namespace fs::http::handlers
