#include "http/admission.h"

#include <boost/asio/post.hpp>
#include <memory>
#include <utility>

#include "auth/jwt.h"
#include "core/rules.h"
#include "engine/fairness_audit.h"
#include "http/replies.h"
#include "http/request_parsing.h"

namespace fs::http {
namespace {

// A request copied out of the connection's buffers, for a request that continues after an
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
  std::string admitted_email;
  std::string request_id;
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
                                                std::string user_id, std::string email) {
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
  held->admitted_email = std::move(email);
  held->request_id = std::string(source.request_id);
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
  request.admitted_email = held->admitted_email;
  request.request_id = held->request_id;
  request.trace = source.trace;  // the writer's spans stay children of the server span
  held->match = RebaseMatch(match, source.target, request.target);
  return held;
}

// The SKU a throttled reserve asked for: the path's, or the body's on /api/v1/reserve (parsed
// only for this record); absent when it is not a possible sku id.
std::optional<std::string> ThrottledSku(const Request& request, const RouteMatch& match) {
  if (match.param_count == 1) {
    std::string path_sku(match.params[0]);
    if (core::IsValidSkuId(path_sku)) return path_sku;
    return std::nullopt;
  }
  auto body = ParseReserveBody(request.body);
  if (body && body->sku_id && core::IsValidSkuId(*body->sku_id)) return *body->sku_id;
  return std::nullopt;
}

// A throttled attempt is still an attempt: a reserve the limiter refused goes to the audit
// trail (outcome THROTTLED) through the engine's bounded side channel, without waiting for
// the writer.
void AuditThrottled(const ApiServices& services, const Request& request, const RouteMatch& match,
                    const ratelimit::Decision& decision,
                    const ratelimit::RequestIdentity& identity) {
  engine::FairnessEvent event;
  event.kind = engine::FairnessEvent::Kind::kThrottled;
  event.user_id = identity.user_id;
  event.sku_id = ThrottledSku(request, match);
  event.client_ip = identity.client_ip.ToString();
  event.device_fingerprint = identity.fingerprint;
  event.reason = std::string(ratelimit::ThrottleReasonName(decision.reason));
  event.tier = std::string(ratelimit::TierName(decision.tier));
  event.at = services.engine.clock().Now();
  event.request_id = std::string(request.request_id);
  services.engine.fairness_audit().Offer(std::move(event));
}

}  // namespace

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

std::optional<Response> AuthenticateAdmin(const ApiServices& services, const Request& request) {
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  if (!token) return Unauthenticated("missing bearer token");
  // Constant time over equal-length digests: response timing must reveal neither how much of a
  // guess was right nor the token's length.
  const crypto::Sha256Digest presented = crypto::Sha256Of(*token);
  const auto bytes = [](const crypto::Sha256Digest& digest) {
    return std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size());
  };
  if (!auth::ConstantTimeEquals(bytes(presented), bytes(services.admin_token_digest))) {
    return Unauthenticated("invalid admin token");
  }
  return std::nullopt;
}

std::variant<AdmittedUser, Response> AuthenticateUser(const ApiServices& services,
                                                      const Route& route, const Request& request,
                                                      const RouteMatch& match) {
  if (request.admitted_user_id) {
    return AdmittedUser{
        std::string(*request.admitted_user_id), {}, std::string(request.admitted_email)};
  }
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  if (!token) return Unauthenticated("missing bearer token");
  auth::VerifyResult verified = services.jwt_verifier.Verify(*token, services.engine.clock().Now());
  if (verified.error != auth::JwtError::kOk) {
    return Unauthenticated(auth::JwtErrorMessage(verified.error));
  }
  if (services.limiter == nullptr || route.rate_limit == RateLimitClass::kNone) {
    return AdmittedUser{std::move(verified.claims.subject), {}, std::move(verified.claims.email)};
  }
  ratelimit::RequestIdentity identity =
      IdentityOf(request, verified.claims.subject, verified.claims.tier, services.trusted_proxies);
  const ratelimit::Decision decision = services.limiter->Check(identity);
  if (!decision.allowed) {
    if (route.kind == RouteKind::kReserve) {
      AuditThrottled(services, request, match, decision, identity);
    }
    return RateLimited(decision);
  }
  return AdmittedUser{std::move(verified.claims.subject), std::move(identity),
                      std::move(verified.claims.email)};
}

bool NeedsSharedAdmission(const ApiServices& services, const Route& route, const Request& request) {
  return services.async_limiter != nullptr && !request.admitted_user_id &&
         route.rate_limit == RateLimitClass::kUser;
}

void AdmitThenDispatch(const ApiServices& services, const Route& route, const Request& request,
                       const RouteMatch& match, const Exchange& exchange,
                       AdmittedContinuation next) {
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  // Unauthenticated requests never cost a bucket (the same answers as AuthenticateUser).
  if (!token) return exchange.respond(Unauthenticated("missing bearer token"));
  auth::VerifyResult verified = services.jwt_verifier.Verify(*token, services.engine.clock().Now());
  if (verified.error != auth::JwtError::kOk) {
    return exchange.respond(Unauthenticated(auth::JwtErrorMessage(verified.error)));
  }
  std::shared_ptr<const HeldRequest> held =
      HoldAdmitted(request, match, verified.claims.subject, verified.claims.email);
  ratelimit::RequestIdentity identity =
      IdentityOf(held->request, std::move(verified.claims.subject), verified.claims.tier,
                 services.trusted_proxies);
  // A throttled reserve is audited like in the synchronous path: keep what the audit record
  // needs; the identity itself goes to the limiter.
  auto audited_identity = route.kind == RouteKind::kReserve
                              ? std::make_shared<const ratelimit::RequestIdentity>(identity)
                              : nullptr;
  const ApiServices* api = &services;
  services.async_limiter->Check(std::move(identity), [api, held, exchange, audited_identity,
                                                      next = std::move(next)](
                                                         ratelimit::Decision decision) {
    boost::asio::post(exchange.executor, [api, held, exchange, decision, audited_identity, next]() {
      if (!decision.allowed) {
        if (audited_identity) {
          AuditThrottled(*api, held->request, held->match, decision, *audited_identity);
        }
        return exchange.respond(RateLimited(decision));
      }
      next(held->request, held->match, exchange);
    });
  });
}

}  // namespace fs::http
