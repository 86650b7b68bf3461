// The route table: one row per (method, path) the server serves, with everything dispatch
// needs to know about it: who may call it, which rate-limit class guards it, and its handler.
// The router is built from these rows, and the Api's dispatch, authentication and rate
// limiting read the matched row; nothing else lists routes. Adding a route is one row here
// plus one handler (handlers.h), and its operation in docs/openapi.yaml (a unit test checks
// that the two agree).
//
// Thread-safety: the table is constant.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/api_services.h"
#include "http/exchange.h"
#include "http/router.h"
#include "ratelimit/client_identity.h"

namespace fs::http {

// Who may call a route; dispatch checks it before the handler runs.
enum class AuthKind : std::uint8_t {
  kNone,   // public
  kUser,   // a valid user JWT (HS256); the handler gets its subject
  kAdmin,  // the admin bearer token
};

// Which rate limiter guards a route. Only kUser routes are limited, after the token is
// verified (an unauthenticated flood costs a signature check, never a bucket).
enum class RateLimitClass : std::uint8_t {
  kNone,
  // The node-local limiter and the shared (Redis) limiter.
  kUser,
  // The node-local limiter only: the shared limiter does not check these routes (today's
  // behaviour of the waiting-room routes, kept as it is).
  kLocalOnly,
};

// Routes that are reserve attempts (their latency feeds the reservation histograms and a
// throttled attempt is written to the audit trail) or checkouts (the checkout histogram).
enum class RouteKind : std::uint8_t { kOther, kReserve, kCheckout };

// One request as its handler sees it.
struct Call {
  const Request& request;
  const RouteMatch& match;  // params[] are the path's `{...}` segments, in order
  std::string user_id;      // AuthKind::kUser: the verified subject
  std::string email;        // AuthKind::kUser: the token's `email` claim, empty when none
  // The client identity as the node-local limiter judged it, when it checked one.
  std::optional<ratelimit::RequestIdentity> identity;
  Exchange exchange;
};

// Answers `call` exactly once through call.exchange (now or later, on its executor).
using Handler = void (*)(const ApiServices& services, Call& call);

struct Route {
  Method method;
  std::string_view path_template;
  AuthKind auth;
  RateLimitClass rate_limit;
  RouteKind kind;
  Handler handler;
};

// Every route, in the order its path first appears (the order of the metric route labels).
// RouteMatch::route_id indexes this span.
std::span<const Route> Routes();

// A router over Routes(), with each row's index as its route id.
Router BuildRouter();

}  // namespace fs::http
