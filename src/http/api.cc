#include "http/api.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <exception>

#include "audit/audit_reader.h"
#include "auth/jwt.h"
#include "auth/queue_pass.h"
#include "core/rules.h"
#include "http/admin_parsing.h"
#include "http/json_render.h"
#include "http/outcome_table.h"
#include "http/reply_batch.h"
#include "http/request_parsing.h"
#include "metrics/ratelimit_metrics.h"

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
  kOpenSale,
  kCloseSale,
  kAdjustStock,
  kReconciliation,
  kAuditQuery,
  kAuditVerify,
  kCheckout,
  kCheckoutAlias,
  kGetOrder,
  kAdminListOrders,
  kAdminGetOrder,
  kAdminResolveOrder,
  kJoinQueue,
  kGetQueueTicket,
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
    {Method::kPost, "/admin/v1/skus/{sku}/open", kOpenSale},
    {Method::kPost, "/admin/v1/skus/{sku}/close", kCloseSale},
    {Method::kPost, "/admin/v1/skus/{sku}/stock", kAdjustStock},
    {Method::kGet, "/admin/v1/skus/{sku}/reconciliation", kReconciliation},
    {Method::kGet, "/admin/v1/audit", kAuditQuery},
    {Method::kGet, "/admin/v1/audit/verify", kAuditVerify},
    {Method::kPost, "/api/v1/checkout", kCheckout},
    {Method::kPost, "/api/v1/orders/checkout", kCheckoutAlias},
    {Method::kGet, "/api/v1/orders/{id}", kGetOrder},
    {Method::kGet, "/admin/v1/orders", kAdminListOrders},
    {Method::kGet, "/admin/v1/orders/{id}", kAdminGetOrder},
    {Method::kPost, "/admin/v1/orders/{id}/resolve", kAdminResolveOrder},
    {Method::kPost, "/api/v1/products/{sku}/queue", kJoinQueue},
    {Method::kGet, "/api/v1/products/{sku}/queue/{ticket}", kGetQueueTicket},
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
    ReplyBatch::Post(executor, [respond, render, reply = std::move(reply)]() mutable {
      respond(render(reply));
    });
  };
}

// The stored answer to a repeated Idempotency-Key: original status and body, marked replayed.
Response ReplayResponse(const core::IdempotencyRecord& record) {
  Response response{static_cast<unsigned>(record.http_status), record.response_body};
  response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

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
  return JsonResponse(outcome.status, RenderReservation(*result.reservation));
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
  if (!reply.value) return OutcomeResponse(MapOutcome(core::ReleaseOutcome::kNotFound));
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

// 429 with the retry hint and the RateLimit-* fields (IETF draft): Limit is the tier's
// requests per minute, Remaining the whole requests left in the tightest bucket, Reset the
// seconds until that bucket is full again.
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

// The limiter's view of who sent `request` on behalf of `user_id`.
ratelimit::RequestIdentity IdentityOf(const Request& request, std::string user_id,
                                      std::string_view tier_claim,
                                      const ratelimit::CidrList& trusted_proxies) {
  const ratelimit::IpAddress peer =
      ratelimit::IpAddress::Parse(request.peer_address).value_or(ratelimit::IpAddress{});
  ratelimit::RequestIdentity identity;
  identity.client_ip = ratelimit::ResolveClientIp(peer, request.forwarded_for, trusted_proxies);
  identity.fingerprint = ratelimit::DeviceFingerprint(
      {request.user_agent.value_or(""), request.accept_language.value_or(""),
       request.device_id.value_or("")},
      identity.client_ip);
  identity.user_id = std::move(user_id);
  identity.claimed_tier = ratelimit::TierFromClaim(tier_claim);
  return identity;
}

// The routes behind AuthenticateUser, which the rate limiter guards.
bool IsRateLimitedRoute(int route_id) {
  switch (static_cast<RouteId>(route_id)) {
    case kReserveForSku:
    case kReserve:
    case kGetReservation:
    case kReleaseReservation:
    case kCheckout:
    case kCheckoutAlias:
    case kGetOrder:
      return true;
    default:
      return false;
  }
}

// A request copied out of the connection's buffers, for handlers that continue after an
// asynchronous step (the views of `request` and of `match` point into the strings beside it).
struct HeldRequest {
  std::string target;
  std::string body;
  std::string peer_address;
  std::optional<std::string> authorization;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> forwarded_for;
  std::optional<std::string> user_agent;
  std::optional<std::string> accept_language;
  std::optional<std::string> device_id;
  std::optional<std::string> queue_pass;
  std::string admitted_user_id;
  Request request;
  RouteMatch match;  // the route the request was matched to on arrival
};

std::optional<std::string> CopyOf(std::optional<std::string_view> view) {
  if (!view) return std::nullopt;
  return std::string(*view);
}
std::optional<std::string_view> ViewOf(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return std::string_view(*text);
}

std::shared_ptr<const HeldRequest> HoldAdmitted(const Request& source, const RouteMatch& match,
                                                std::string user_id) {
  auto held = std::make_shared<HeldRequest>();
  held->target = std::string(source.target);
  held->body = std::string(source.body);
  held->peer_address = std::string(source.peer_address);
  held->authorization = CopyOf(source.authorization);
  held->idempotency_key = CopyOf(source.idempotency_key);
  held->forwarded_for = CopyOf(source.forwarded_for);
  held->user_agent = CopyOf(source.user_agent);
  held->accept_language = CopyOf(source.accept_language);
  held->device_id = CopyOf(source.device_id);
  held->queue_pass = CopyOf(source.queue_pass);
  held->admitted_user_id = std::move(user_id);
  Request& request = held->request;
  request.method = source.method;
  request.target = held->target;
  request.body = held->body;
  request.peer_address = held->peer_address;
  request.authorization = ViewOf(held->authorization);
  request.idempotency_key = ViewOf(held->idempotency_key);
  request.forwarded_for = ViewOf(held->forwarded_for);
  request.user_agent = ViewOf(held->user_agent);
  request.accept_language = ViewOf(held->accept_language);
  request.device_id = ViewOf(held->device_id);
  request.queue_pass = ViewOf(held->queue_pass);
  request.admitted_user_id = held->admitted_user_id;
  held->match = RebaseMatch(match, source.target, request.target);
  return held;
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

// A read-side failure of the audit tools: the database is busy or unreadable; retry later.
Response AuditReadFailure(const base::Status& status) {
  spdlog::warn("audit read failed: {}", status.ToString());
  return OutcomeResponse({503, code::kUnavailable, "the audit trail cannot be read right now"});
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
  return JsonResponse(outcome.status, RenderCheckout(*result.order));
}

Response TicketNotFound() {
  return OutcomeResponse({404, code::kTicketNotFound, "no such queue ticket"});
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

Response OrderNotFound() {
  return OutcomeResponse(MapOutcome(core::ResolveOutcome::kOrderNotFound));
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
    : options_(std::move(options)),
      queue_pass_key_(auth::QueuePassKey(options_.jwt_secret)),
      engine_(engine),
      metrics_(metrics),
      jwt_verifier_(options_.jwt_secret),
      router_(BuildRouter()) {
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
  Exchange exchange{
      executor,
      [this, label, is_reserve, started, respond = std::move(respond)](Response response) {
        metrics_.requests.Increment(label, response.status);
        if (is_reserve) {
          metrics_.reservation_latency.Observe(std::chrono::steady_clock::now() - started);
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
  DispatchGuarded(match.route_id, request, match, std::move(exchange));
}

void Api::DispatchGuarded(int route_id, const Request& request, const Params& params,
                          Exchange exchange) {
  try {
    Dispatch(route_id, request, params, exchange);
  } catch (const std::exception& error) {
    // Handlers do not throw by design; this is a bug or bad_alloc. Answer (with a code from
    // the public set: retrying may well succeed) rather than drop the connection.
    spdlog::error("handler for {} {} threw: {}", MethodName(request.method), request.target,
                  error.what());
    exchange.respond(OutcomeResponse({503, code::kUnavailable, "internal error; retry"}));
  }
}

void Api::Dispatch(int route_id, const Request& request, const Params& params, Exchange exchange) {
  if (async_limiter_ != nullptr && !request.admitted_user_id && IsRateLimitedRoute(route_id)) {
    return AdmitThenDispatch(request, params, std::move(exchange));
  }
  switch (static_cast<RouteId>(route_id)) {
    case kCreateSale:
      return CreateSale(request, std::move(exchange));
    case kAdminGetSale:
      return AdminGetSale(request, params, std::move(exchange));
    case kGetProduct:
      return GetProduct(params, std::move(exchange));
    case kGetAvailability:
      return GetAvailability(params, std::move(exchange));
    case kReserveForSku:
    case kReserve:
      return Reserve(request, params, std::move(exchange));
    case kGetReservation:
      return GetReservation(request, params, std::move(exchange));
    case kReleaseReservation:
      return ReleaseReservation(request, params, std::move(exchange));
    case kHealthz:
      return exchange.respond(JsonResponse(200, RenderStatusBody("ok")));
    case kReadyz:
      return Readyz(std::move(exchange));
    case kMetrics:
      return Metrics(std::move(exchange));
    case kOpenSale:
      return SetSaleOverride(request, params, core::SaleOverride::kOpened, std::move(exchange));
    case kCloseSale:
      return SetSaleOverride(request, params, core::SaleOverride::kClosed, std::move(exchange));
    case kAdjustStock:
      return AdjustStock(request, params, std::move(exchange));
    case kReconciliation:
      return Reconciliation(request, params, std::move(exchange));
    case kAuditQuery:
      return AuditQuery(request, std::move(exchange));
    case kAuditVerify:
      return AuditVerify(request, std::move(exchange));
    case kCheckout:
    case kCheckoutAlias:
      return Checkout(request, std::move(exchange));
    case kGetOrder:
      return GetOrder(request, params, std::move(exchange));
    case kAdminListOrders:
      return AdminListOrders(request, std::move(exchange));
    case kAdminGetOrder:
      return AdminGetOrder(request, params, std::move(exchange));
    case kAdminResolveOrder:
      return AdminResolveOrder(request, params, std::move(exchange));
    case kJoinQueue:
      return JoinQueue(request, params, std::move(exchange));
    case kGetQueueTicket:
      return GetQueueTicket(request, params, std::move(exchange));
  }
  FS_CHECK(false);
}

std::variant<std::string, Response> Api::AuthenticateUser(
    const Request& request, const OnThrottled& on_throttled,
    std::optional<ratelimit::RequestIdentity>* identity_seen) const {
  if (request.admitted_user_id) return std::string(*request.admitted_user_id);
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  if (!token) return Unauthenticated("missing bearer token");
  auth::VerifyResult verified = jwt_verifier_.Verify(*token, engine_.clock().Now());
  if (verified.error != auth::JwtError::kOk) {
    return Unauthenticated(auth::JwtErrorMessage(verified.error));
  }
  if (limiter_ != nullptr) {
    ratelimit::RequestIdentity identity =
        IdentityOf(request, verified.claims.subject, verified.claims.tier, trusted_proxies_);
    const ratelimit::Decision decision = limiter_->Check(identity);
    if (!decision.allowed) {
      if (on_throttled) on_throttled(decision, identity);
      return RateLimited(decision);
    }
    if (identity_seen != nullptr) *identity_seen = std::move(identity);
  }
  return std::move(verified.claims.subject);
}

void Api::AdmitThenDispatch(const Request& request, const RouteMatch& match, Exchange exchange) {
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  auth::VerifyResult verified;
  if (token) verified = jwt_verifier_.Verify(*token, engine_.clock().Now());
  // Unauthenticated requests never cost a bucket (the same answers as AuthenticateUser).
  if (!token) return exchange.respond(Unauthenticated("missing bearer token"));
  if (verified.error != auth::JwtError::kOk) {
    return exchange.respond(Unauthenticated(auth::JwtErrorMessage(verified.error)));
  }
  std::shared_ptr<const HeldRequest> held = HoldAdmitted(request, match, verified.claims.subject);
  ratelimit::RequestIdentity identity = IdentityOf(
      held->request, std::move(verified.claims.subject), verified.claims.tier, trusted_proxies_);
  // A throttled reserve is audited like in the synchronous path (Reserve): keep what the
  // audit record needs; the identity itself goes to the limiter.
  const bool is_reserve = match.route_id == kReserve || match.route_id == kReserveForSku;
  auto audited_identity =
      is_reserve ? std::make_shared<const ratelimit::RequestIdentity>(identity) : nullptr;
  async_limiter_->Check(
      std::move(identity), [this, held, exchange, audited_identity](ratelimit::Decision decision) {
        boost::asio::post(exchange.executor, [this, held, exchange, decision, audited_identity]() {
          if (!decision.allowed) {
            if (audited_identity) {
              AuditThrottled(held->request, held->match, decision, *audited_identity);
            }
            return exchange.respond(RateLimited(decision));
          }
          DispatchGuarded(held->match.route_id, held->request, held->match, exchange);
        });
      });
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
  engine_.Submit(engine::CreateSale{std::move(*sale)},
                 PostBack<engine::ReplyOf<engine::CreateSale>>(
                     exchange.executor, std::move(exchange.respond),
                     [clock](const engine::ReplyOf<engine::CreateSale>& reply) {
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
  const base::Clock* clock = &engine_.clock();
  auto render = [published, clock](const core::StockCounters& counters) {
    const core::SaleStatus status =
        core::ComputeSaleStatus(published->sale, counters, clock->Now());
    return JsonResponse(200,
                        RenderAvailability(published->sale.sku_id, counters.available(), status));
  };
  if (shared_ == nullptr || !shared_->cache_enabled()) {
    return exchange.respond(render(published->counters));
  }
  // Cluster mode: the shared cache (or, on a miss or while Redis is down, this node's state).
  shared_->GetCounters(published->sale.sku_id,
                       [published, render, exchange](std::optional<core::StockCounters> cached) {
                         const core::StockCounters counters = cached.value_or(published->counters);
                         boost::asio::post(exchange.executor, [render, exchange, counters] {
                           exchange.respond(render(counters));
                         });
                       });
}

namespace {

// The SKU a throttled reserve asked for: the path's, or the body's on /api/v1/reserve (parsed
// only for this record); absent when it is not a possible sku id.
std::optional<std::string> ThrottledSku(const Request& request, const RouteMatch& params) {
  if (params.param_count == 1) {
    std::string path_sku(params.params[0]);
    if (core::IsValidSkuId(path_sku)) return path_sku;
    return std::nullopt;
  }
  auto body = ParseReserveBody(request.body);
  if (body && body->sku_id && core::IsValidSkuId(*body->sku_id)) return *body->sku_id;
  return std::nullopt;
}

}  // namespace

void Api::AuditThrottled(const Request& request, const RouteMatch& params,
                         const ratelimit::Decision& decision,
                         const ratelimit::RequestIdentity& identity) {
  engine::FairnessEvent event;
  event.kind = engine::FairnessEvent::Kind::kThrottled;
  event.user_id = identity.user_id;
  event.sku_id = ThrottledSku(request, params);
  event.client_ip = identity.client_ip.ToString();
  event.device_fingerprint = identity.fingerprint;
  event.reason = std::string(ratelimit::ThrottleReasonName(decision.reason));
  event.tier = std::string(ratelimit::TierName(decision.tier));
  event.at = engine_.clock().Now();
  engine_.fairness_audit().Offer(std::move(event));
}

void Api::Reserve(const Request& request, const Params& params, Exchange exchange) {
  // A throttled attempt is still an attempt: it goes to the audit trail (outcome THROTTLED)
  // through the engine's bounded side channel, without waiting for the writer.
  std::optional<ratelimit::RequestIdentity> identity_seen;
  auto user = AuthenticateUser(
      request,
      [&](const ratelimit::Decision& decision, const ratelimit::RequestIdentity& identity) {
        AuditThrottled(request, params, decision, identity);
      },
      &identity_seen);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  auto body = ParseReserveBody(request.body);
  if (!body) return exchange.respond(InvalidRequest(body.error()));
  core::ReserveCommand command;
  if (params.param_count == 1) {  // POST /api/v1/products/{sku}/reserve
    const std::string_view path_sku = params.params[0];
    if (body->sku_id && *body->sku_id != path_sku) {
      return exchange.respond(
          ErrorResponse(400, code::kInvalidRequest, "sku_id in the body differs from the path"));
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
  auto pass_text = ResolveQueuePass(request.queue_pass, body->queue_pass);
  if (!pass_text) return exchange.respond(InvalidRequest(pass_text.error()));
  // The signature is checked here (crypto stays out of the writer); whether the pass is
  // needed, its holder, expiry and single use are the writer's decision.
  core::PresentedPass pass;
  if (*pass_text) pass = auth::VerifyQueuePass(**pass_text, queue_pass_key_);
  command.user_id = std::move(std::get<std::string>(user));
  command.quantity = body->quantity;
  command.idempotency_key = std::move(*key);
  // The audit trail records who asked, as the rate limiter sees them (proxy-aware client IP,
  // one device fingerprint function for both): the limiter's own view when it checked one.
  const ratelimit::RequestIdentity client =
      identity_seen ? std::move(*identity_seen) : IdentityOf(request, "", "", trusted_proxies_);
  command.client_ip = client.client_ip.ToString();
  command.device_fingerprint = client.fingerprint;
  if (shared_ != nullptr && shared_->cache_enabled() && !command.idempotency_key.empty()) {
    // Cluster mode: claim the key in Redis first; the writer gets the hint, never a verdict.
    auto held = std::make_shared<core::ReserveCommand>(std::move(command));
    auto held_pass = std::make_shared<core::PresentedPass>(std::move(pass));
    return shared_->ClaimIdempotencyKey(
        held->user_id, held->idempotency_key,
        [this, held, held_pass, exchange](core::IdempotencyHint hint) {
          held->idempotency_hint = hint;
          engine_.Submit(engine::Reserve{std::move(*held), std::move(*held_pass)},
                         PostBack<engine::ReplyOf<engine::Reserve>>(
                             exchange.executor, exchange.respond, &ReserveResponse));
        });
  }
  engine_.Submit(engine::Reserve{std::move(command), std::move(pass)},
                 PostBack<engine::ReplyOf<engine::Reserve>>(
                     exchange.executor, std::move(exchange.respond), &ReserveResponse));
}

void Api::GetReservation(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) {
    return exchange.respond(OutcomeResponse(MapOutcome(core::ReleaseOutcome::kNotFound)));
  }
  engine_.Submit(engine::GetReservation{std::string(id), std::move(std::get<std::string>(user))},
                 PostBack<engine::ReplyOf<engine::GetReservation>>(
                     exchange.executor, std::move(exchange.respond), &ReservationResponse));
}

void Api::ReleaseReservation(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) {
    return exchange.respond(OutcomeResponse(MapOutcome(core::ReleaseOutcome::kNotFound)));
  }
  engine_.Submit(engine::Release{std::string(id), std::move(std::get<std::string>(user))},
                 PostBack<engine::ReplyOf<engine::Release>>(
                     exchange.executor, std::move(exchange.respond), &ReleaseResponse));
}

void Api::SetSaleOverride(const Request& request, const Params& params, core::SaleOverride to,
                          Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::string sku_id(params.params[0]);
  if (!core::IsValidSkuId(sku_id)) return exchange.respond(SkuNotFound());
  const base::Clock* clock = &engine_.clock();
  engine_.Submit(engine::SetSaleOverride{sku_id, to},
                 PostBack<engine::Reply<core::AdminSaleResult>>(
                     exchange.executor, std::move(exchange.respond),
                     [clock](const engine::Reply<core::AdminSaleResult>& reply) {
                       return AdminSaleResponse(reply, clock->Now());
                     }));
}

void Api::AdjustStock(const Request& request, const Params& params, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::string sku_id(params.params[0]);
  if (!core::IsValidSkuId(sku_id)) return exchange.respond(SkuNotFound());
  auto delta = ParseStockBody(request.body);
  if (!delta) return exchange.respond(InvalidRequest(delta.error()));
  const base::Clock* clock = &engine_.clock();
  engine_.Submit(engine::AdjustStock{sku_id, *delta},
                 PostBack<engine::Reply<core::AdminSaleResult>>(
                     exchange.executor, std::move(exchange.respond),
                     [clock](const engine::Reply<core::AdminSaleResult>& reply) {
                       return AdminSaleResponse(reply, clock->Now());
                     }));
}

// The audit endpoints read on their own read-only connection (SQLite in WAL mode, or a READ
// ONLY REPEATABLE READ transaction on PostgreSQL: a consistent snapshot beside the writer,
// which they never block). They run on the I/O thread that received the
// request; a long verification occupies that thread only.
void Api::Reconciliation(const Request& request, const Params& params, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::string sku_id(params.params[0]);
  if (!core::IsValidSkuId(sku_id)) return exchange.respond(SkuNotFound());
  auto reader = audit::OpenAuditSource(options_.database_path, options_.store_url);
  if (!reader) return exchange.respond(AuditReadFailure(reader.error()));
  auto report = (*reader)->Reconcile(sku_id);
  if (!report && report.error().code() == base::StatusCode::kNotFound) {
    return exchange.respond(SkuNotFound());
  }
  if (!report) return exchange.respond(AuditReadFailure(report.error()));
  FS_CHECK(report->skus.size() == 1);
  exchange.respond(
      JsonResponse(200, audit::RenderSkuReconciliation(report->skus.front(), report->audit)));
}

void Api::AuditQuery(const Request& request, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  auto query = ParseAuditQuery(request.target);
  if (!query) return exchange.respond(InvalidRequest(query.error()));
  auto reader = audit::OpenAuditSource(options_.database_path, options_.store_url);
  if (!reader) return exchange.respond(AuditReadFailure(reader.error()));
  auto page = (*reader)->Query(*query);
  if (!page) return exchange.respond(AuditReadFailure(page.error()));
  exchange.respond(JsonResponse(200, audit::RenderAuditPage(*page)));
}

void Api::AuditVerify(const Request& request, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  auto reader = audit::OpenAuditSource(options_.database_path, options_.store_url);
  if (!reader) return exchange.respond(AuditReadFailure(reader.error()));
  auto report = (*reader)->Verify();
  if (!report) return exchange.respond(AuditReadFailure(report.error()));
  // A broken chain is still a successful verification: 200 with "valid": false.
  exchange.respond(JsonResponse(200, audit::RenderVerifyReport(*report)));
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
  engine_.Submit(engine::Checkout{std::move(command)},
                 PostBack<engine::ReplyOf<engine::Checkout>>(
                     exchange.executor, std::move(exchange.respond), &CheckoutResponse));
}

void Api::GetOrder(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) return exchange.respond(OrderNotFound());
  engine_.Submit(engine::GetOrder{std::string(id), std::move(std::get<std::string>(user))},
                 PostBack<engine::Reply<std::optional<core::Order>>>(
                     exchange.executor, std::move(exchange.respond), &OrderResponse));
}

void Api::AdminGetOrder(const Request& request, const Params& params, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) return exchange.respond(OrderNotFound());
  engine_.Submit(engine::GetOrderAsAdmin{std::string(id)},
                 PostBack<engine::Reply<std::optional<core::Order>>>(
                     exchange.executor, std::move(exchange.respond), &AdminOrderResponse));
}

void Api::AdminListOrders(const Request& request, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::optional<std::string_view> status_text = QueryParameter(request.target, "status");
  if (!status_text) {
    return exchange.respond(
        ErrorResponse(400, code::kInvalidRequest, "the status query parameter is required"));
  }
  const std::optional<core::OrderStatus> status = core::OrderStatusFromName(*status_text);
  if (!status) {
    return exchange.respond(ErrorResponse(
        400, code::kInvalidRequest, "status must be PENDING, PAID, FAILED or NEEDS_ATTENTION"));
  }
  engine_.Submit(engine::ListOrders{*status, kAdminOrdersListMax},
                 PostBack<engine::Reply<std::vector<core::Order>>>(
                     exchange.executor, std::move(exchange.respond), &AdminOrdersResponse));
}

void Api::AdminResolveOrder(const Request& request, const Params& params, Exchange exchange) {
  if (auto denied = AuthenticateAdmin(request)) return exchange.respond(std::move(*denied));
  const std::string_view id = params.params[0];
  if (!IsPlausibleReservationId(id)) return exchange.respond(OrderNotFound());
  auto choice = ParseResolveBody(request.body);
  if (!choice) return exchange.respond(InvalidRequest(choice.error()));
  engine_.Submit(engine::ResolveOrder{std::string(id), *choice},
                 PostBack<engine::ReplyOf<engine::ResolveOrder>>(
                     exchange.executor, std::move(exchange.respond), &ResolveResponse));
}

// --- The fair waiting room ------------------------------------------------------------------

void Api::JoinQueue(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string sku_id(params.params[0]);
  if (!core::IsValidSkuId(sku_id)) return exchange.respond(SkuNotFound());
  const std::string* key = &queue_pass_key_;
  engine_.Submit(engine::JoinQueue{sku_id, std::move(std::get<std::string>(user))},
                 PostBack<engine::ReplyOf<engine::JoinQueue>>(
                     exchange.executor, std::move(exchange.respond),
                     [key](const engine::ReplyOf<engine::JoinQueue>& reply) {
                       if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
                       const HttpOutcome outcome = MapOutcome(reply.value.outcome);
                       if (outcome.is_error()) return OutcomeResponse(outcome);
                       FS_CHECK(reply.value.view.has_value());
                       return QueueTicketResponse(outcome.status, *reply.value.view, *key);
                     }));
}

void Api::GetQueueTicket(const Request& request, const Params& params, Exchange exchange) {
  auto user = AuthenticateUser(request);
  if (auto* denied = std::get_if<Response>(&user)) return exchange.respond(std::move(*denied));
  const std::string sku_id(params.params[0]);
  const std::string_view ticket_id = params.params[1];
  if (!core::IsValidSkuId(sku_id) || !IsPlausibleReservationId(ticket_id)) {
    return exchange.respond(TicketNotFound());
  }
  const std::string* key = &queue_pass_key_;
  engine_.Submit(engine::GetQueueTicket{sku_id, std::string(ticket_id),
                                        std::move(std::get<std::string>(user))},
                 PostBack<engine::ReplyOf<engine::GetQueueTicket>>(
                     exchange.executor, std::move(exchange.respond),
                     [key](const engine::ReplyOf<engine::GetQueueTicket>& reply) {
                       if (!reply.status.ok()) return OutcomeResponse(MapStatus(reply.status));
                       // Another user's ticket is as unknown as a made-up one.
                       if (!reply.value) return TicketNotFound();
                       return QueueTicketResponse(200, *reply.value, *key);
                     }));
}

void Api::Readyz(Exchange exchange) {
  if (shutting_down_.load(std::memory_order_acquire)) {
    return exchange.respond(OutcomeResponse({503, code::kUnavailable, "shutting down"}));
  }
  if (!engine_.healthy()) {
    return exchange.respond(
        OutcomeResponse({503, code::kUnavailable, "the engine stopped after a failed commit"}));
  }
  if (shared_ != nullptr) {
    // Still ready: without Redis the node serves correctly from local state, so a load
    // balancer must keep it; the body tells operators what is missing.
    return exchange.respond(JsonResponse(200, shared_->up()
                                                  ? R"({"status":"ok","redis":"up"})"
                                                  : R"({"status":"degraded","redis":"down"})"));
  }
  exchange.respond(JsonResponse(200, RenderStatusBody("ok")));
}

void Api::Metrics(Exchange exchange) {
  std::string body = metrics::RenderMetrics(engine_, metrics_);
  metrics::TextWriter limiter_writer;
  if (limiter_ != nullptr || async_limiter_ != nullptr) {
    const ratelimit::LimiterSnapshot snapshot =
        limiter_ != nullptr ? limiter_->Snapshot() : async_limiter_->Snapshot();
    metrics::WriteRateLimitMetrics(&snapshot, limiter_writer);
  } else {
    metrics::WriteRateLimitMetrics(nullptr, limiter_writer);
  }
  body += limiter_writer.Take();
  if (shared_ != nullptr) body += shared_->RenderMetrics();
  exchange.respond(Response{200, std::move(body), kMetricsContentType});
}

}  // namespace fs::http
