// Handlers of the reservations: the two reserve routes (SKU in the path or in the body), and
// reading and releasing one of the caller's reservations. Every one is decided by the writer
// and answered from its callback after the batch is durable.
#include <memory>

#include "auth/queue_pass.h"
#include "core/rules.h"
#include "http/admission.h"
#include "http/handlers.h"
#include "http/replies.h"
#include "http/request_parsing.h"
#include "http/store_reads.h"

namespace fs::http::handlers {
namespace {

// The SKU of a reserve: the path's on /api/v1/products/{sku}/reserve (the body may repeat
// it), the body's on /api/v1/reserve. The response to send when neither works.
std::variant<std::string, Response> ReserveSku(const RouteMatch& match, ReserveBody& body) {
  if (match.param_count == 1) {  // POST /api/v1/products/{sku}/reserve
    const std::string_view path_sku = match.params[0];
    if (body.sku_id && *body.sku_id != path_sku) {
      return ErrorResponse(400, code::kInvalidRequest, "sku_id in the body differs from the path");
    }
    // No sale can have an id outside the sku alphabet: answer without queueing.
    if (!core::IsValidSkuId(std::string(path_sku))) return SkuNotFound();
    return std::string(path_sku);
  }
  if (!body.sku_id) return ErrorResponse(400, code::kInvalidRequest, "sku_id is required");
  return std::move(*body.sku_id);
}

// Cluster mode: claims the key in Redis first; the writer gets the hint, never a verdict.
void ReserveWithClaimedKey(const ApiServices& services, core::ReserveCommand command,
                           core::PresentedPass pass, const Exchange& exchange,
                           const trace::ParentContext& trace) {
  auto held = std::make_shared<core::ReserveCommand>(std::move(command));
  auto held_pass = std::make_shared<core::PresentedPass>(std::move(pass));
  engine::Engine* engine = &services.engine;
  services.shared->ClaimIdempotencyKey(
      held->user_id, held->idempotency_key,
      [engine, held, held_pass, exchange, trace](core::IdempotencyHint hint) {
        held->idempotency_hint = hint;
        engine->Submit(engine::Reserve{std::move(*held), std::move(*held_pass)},
                       PostBack<engine::ReplyOf<engine::Reserve>>(exchange, &ReserveResponse),
                       trace);
      });
}

}  // namespace

void Reserve(const ApiServices& services, Call& call) {
  const Request& request = call.request;
  auto body = ParseReserveBody(request.body);
  if (!body) return call.exchange.respond(InvalidRequest(body.error()));
  core::ReserveCommand command;
  auto sku = ReserveSku(call.match, *body);
  if (auto* refused = std::get_if<Response>(&sku)) {
    return call.exchange.respond(std::move(*refused));
  }
  command.sku_id = std::move(std::get<std::string>(sku));
  if (request.trace.sampled && call.exchange.notes) call.exchange.notes->sku_id = command.sku_id;
  auto key = ResolveIdempotencyKey(request.idempotency_key, body->idempotency_key);
  if (!key) return call.exchange.respond(InvalidRequest(key.error()));
  auto pass_text = ResolveQueuePass(request.queue_pass, body->queue_pass);
  if (!pass_text) return call.exchange.respond(InvalidRequest(pass_text.error()));
  // The signature is checked here (crypto stays out of the writer); whether the pass is
  // needed, its holder, expiry and single use are the writer's decision.
  core::PresentedPass pass;
  if (*pass_text) pass = auth::VerifyQueuePass(**pass_text, services.queue_pass_key);
  command.user_id = std::move(call.user_id);
  command.quantity = body->quantity;
  command.idempotency_key = std::move(*key);
  command.request_id = std::string(request.request_id);
  // The audit trail records who asked, as the rate limiter sees them (proxy-aware client IP,
  // one device fingerprint function for both): the limiter's own view when it checked one.
  const ratelimit::RequestIdentity client =
      call.identity ? std::move(*call.identity)
                    : IdentityOf(request, "", "", services.trusted_proxies);
  command.client_ip = client.client_ip.ToString();
  command.device_fingerprint = client.fingerprint;
  if (services.shared != nullptr && services.shared->cache_enabled() &&
      !command.idempotency_key.empty()) {
    return ReserveWithClaimedKey(services, std::move(command), std::move(pass), call.exchange,
                                 request.trace);
  }
  services.engine.Submit(
      engine::Reserve{std::move(command), std::move(pass)},
      PostBack<engine::ReplyOf<engine::Reserve>>(std::move(call.exchange), &ReserveResponse),
      request.trace);
}

void GetReservation(const ApiServices& services, Call& call) {
  const std::string id(call.match.params[0]);
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(ReservationNotFound());
  auto answer =
      PostBack<engine::ReplyOf<engine::GetReservation>>(call.exchange, &ReservationResponse);
  services.engine.Submit(
      engine::GetReservation{id, call.user_id},
      [&services, exchange = call.exchange, id, user_id = call.user_id,
       answer](engine::ReplyOf<engine::GetReservation> reply) {
        if (!reply.status.ok() || reply.value) return answer(std::move(reply));
        // The writer keeps only active reservations: an ended one is read from the store.
        SubmitStoreRead(services, exchange, [id, user_id](audit::AuditSource& source) {
          return EndedReservation(source, id, user_id, [](const core::Reservation& found) {
            return ReservationResponse({base::Status::Ok(), found});
          });
        });
      },
      call.request.trace);
}

void DeleteReservation(const ApiServices& services, Call& call) {
  const std::string id(call.match.params[0]);
  if (!IsPlausibleReservationId(id)) return call.exchange.respond(ReservationNotFound());
  auto answer = PostBack<engine::ReplyOf<engine::Release>>(call.exchange, &ReleaseResponse);
  services.engine.Submit(
      engine::Release{id, call.user_id, std::string(call.request.request_id)},
      [&services, exchange = call.exchange, id, user_id = call.user_id,
       answer](engine::ReplyOf<engine::Release> reply) {
        if (!reply.status.ok() || reply.value.outcome != core::ReleaseOutcome::kNotFound) {
          return answer(std::move(reply));
        }
        // Ended and forgotten by the writer: answered as it would have, from the stored row.
        SubmitStoreRead(services, exchange, [id, user_id](audit::AuditSource& source) {
          return EndedReservation(source, id, user_id, [](const core::Reservation& found) {
            core::ReleaseResult result;
            result.outcome = found.status == core::ReservationStatus::kReleased
                                 ? core::ReleaseOutcome::kAlreadyReleased
                             : found.status == core::ReservationStatus::kExpired
                                 ? core::ReleaseOutcome::kExpired
                                 : core::ReleaseOutcome::kNotActive;
            result.reservation = found;
            return ReleaseResponse({base::Status::Ok(), std::move(result)});
          });
        });
      },
      call.request.trace);
}

}  // namespace fs::http::handlers
