// Api: the HTTP handlers of the public and admin API. Handlers are thin: route, parse and
// validate, authenticate, then either answer from the engine's published state (product
// reads, no queueing) or send one command to the engine and answer from its callback.
//
// Threading: Handle() runs on a connection's I/O thread. Engine callbacks run on the writer
// thread and only post the raw reply back to the connection's executor; rendering and
// `respond` happen there, so the writer never renders JSON or touches a socket.
// Thread-safety: Handle() may run concurrently on all I/O threads. The Api must outlive every
// pending engine command (stop the engine before destroying it).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/jwt.h"
#include "engine/engine.h"
#include "http/exchange.h"
#include "http/router.h"
#include "http/shared_state.h"
#include "metrics/flashsale_metrics.h"
#include "ratelimit/async_limiter.h"
#include "ratelimit/client_identity.h"
#include "ratelimit/rate_limiter.h"

namespace fs::http {

struct ApiOptions {
  std::string jwt_secret;   // HS256 key for user tokens
  std::string admin_token;  // bearer token of the admin endpoints
  // The database file, read by the audit and reconciliation endpoints on their own read-only
  // connection. Empty (and no store_url): those endpoints answer 503.
  std::string database_path = "";
  // The cluster's PostgreSQL database (--store): when set, those endpoints read it instead.
  std::string store_url = "";
};

// Called exactly once per request, on the executor given to Handle().
using Respond = std::function<void(Response)>;

class Api {
 public:
  // Route label used for requests that matched no route (404s, protocol errors).
  static constexpr std::string_view kUnmatchedRouteLabel = "unmatched";

  // REQUIRES: `engine` and `metrics` outlive the Api; metrics was built with RouteLabels().
  Api(ApiOptions options, engine::Engine& engine, metrics::HttpMetrics& metrics);

  // The flashsale_requests_total route labels: every route template, then "unmatched".
  static std::vector<std::string> RouteLabels();
  std::size_t unmatched_route_index() const { return unmatched_route_index_; }

  void Handle(const Request& request, const boost::asio::any_io_executor& executor,
              Respond respond);

  // Turns on rate limiting of the authenticated user routes (reserve, GET/DELETE
  // reservation); product reads are not limited (docs/operations.md). `trusted_proxies`:
  // peers whose X-Forwarded-For is believed. REQUIRES: called before the server starts;
  // `limiter` outlives the Api.
  void EnableRateLimiting(ratelimit::RateLimiter& limiter, ratelimit::CidrList trusted_proxies) {
    limiter_ = &limiter;
    trusted_proxies_ = std::move(trusted_proxies);
  }

  // Rate limiting through an asynchronous (shared, Redis) limiter instead: the check runs
  // before the handler, and the handler continues on the connection's executor once admitted.
  // REQUIRES: called before the server starts; `limiter` outlives the Api.
  void EnableAsyncRateLimiting(ratelimit::AsyncLimiter& limiter,
                               ratelimit::CidrList trusted_proxies) {
    async_limiter_ = &limiter;
    trusted_proxies_ = std::move(trusted_proxies);
  }
  // State shared by the nodes (Redis): availability cache (when enabled), idempotency fast
  // path, "degraded" in /readyz while it is down, its metrics. REQUIRES: called before the
  // server starts; `shared` outlives the Api.
  void EnableSharedState(SharedState& shared) { shared_ = &shared; }

  // After this, /readyz answers 503 so load balancers stop sending traffic.
  void SetShuttingDown() { shutting_down_.store(true, std::memory_order_release); }

 private:
  struct Exchange {
    boost::asio::any_io_executor executor;
    Respond respond;
  };
  using Params = RouteMatch;

  void Dispatch(int route_id, const Request& request, const Params& params, Exchange exchange);
  // Dispatch, answering 503 if a handler throws (a bug or bad_alloc).
  void DispatchGuarded(int route_id, const Request& request, const Params& params,
                       Exchange exchange);
  void CreateSale(const Request& request, Exchange exchange);
  void AdminGetSale(const Request& request, const Params& params, Exchange exchange);
  void GetProduct(const Params& params, Exchange exchange);
  void GetAvailability(const Params& params, Exchange exchange);
  void Reserve(const Request& request, const Params& params, Exchange exchange);
  void GetReservation(const Request& request, const Params& params, Exchange exchange);
  void ReleaseReservation(const Request& request, const Params& params, Exchange exchange);
  void SetSaleOverride(const Request& request, const Params& params, core::SaleOverride to,
                       Exchange exchange);
  void AdjustStock(const Request& request, const Params& params, Exchange exchange);
  void Reconciliation(const Request& request, const Params& params, Exchange exchange);
  void AuditQuery(const Request& request, Exchange exchange);
  void AuditVerify(const Request& request, Exchange exchange);
  void Checkout(const Request& request, Exchange exchange);
  void GetOrder(const Request& request, const Params& params, Exchange exchange);
  void AdminGetOrder(const Request& request, const Params& params, Exchange exchange);
  void AdminListOrders(const Request& request, Exchange exchange);
  void AdminResolveOrder(const Request& request, const Params& params, Exchange exchange);
  void JoinQueue(const Request& request, const Params& params, Exchange exchange);
  void GetQueueTicket(const Request& request, const Params& params, Exchange exchange);
  void Readyz(Exchange exchange);
  void Metrics(Exchange exchange);

  // Told about a request the limiter refused, with the decision and the identity it judged.
  using OnThrottled =
      std::function<void(const ratelimit::Decision&, const ratelimit::RequestIdentity&)>;
  // The user id from a valid JWT, or the 401 response to send; with a limiter, also the
  // 429 RATE_LIMITED response when the request is over a limit (checked after the token,
  // so unauthenticated floods cost a signature check and never a bucket); `on_throttled`
  // (may be empty) is called before that 429 is returned. A request already admitted by the
  // async limiter (Request::admitted_user_id) passes at once. `identity_seen` (may be null)
  // receives the identity the limiter checked, when it checked one, so the caller need not
  // derive it again.
  std::variant<std::string, Response> AuthenticateUser(
      const Request& request, const OnThrottled& on_throttled = {},
      std::optional<ratelimit::RequestIdentity>* identity_seen = nullptr) const;
  // With an async limiter: verifies the token, checks the limiter, and on admission dispatches
  // a held copy of the request marked admitted (429 when refused, 401 without a valid token).
  // `match` (kFound) is the request's route; the held copy carries it, not matched again.
  void AdmitThenDispatch(const Request& request, const RouteMatch& match, Exchange exchange);
  // A reserve attempt the limiter refused goes to the audit trail (outcome THROTTLED) through
  // the engine's bounded side channel, without waiting for the writer.
  void AuditThrottled(const Request& request, const RouteMatch& params,
                      const ratelimit::Decision& decision,
                      const ratelimit::RequestIdentity& identity);
  // nullopt when the admin token matches, else the 401 response to send.
  std::optional<Response> AuthenticateAdmin(const Request& request) const;

  const ApiOptions options_;
  const std::string queue_pass_key_;  // auth::QueuePassKey(jwt_secret)
  engine::Engine& engine_;
  metrics::HttpMetrics& metrics_;
  const auth::JwtVerifier jwt_verifier_;  // options_.jwt_secret, prepared once
  Router router_;
  std::size_t unmatched_route_index_ = 0;
  std::atomic<bool> shutting_down_{false};
  ratelimit::RateLimiter* limiter_ = nullptr;  // nullptr: rate limiting off
  ratelimit::CidrList trusted_proxies_;
  ratelimit::AsyncLimiter* async_limiter_ = nullptr;  // nullptr: no shared rate limiting
  SharedState* shared_ = nullptr;                     // nullptr: no Redis
};

// Builders of common responses.
Response ErrorResponse(unsigned status, std::string_view code, std::string_view message);
Response JsonResponse(unsigned status, std::string body);

}  // namespace fs::http
