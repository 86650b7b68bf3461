// Handlers of the orders: checkout (which starts the payment saga), the caller's order (read
// at once or held until it leaves PENDING), and the admin list, read and resolution of orders.
// All go through the writer.
#include <boost/asio/post.hpp>
#include <chrono>
#include <optional>

#include "http/handlers.h"
#include "http/replies.h"
#include "http/request_parsing.h"
#include "http/store_reads.h"

namespace fs::http::handlers {
namespace {

// Admin order lists are bounded: an operator pages through a backlog by resolving it.
constexpr std::size_t kAdminOrdersListMax = 1000;

using OrderReply = engine::Reply<std::optional<core::Order>>;

// The writer's answer to an order read; for an order it no longer keeps (final orders leave
// its memory), the stored row, if it is `user_id`'s (any user's when nullopt).
auto OrderOrStored(const ApiServices& services, const Exchange& exchange, std::string id,
                   std::optional<std::string> user_id, Response (*render)(const OrderReply&)) {
  return [&services, exchange, id = std::move(id), user_id = std::move(user_id), render,
          answer = PostBack<OrderReply>(exchange, render)](OrderReply reply) {
    if (!reply.status.ok() || reply.value) return answer(std::move(reply));
    SubmitStoreRead(services, exchange,
                    [id, user_id, render](audit::AuditSource& source) -> base::Result<Response> {
                      auto found = source.ReadOrder(id);
                      if (!found) return found.error();
                      if (*found && user_id && (*found)->user_id != *user_id) found->reset();
                      return render({base::Status::Ok(), std::move(*found)});
                    });
  };
}

// Reads the caller's order; when it is PENDING and `wait` is not zero, holds the read until
// the order leaves PENDING or `wait` runs out (OrderWaiters), then answers the order as it is.
void ReadOrder(const ApiServices& services, const Exchange& exchange, const std::string& id,
               const std::string& user_id, std::chrono::seconds wait) {
  auto read = OrderOrStored(services, exchange, id, user_id, &OrderResponse);
  if (wait == std::chrono::seconds::zero()) {
    return services.engine.Submit(engine::GetOrder{id, user_id}, std::move(read));
  }
  // Runs on the writer thread, so the read and the hold are ordered against every commit.
  auto hold = [&services, exchange, id, user_id, wait, read](OrderReply reply) {
    if (!reply.status.ok() || !reply.value || reply.value->status != core::OrderStatus::kPending) {
      return read(std::move(reply));
    }
    auto read_again = [&services, exchange, id, user_id] {
      boost::asio::post(exchange.executor, [&services, exchange, id, user_id] {
        ReadOrder(services, exchange, id, user_id, std::chrono::seconds::zero());
      });
    };
    auto wake = [exchange, read_again](std::optional<core::Order> order) {
      if (!order) return read_again();
      exchange.respond(OrderResponse({base::Status::Ok(), std::move(order)}));
    };
    switch (services.order_waiters.Hold(id, exchange.executor, wait, std::move(wake))) {
      case OrderWaiters::HoldOutcome::kHeld:
        return;
      case OrderWaiters::HoldOutcome::kAnswerNow:
        return read_again();
      case OrderWaiters::HoldOutcome::kFull:
        return boost::asio::post(exchange.executor, [exchange] {
          Response busy = ErrorResponse(503, code::kUnavailable,
                                        "too many order reads are waiting; read it again shortly");
          busy.headers.emplace_back("Retry-After", "1");
          exchange.respond(std::move(busy));
        });
    }
  };
  services.engine.Submit(engine::GetOrder{id, user_id}, std::move(hold));
}

bool IsFinal(core::OrderStatus status) {
  return status == core::OrderStatus::kPaid || status == core::OrderStatus::kFailed;
}

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
  command.buyer_email = std::move(call.email);
  command.idempotency_key = std::move(*key);
  command.request_id = std::string(call.request.request_id);
  if (call.request.trace.sampled) {
    command.traceparent =
        trace::FormatTraceparent(call.request.trace.trace_id, call.request.trace.span_id, true);
  }
  auto answer = PostBack<engine::ReplyOf<engine::Checkout>>(call.exchange, &CheckoutResponse);
  services.engine.Submit(
      engine::Checkout{command},
      [&services, exchange = call.exchange, id = command.reservation_id, user_id = command.user_id,
       answer](engine::ReplyOf<engine::Checkout> reply) {
        if (!reply.status.ok() ||
            reply.value.outcome != core::CheckoutOutcome::kReservationNotFound) {
          return answer(std::move(reply));
        }
        // Ended and forgotten by the writer: answered as it would have, from the stored row.
        SubmitStoreRead(services, exchange, [id, user_id](audit::AuditSource& source) {
          return EndedReservation(source, id, user_id, [](const core::Reservation& found) {
            core::CheckoutResult result;
            result.outcome = found.status == core::ReservationStatus::kExpired
                                 ? core::CheckoutOutcome::kReservationExpired
                                 : core::CheckoutOutcome::kReservationNotActive;
            return CheckoutResponse({base::Status::Ok(), std::move(result)});
          });
        });
      },
      call.request.trace);
}

void GetOrder(const ApiServices& services, Call& call) {
  const std::string id(call.match.params[0]);
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(OrderNotFound());
  const base::Result<std::chrono::seconds> wait = ParseWaitSeconds(call.request.target);
  if (!wait) return call.exchange.respond(InvalidRequest(wait.error()));
  // A stopping server holds nothing: the read is answered at once.
  const bool stopping = services.shutting_down.load(std::memory_order_acquire);
  ReadOrder(services, call.exchange, id, call.user_id,
            stopping ? std::chrono::seconds::zero() : *wait);
}

void AdminGetOrder(const ApiServices& services, Call& call) {
  const std::string id(call.match.params[0]);
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(OrderNotFound());
  services.engine.Submit(
      engine::GetOrderAsAdmin{id},
      OrderOrStored(services, call.exchange, id, std::nullopt, &AdminOrderResponse),
      call.request.trace);
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
  if (IsFinal(*status)) {
    // Final orders live in the store only (the writer keeps open ones).
    return SubmitStoreRead(
        services, call.exchange, [status](audit::AuditSource& source) -> base::Result<Response> {
          auto orders = source.ReadOrdersWithStatus(*status, kAdminOrdersListMax);
          if (!orders) return orders.error();
          return AdminOrdersResponse({base::Status::Ok(), std::move(*orders)});
        });
  }
  services.engine.Submit(engine::ListOrders{*status, kAdminOrdersListMax},
                         PostBack<engine::Reply<std::vector<core::Order>>>(std::move(call.exchange),
                                                                           &AdminOrdersResponse),
                         call.request.trace);
}

void AdminResolveOrder(const ApiServices& services, Call& call) {
  const std::string_view id = call.match.params[0];
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(OrderNotFound());
  auto choice = ParseResolveBody(call.request.body);
  if (!choice) return call.exchange.respond(InvalidRequest(choice.error()));
  auto answer = PostBack<engine::ReplyOf<engine::ResolveOrder>>(call.exchange, &ResolveResponse);
  services.engine.Submit(
      engine::ResolveOrder{std::string(id), *choice, std::string(call.request.request_id)},
      [&services, exchange = call.exchange, id = std::string(id),
       answer](engine::ReplyOf<engine::ResolveOrder> reply) {
        if (!reply.status.ok() || reply.value.outcome != core::ResolveOutcome::kOrderNotFound) {
          return answer(std::move(reply));
        }
        // A final order left the writer's memory: it is not resolvable, if it exists.
        SubmitStoreRead(services, exchange,
                        [id](audit::AuditSource& source) -> base::Result<Response> {
                          auto found = source.ReadOrder(id);
                          if (!found) return found.error();
                          core::ResolveResult result;
                          if (*found) result.outcome = core::ResolveOutcome::kNotNeedsAttention;
                          result.order = std::move(*found);
                          return ResolveResponse({base::Status::Ok(), std::move(result)});
                        });
      },
      call.request.trace);
}

}  // namespace fs::http::handlers
