#include "http/api.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <exception>

#include "auth/jwt.h"
#include "core/rules.h"
#include "http/json_render.h"
#include "http/outcome_table.h"
#include "http/request_parsing.h"

namespace fs::http {
namespace {

enum RouteId : int {
  kCreateSale,
  kAdminGetSale,
  kGetProduct,
  kGetAvailability,
  kReserveForSku,
  kReserve,
  kGetReservation,
  kReleaseReservation,
  kHealthz,
  kReadyz,
  kMetrics,
  kCheckout,
  kCheckoutAlias,
  kGetOrder,
  kAdminListOrders,
  kAdminGetOrder,
  kAdminResolveOrder,
};

struct RouteSpec {
  Method method;
  std::string_view path_template;
  RouteId id;
};

constexpr RouteSpec kRoutes[] = {
    {Method::kPost, "/admin/v1/skus", kCreateSale},
    {Method::kGet, "/admin/v1/skus/{sku}", kAdminGetSale},
    {Method::kGet, "/api/v1/products/{sku}", kGetProduct},
    {Method::kGet, "/api/v1/products/{sku}/availability", kGetAvailability},
    {Method::kPost, "/api/v1/products/{sku}/reserve", kReserveForSku},
    {Method::kPost, "/api/v1/reserve", kReserve},
    {Method::kGet, "/api/v1/reservations/{id}", kGetReservation},
    {Method::kDelete, "/api/v1/reservations/{id}", kReleaseReservation},
    {Method::kGet, "/healthz", kHealthz},
    {Method::kGet, "/readyz", kReadyz},
    {Method::kGet, "/metrics", kMetrics},
    {Method::kPost, "/api/v1/checkout", kCheckout},
    {Method::kPost, "/api/v1/orders/checkout", kCheckoutAlias},
    {Method::kGet, "/api/v1/orders/{id}", kGetOrder},
    {Method::kGet, "/admin/v1/orders", kAdminListOrders},
    {Method::kGet, "/admin/v1/orders/{id}", kAdminGetOrder},
    {Method::kPost, "/admin/v1/orders/{id}/resolve", kAdminResolveOrder},
};

Router BuildRouter() {
  Router router;
  for (const RouteSpec& route : kRoutes) router.Add(route.method, route.path_template, route.id);
  return router;
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

// An engine callback (writer thread) that posts the reply to the connection's executor and
// renders it there. `render` maps the reply to a Response and must be cheap to copy.
template <typename Reply, typename Render>
auto PostBack(boost::asio::any_io_executor executor, Respond respond, Render render) {
  return [executor = std::move(executor), respond = std::move(respond), render](Reply reply) {
    boost::asio::post(executor, [respond, render, reply = std::move(reply)]() mutable {
      respond(render(reply));
    });
  };
}

Response ReserveResponse(const engine::ReserveReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::ReserveResult& result = reply.result;
  if (result.outcome == core::ReserveOutcome::kReplayed) {
    FS_CHECK(result.replay.has_value());
    Response response{static_cast<unsigned>(result.replay->http_status),
                      result.replay->response_body};
    response.headers.emplace_back("Idempotent-Replayed", "true");
    return response;
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
  if (!reply.reservation) return OutcomeResponse(MapOutcome(core::ReleaseOutcome::kNotFound));
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

Response CheckoutResponse(const engine::CheckoutReply& reply) {
  if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
  const core::CheckoutResult& result = reply.result;
  if (result.outcome == core::CheckoutOutcome::kReplayed) {
    FS_CHECK(result.replay.has_value());
    Response response{static_cast<unsigned>(result.replay->http_status),
                      result.replay->response_body};
    response.headers.emplace_back("Idempotent-Replayed", "true");
    return response;
  }
  const HttpOutcome outcome = MapOutcome(result.outcome);
  if (outcome.is_error()) return OutcomeResponse(outcome);
  FS_CHECK(result.order.has_value());
  return JsonResponse(outcome.status, RenderCheckout(*result.order));
}

Response OrderNotFound() {
  return OutcomeResponse(MapOutcome(core::ResolveOutcome::kOrderNotFound));
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

// Admin order lists are bounded: an operator pages through a backlog by resolving it.
constexpr std::size_t kAdminOrdersListMax = 1000;

Response SkuNotFound() { return OutcomeResponse(MapOutcome(core::ReserveOutcome::kSkuNotFound)); }

}  // namespace

Response ErrorResponse(unsigned status, std::string_view code, std::string_view message) {
  return Response{status, RenderError(code, message)};
}

Response JsonResponse(unsigned status, std::string body) {
  return Response{status, std::move(body)};
}

Api::Api(ApiOptions options, engine::Engine& engine, metrics::HttpMetrics& metrics)
    : options_(std::move(options)), engine_(engine), metrics_(metrics), router_(BuildRouter()) {
  unmatched_route_index_ = router_.Templates().size();
  FS_CHECK(metrics_.requests.route_labels().size() == unmatched_route_index_ + 1);
}

std::vector<std::string> Api::RouteLabels() {
  std::vector<std::string> labels = BuildRouter().Templates();
  labels.emplace_back(kUnmatchedRouteLabel);
  return labels;
}

void Api::Handle(const Request& request, const boost::asio::any_io_executor& executor,
                 Respond respond) {
  const auto started = std::chrono::steady_clock::now();
  const RouteMatch match = router_.Match(request.method, request.target);
  const bool found = match.kind == RouteMatch::Kind::kFound;
  // A 405 still names its route template: only paths no route knows count as unmatched.
  const std::size_t label =
      match.kind == RouteMatch::Kind::kNotFound ? unmatched_route_index_ : match.template_index;
  const bool is_reserve = found && (match.route_id == kReserve || match.route_id == kReserveForSku);
  // Counting happens as the response leaves, so async answers are counted with their code.
  Exchange exchange{executor, [this, label, is_reserve, started,
                               respond = std::move(respond)](Response response) {
                      metrics_.requests.Increment(label, response.status);
                      if (is_reserve) {
                        metrics_.reservation_latency.Observe(std::chrono::steady_clock::now() -
                                                             started);
                      }
                      respond(std::move(response));
                    }};
  if (match.kind == RouteMatch::Kind::kNotFound) {
    return exchange.respond(ErrorResponse(404, code::kNotFound, "no such route"));
  }
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    Response response = ErrorResponse(405, code::kMethodNotAllowed,
                                       "method not allowed on this route; allowed: " + match.allow);
    response.headers.emplace_back("Allow", match.allow);
    return exchange.respond(std::move(response));
  }
  try {
    Dispatch(match.route_id, request, match, exchange);
  } catch (const std::exception& error) {
    // Handlers do not throw by design; this is a bug or bad_alloc. Answer (with a code from
    // the public set: retrying may well succeed) rather than drop the connection.
    spdlog::error("handler for {} {} threw: {}", MethodName(request.method), request.target,
                  error.what());
    exchange.respond(OutcomeResponse({503, code::kUnavailable, "internal error; retry"}));
  }
}

void Api::Dispatch(int route_id, const Request& request, const Params& params,
                   Exchange exchange) {
  switch (static_cast<RouteId>(route_id)) {
    case kCreateSale: return CreateSale(request, std::move(exchange));
    case kAdminGetSale: return AdminGetSale(request, params, std::move(exchange));
    case kGetProduct: return GetProduct(params, std::move(exchange));
    case kGetAvailability: return GetAvailability(params, std::move(exchange));
    case kReserveForSku:
    case kReserve: return Reserve(request, params, std::move(exchange));
    case kGetReservation: return GetReservation(request, params, std::move(exchange));
    case kReleaseReservation: return ReleaseReservation(request, params, std::move(exchange));
    case kHealthz: return exchange.respond(JsonResponse(200, RenderStatusBody("ok")));
    case kReadyz: return Readyz(std::move(exchange));
    case kMetrics: return Metrics(std::move(exchange));
    case kCheckout:
    case kCheckoutAlias: return Checkout(request, std::move(exchange));
    case kGetOrder: return GetOrder(request, params, std::move(exchange));
    case kAdminListOrders: return AdminListOrders(request, std::move(exchange));
    case kAdminGetOrder: return AdminGetOrder(request, params, std::move(exchange));
    case kAdminResolveOrder: return AdminResolveOrder(request, params, std::move(exchange));
  }
  FS_CHECK(false);
}

std::variant<std::string, Response> Api::AuthenticateUser(const Request& request) const {
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  if (!token) return Unauthenticated("missing bearer token");
  auth::VerifyResult verified = auth::VerifyHs256(*token, options_.jwt_secret,
                                                  engine_.clock().Now());
  if (verified.error != auth::JwtError::kOk) {
    return Unauthenticated(auth::JwtErrorMessage(verified.error));
  }
  return std::move(verified.claims.subject);
}

std::optional<Response> Api::AuthenticateAdmin(const Request& request) const {
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  if (!token) return Unauthenticated("missing bearer token");
  // Constant time: response timing must not reveal how much of a guess was right.
  if (!auth::ConstantTimeEquals(*token, options_.admin_token)) {
    return Unauthenticated("invalid admin token");
  }
  return std::nullopt;
}

void Api::CreateSale(const Request& request, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  auto sale = ParseSaleBody(request.body);
  if (!sale) return exchange.respond(InvalidRequest(sale.error()));
  const base::Clock* clock = &engine_.clock();
  engine_.CreateSale(std::move(*sale),
                     PostBack<engine::CreateSaleReply>(
                         exchange.executor, std::move(exchange.respond),
                         [clock](const engine::CreateSaleReply& reply) {
                           return CreateSaleResponse(reply, clock->Now());
                         }));
}

void Api::AdminGetSale(const Request& request, const Params& params, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const auto published = engine_.FindSale(std::string(params.params[0]));
  if (!published) return exchange.respond(SkuNotFound());
  const core::SaleStatus status =
      core::ComputeSaleStatus(published->sale, published->counters, engine_.clock().Now());
  exchange.respond(
      JsonResponse(200, RenderAdminSale(published->sale, published->counters, status)));
}

void Api::GetProduct(const Params& params, Exchange exchange) {
  const auto published = engine_.FindSale(std::string(params.params[0]));
  if (!published) return exchange.respond(SkuNotFound());
  const core::SaleStatus status =
      core::ComputeSaleStatus(published->sale, published->counters, engine_.clock().Now());
  exchange.respond(
      JsonResponse(200, RenderPublicSale(published->sale, published->counters, status)));
}

void Api::GetAvailability(const Params& params, Exchange exchange) {
  const auto published = engine_.FindSale(std::string(params.params[0]));
  if (!published) return exchange.respond(SkuNotFound());
  const core::SaleStatus status =
      core::ComputeSaleStatus(published->sale, published->counters, engine_.clock().Now());
  exchange.respond(JsonResponse(
      200, RenderAvailability(published->sale.sku_id, published->counters.available(), status)));
}

void Api::Reserve(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  auto body = ParseReserveBody(request.body);
  if (!body) return exchange.respond(InvalidRequest(body.error()));
  core::ReserveCommand command;
  if (params.param_count == 1) {  // POST /api/v1/products/{sku}/reserve
    const std::string_view path_sku = params.params[0];
    if (body->sku_id && *body->sku_id != path_sku) {
      return exchange.respond(ErrorResponse(400, code::kInvalidRequest,
                                            "sku_id in the body differs from the path"));
    }
    // No sale can have an id outside the sku alphabet: answer without queueing.
    if (!core::IsValidSkuId(std::string(path_sku))) return exchange.respond(SkuNotFound());
    command.sku_id = std::string(path_sku);
  } else {  // POST /api/v1/reserve
    if (!body->sku_id) {
      return exchange.respond(ErrorResponse(400, code::kInvalidRequest, "sku_id is required"));
    }
    command.sku_id = std::move(*body->sku_id);
  }
  auto key = ResolveIdempotencyKey(request.idempotency_key, body->idempotency_key);
  if (!key) return exchange.respond(InvalidRequest(key.error()));
  command.user_id = std::move(std::get<std::string>(user));
  command.quantity = body->quantity;
  command.idempotency_key = std::move(*key);
  engine_.Reserve(std::move(command),
                  PostBack<engine::ReserveReply>(exchange.executor, std::move(exchange.respond),
                                                 &ReserveResponse));
}

void Api::GetReservation(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) {
    return exchange.respond(OutcomeResponse(MapOutcome(core::ReleaseOutcome::kNotFound)));
  }
  engine_.GetReservation(std::string(id), std::move(std::get<std::string>(user)),
                         PostBack<engine::ReservationReply>(
                             exchange.executor, std::move(exchange.respond),
                             &ReservationResponse));
}

void Api::ReleaseReservation(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) {
    return exchange.respond(OutcomeResponse(MapOutcome(core::ReleaseOutcome::kNotFound)));
  }
  engine_.Release(std::string(id), std::move(std::get<std::string>(user)),
                  PostBack<engine::ReleaseReply>(exchange.executor, std::move(exchange.respond),
                                                 &ReleaseResponse));
}

void Api::Checkout(const Request& request, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  auto body = ParseCheckoutBody(request.body);
  if (!body) return exchange.respond(InvalidRequest(body.error()));
  auto key = ResolveIdempotencyKey(request.idempotency_key, body->idempotency_key);
  if (!key) return exchange.respond(InvalidRequest(key.error()));
  core::CheckoutCommand command;
  command.reservation_id = std::move(body->reservation_id);
  command.user_id = std::move(std::get<std::string>(user));
  command.payment_method_id = std::move(body->payment_method_id);
  command.idempotency_key = std::move(*key);
  engine_.Checkout(std::move(command),
                   PostBack<engine::CheckoutReply>(exchange.executor, std::move(exchange.respond),
                                                   &CheckoutResponse));
}

void Api::GetOrder(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) return exchange.respond(OrderNotFound());
  engine_.GetOrder(std::string(id), std::move(std::get<std::string>(user)),
                   PostBack<engine::OrderReply>(exchange.executor, std::move(exchange.respond),
                                                &OrderResponse));
}

void Api::AdminGetOrder(const Request& request, const Params& params, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) return exchange.respond(OrderNotFound());
  engine_.GetOrderAsAdmin(std::string(id),
                          PostBack<engine::OrderReply>(exchange.executor,
                                                       std::move(exchange.respond),
                                                       &AdminOrderResponse));
}

void Api::AdminListOrders(const Request& request, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::optional<std::string_view> status_text = QueryParameter(request.target, "status");
  if (!status_text) {
    return exchange.respond(ErrorResponse(400, code::kInvalidRequest,
                                          "the status query parameter is required"));
  }
  const std::optional<core::OrderStatus> status = core::OrderStatusFromName(*status_text);
  if (!status) {
    return exchange.respond(ErrorResponse(
        400, code::kInvalidRequest, "status must be PENDING, PAID, FAILED or NEEDS_ATTENTION"));
  }
  engine_.ListOrders(*status, kAdminOrdersListMax,
                     PostBack<engine::OrdersReply>(exchange.executor,
                                                   std::move(exchange.respond),
                                                   &AdminOrdersResponse));
}

void Api::AdminResolveOrder(const Request& request, const Params& params, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) return exchange.respond(OrderNotFound());
  auto choice = ParseResolveBody(request.body);
  if (!choice) return exchange.respond(InvalidRequest(choice.error()));
  engine_.ResolveOrder(std::string(id), *choice,
                       PostBack<engine::ResolveReply>(exchange.executor,
                                                      std::move(exchange.respond),
                                                      &ResolveResponse));
}

void Api::Readyz(Exchange exchange) {
  if (shutting_down_.load(std::memory_order_acquire)) {
    return exchange.respond(OutcomeResponse({503, code::kUnavailable, "shutting down"}));
  }
  if (!engine_.healthy()) {
    return exchange.respond(
        OutcomeResponse({503, code::kUnavailable, "the engine stopped after a failed commit"}));
  }
  exchange.respond(JsonResponse(200, RenderStatusBody("ok")));
}

void Api::Metrics(Exchange exchange) {
  exchange.respond(Response{200, metrics::RenderMetrics(engine_, metrics_), kMetricsContentType});
}

}  // namespace fs::http
