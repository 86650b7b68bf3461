// Api: the HTTP API, public and admin. Handle() matches the request against the route table
// (route_table.h), admits it as the matched row says (admission.h: admin token, or user JWT
// and rate limits) and runs the row's handler (handlers.h). Handlers are thin: parse and
// validate, then answer from the engine's published state (product reads, no queueing), send
// one command to the engine and answer from its callback, or hand an audit read to the audit
// reader threads. Replies become responses in one place (replies.h over outcome_table.h).
//
// Threading: Handle() runs on a connection's I/O thread. Engine callbacks run on the writer
// thread and only post the raw reply back to the connection's executor; rendering and
// `respond` happen there, so the writer never renders JSON or touches a socket.
// Thread-safety: Handle() may run concurrently on all I/O threads. The Api must outlive every
// pending engine command (stop the engine before destroying it); StopAuditReads() must run
// before the I/O threads stop (Server::Stop does it).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "http/api_services.h"
#include "http/audit_read_pool.h"
#include "http/exchange.h"
#include "http/replies.h"
#include "http/route_table.h"
#include "http/router.h"
#include "http/shared_state.h"
#include "metrics/flashsale_metrics.h"
#include "ratelimit/async_limiter.h"
#include "ratelimit/client_identity.h"
#include "ratelimit/rate_limiter.h"

namespace fs::http {

class Api {
 public:
  // Route label used for requests that matched no route (404s, protocol errors).
  static constexpr std::string_view kUnmatchedRouteLabel = "unmatched";

  // Starts the audit reader threads. REQUIRES: `engine` and `metrics` outlive the Api;
  // metrics was built with RouteLabels().
  Api(ApiOptions options, engine::Engine& engine, metrics::HttpMetrics& metrics);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // The flashsale_requests_total route labels: every route template, then "unmatched".
  static std::vector<std::string> RouteLabels();
  // Its method labels, indexed by Method.
  static std::vector<std::string> MethodLabels();
  // The whole /metrics body (also what a separate --metrics-listen port serves). Any thread.
  std::string RenderMetrics() const;
  std::size_t unmatched_route_index() const { return unmatched_route_index_; }

  void Handle(const Request& request, const boost::asio::any_io_executor& executor,
              Respond respond);

  // Turns on node-local rate limiting of the limited user routes (route_table.h); product
  // reads are not limited (docs/operations.md). `trusted_proxies`: peers whose
  // X-Forwarded-For is believed. REQUIRES: called before the server starts; `limiter`
  // outlives the Api.
  // What the handlers share; the app wires the catalog to the engine's publications.
  ApiServices& services() { return services_; }

  void EnableRateLimiting(ratelimit::RateLimiter& limiter, ratelimit::CidrList trusted_proxies) {
    services_.limiter = &limiter;
    services_.trusted_proxies = std::move(trusted_proxies);
  }

  // Rate limiting through an asynchronous (shared, Redis) limiter instead: the check runs
  // before the handler, and the handler continues on the connection's executor once admitted.
  // REQUIRES: called before the server starts; `limiter` outlives the Api.
  void EnableAsyncRateLimiting(ratelimit::AsyncLimiter& limiter,
                               ratelimit::CidrList trusted_proxies) {
    services_.async_limiter = &limiter;
    services_.trusted_proxies = std::move(trusted_proxies);
  }
  // State shared by the nodes (Redis): availability cache (when enabled), idempotency fast
  // path, "degraded" in /readyz while it is down, its metrics. REQUIRES: called before the
  // server starts; `shared` outlives the Api.
  void EnableSharedState(SharedState& shared) { services_.shared = &shared; }

  // After this, /readyz answers 503 so load balancers stop sending traffic.
  // Held order reads are answered now.
  void SetShuttingDown() {
    services_.shutting_down.store(true, std::memory_order_release);
    services_.order_waiters.ReleaseAll();
  }
  // The engine's on_orders_changed goes here (writer thread): held order reads wake.
  void OrdersChanged(const std::vector<core::Order>& orders) {
    services_.order_waiters.Notify(orders);
  }

  // Answers the audit reads not started yet with 503 and waits for the running ones: after
  // it, no audit answer is posted to an I/O thread. Idempotent; called by Server::Stop.
  void StopAuditReads() { audit_reads_.Stop(); }

 private:
  // Dispatch, answering 503 if a handler throws (a bug or bad_alloc).
  void DispatchGuarded(const Route& route, const Request& request, const RouteMatch& match,
                       const Exchange& exchange);
  // Admits the request as `route` says, then runs its handler.
  void Dispatch(const Route& route, const Request& request, const RouteMatch& match,
                Exchange exchange);

  AuditReadPool audit_reads_;  // before services_, which refers to it
  ApiServices services_;
  const Router router_;
  std::size_t unmatched_route_index_ = 0;
  // By template index: whether the template's first parameter is the SKU ("{sku}").
  std::vector<bool> template_has_sku_;
};

}  // namespace fs::http
