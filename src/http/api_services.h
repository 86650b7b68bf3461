// What the handlers of the Api share: the options it was built with, the services it talks
// to (engine, limiters, shared state, audit readers), and the Exchange a request is answered
// through. Internal to src/http: the Api owns one ApiServices and hands it to every handler.
//
// Thread-safety: the Enable* setters of the Api write the pointers before the server starts;
// afterwards the struct is read concurrently by every I/O thread and never written, except
// `shutting_down`, which is atomic.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "auth/jwt.h"
#include "crypto/sha256.h"
#include "engine/engine.h"
#include "http/catalog.h"
#include "http/exchange.h"
#include "http/limits.h"
#include "http/order_waiters.h"
#include "http/shared_state.h"
#include "metrics/flashsale_metrics.h"
#include "ratelimit/async_limiter.h"
#include "ratelimit/client_identity.h"
#include "ratelimit/rate_limiter.h"

namespace fs::http {

class AuditReadPool;

enum class MetricsRoute : std::uint8_t { kThisPort, kSeparatePort };

struct ApiOptions {
  std::string jwt_secret;   // HS256 key for user tokens
  std::string admin_token;  // bearer token of the admin endpoints
  // The database file, read by the audit and reconciliation endpoints on read-only
  // connections of their own. Empty (and no store_url): those endpoints answer 503.
  std::string database_path = "";
  // The cluster's PostgreSQL database (--store): when set, those endpoints read it instead.
  std::string store_url = "";
  // What user tokens must carry beyond the signature, exp and sub (--jwt-leeway-seconds,
  // --jwt-issuer, --jwt-audience).
  auth::VerifyOptions jwt = {};
  // --demo: POST /demo/v1/token mints user tokens valid this long (the storefront's "sign in
  // as a demo user"). Zero: that route answers 404.
  std::chrono::seconds demo_token_lifetime{0};
  // Held order reads (GET /api/v1/orders/{id}?wait_seconds) at most (--order-waiters-max);
  // beyond it such a read is answered 503.
  std::size_t order_waiters_max = kOrderWaitersDefault;
  // Open GET /api/v1/products/{sku}/events streams at most (--sse-subscribers-max); beyond
  // it a new one is answered 503.
  std::size_t sse_subscribers_max = kSseSubscribersDefault;
  // Where GET /metrics is served: on this port, or only on a port of its own
  // (--metrics-listen; then this port answers 404 for it).
  MetricsRoute metrics_route = MetricsRoute::kThisPort;
};

// Called exactly once per request, on the executor given to Api::Handle().
using Respond = std::function<void(Response)>;

// Where a request's answer goes: `respond` must be called on `executor` (the connection's).
// What the handling learns about a request for its access log line and server span (set on the
// connection's thread, read as the response leaves).
struct ExchangeNotes {
  std::string user_id;  // the verified user once known
  std::string sku_id;   // sampled traces only: the SKU the request is about
};

struct Exchange {
  boost::asio::any_io_executor executor;
  Respond respond;
  // Null when the exchange was made without notes (tests).
  std::shared_ptr<ExchangeNotes> notes{};
};

struct ApiServices {
  ApiServices(ApiOptions options_in, engine::Engine& engine_in, metrics::HttpMetrics& metrics_in,
              AuditReadPool& audit_reads_in);

  const ApiOptions options;
  const std::string queue_pass_key;      // auth::QueuePassKey(jwt_secret)
  const auth::JwtVerifier jwt_verifier;  // options.jwt_secret, prepared once
  // SHA-256 of options.admin_token: a presented token is hashed and the two digests compared
  // in constant time, so neither the content nor the length of the token leaks by timing.
  const crypto::Sha256Digest admin_token_digest;
  engine::Engine& engine;
  metrics::HttpMetrics& metrics;
  AuditReadPool& audit_reads;
  ratelimit::RateLimiter* limiter = nullptr;         // nullptr: no node-local rate limiting
  ratelimit::AsyncLimiter* async_limiter = nullptr;  // nullptr: no shared rate limiting
  ratelimit::CidrList trusted_proxies;               // peers whose X-Forwarded-For is believed
  SharedState* shared = nullptr;                     // nullptr: no Redis
  // GET /api/v1/products: the list and search of sales (catalog.h). The engine tells it what
  // it published (wired by the app); its cursors are signed under the JWT secret. Mutable:
  // a read-side cache that handlers (given const services) refresh; it locks itself.
  mutable Catalog catalog;
  mutable CatalogPageCache catalog_pages;  // rendered pages of the catalog (catalog.h)
  mutable OrderWaiters order_waiters;      // held order reads (order_waiters.h)
  // Open event streams (GET /api/v1/products/{sku}/events), at most options.sse_subscribers_max.
  mutable std::atomic<std::size_t> sse_subscribers{0};
  std::atomic<bool> shutting_down{false};
};

}  // namespace fs::http
