// Admission: whether a matched request may reach its handler. Dispatch asks this as the
// route's row says (route_table.h): the admin token, or a user JWT followed by the rate
// limiter (node-local and synchronous, or shared and asynchronous through Redis). Refusals
// are answered here: 401 UNAUTHENTICATED, 429 RATE_LIMITED. A refused reserve attempt goes to
// the audit trail (outcome THROTTLED) through the engine's bounded side channel.
//
// Thread-safety: every function may run concurrently on the I/O threads; `services` is only
// read.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "http/api_services.h"
#include "http/exchange.h"
#include "http/route_table.h"
#include "http/router.h"
#include "ratelimit/client_identity.h"
#include "ratelimit/rate_limiter.h"

namespace fs::http {

// nullopt when the admin token matches (compared in constant time), else the 401 to send.
std::optional<Response> AuthenticateAdmin(const ApiServices& services, const Request& request);

struct AdmittedUser {
  std::string user_id;
  // The identity the node-local limiter checked, when it checked one (so a handler need not
  // derive it again).
  std::optional<ratelimit::RequestIdentity> identity;
  std::string email;  // the token's `email` claim; empty when none (auth::Claims::email)
};

// The user of a valid JWT, or the response to send: 401 without a valid token; with the
// node-local limiter and a limited route, 429 when the request is over a limit (checked after
// the token, so unauthenticated floods cost a signature check and never a bucket). A request
// the shared limiter already admitted (Request::admitted_user_id) passes at once.
std::variant<AdmittedUser, Response> AuthenticateUser(const ApiServices& services,
                                                      const Route& route, const Request& request,
                                                      const RouteMatch& match);

// True when the request must first pass the shared (asynchronous) limiter.
bool NeedsSharedAdmission(const ApiServices& services, const Route& route, const Request& request);

// Continues an admitted request: the copy marked admitted and its route match, viewing it.
using AdmittedContinuation =
    std::function<void(const Request& request, const RouteMatch& match, Exchange exchange)>;

// With the shared limiter: verifies the token (401 without a valid one), checks the limiter
// (429 when refused), and on admission calls `next`, on the connection's executor, with a
// held copy of the request marked admitted. `match` (kFound) is the request's route; the held
// copy carries it, not matched again. REQUIRES: NeedsSharedAdmission(services, route, request).
void AdmitThenDispatch(const ApiServices& services, const Route& route, const Request& request,
                       const RouteMatch& match, const Exchange& exchange,
                       AdmittedContinuation next);

// The limiter's view of who sent `request` on behalf of `user_id`.
ratelimit::RequestIdentity IdentityOf(const Request& request, std::string user_id,
                                      std::string_view tier_claim,
                                      const ratelimit::CidrList& trusted_proxies);

}  // namespace fs::http
