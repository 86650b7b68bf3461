// Handlers of the orders: checkout (which starts the payment saga), the caller's order, and
// the admin list, read and resolution of orders. All go through the writer.
#include <optional>

#include "http/handlers.h"
#include "http/replies.h"
#include "http/request_parsing.h"

namespace fs::http::handlers {
namespace {

// Admin order lists are bounded: an operator pages through a backlog by resolving it.
constexpr std::size_t kAdminOrdersListMax = 1000;

}  // namespace

void Checkout(const ApiServices& services, Call& call) {
  auto body = ParseCheckoutBody(call.request.body);
  if (!body) return call.exchange.respond(InvalidRequest(body.error()));
  auto key = ResolveIdempotencyKey(call.request.idempotency_key, body->idempotency_key);
  if (!key) return call.exchange.respond(InvalidRequest(key.error()));
  core::CheckoutCommand command;
  command.reservation_id = std::move(body->reservation_id);
  command.user_id = std::move(call.user_id);
  command.payment_method_id = std::move(body->payment_method_id);
  command.idempotency_key = std::move(*key);
  services.engine.Submit(
      engine::Checkout{std::move(command)},
      PostBack<engine::ReplyOf<engine::Checkout>>(std::move(call.exchange), &CheckoutResponse));
}

void GetOrder(const ApiServices& services, Call& call) {
  const std::string_view id = call.match.params[0];
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(OrderNotFound());
  services.engine.Submit(engine::GetOrder{std::string(id), std::move(call.user_id)},
                         PostBack<engine::Reply<std::optional<core::Order>>>(
                             std::move(call.exchange), &OrderResponse));
}

void AdminGetOrder(const ApiServices& services, Call& call) {
  const std::string_view id = call.match.params[0];
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(OrderNotFound());
  services.engine.Submit(engine::GetOrderAsAdmin{std::string(id)},
                         PostBack<engine::Reply<std::optional<core::Order>>>(
                             std::move(call.exchange), &AdminOrderResponse));
}

void AdminListOrders(const ApiServices& services, Call& call) {
  const std::optional<std::string_view> status_text = QueryParameter(call.request.target, "status");
  if (!status_text) {
    return call.exchange.respond(
        ErrorResponse(400, code::kInvalidRequest, "the status query parameter is required"));
  }
  const std::optional<core::OrderStatus> status = core::OrderStatusFromName(*status_text);
  if (!status) {
    return call.exchange.respond(ErrorResponse(
        400, code::kInvalidRequest, "status must be PENDING, PAID, FAILED or NEEDS_ATTENTION"));
  }
  services.engine.Submit(engine::ListOrders{*status, kAdminOrdersListMax},
                         PostBack<engine::Reply<std::vector<core::Order>>>(std::move(call.exchange),
                                                                           &AdminOrdersResponse));
}

void AdminResolveOrder(const ApiServices& services, Call& call) {
  const std::string_view id = call.match.params[0];
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(OrderNotFound());
  auto choice = ParseResolveBody(call.request.body);
  if (!choice) return call.exchange.respond(InvalidRequest(choice.error()));
  services.engine.Submit(
      engine::ResolveOrder{std::string(id), *choice},
      PostBack<engine::ReplyOf<engine::ResolveOrder>>(std::move(call.exchange), &ResolveResponse));
}

}  // namespace fs::http::handlers
