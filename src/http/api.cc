#include "http/api.h"

#include <chrono>
#include <exception>

#include "audit/audit_source.h"
#include "auth/queue_pass.h"
#include "base/check.h"
#include "http/admission.h"
#include "http/handlers.h"
#include "http/outcome_table.h"
#include "log/log_output.h"

namespace fs::http {
namespace {

// The audit sources of a node: its PostgreSQL database in cluster mode, else its SQLite file.
AuditReadPool::Opener AuditOpener(const ApiOptions& options) {
  return [database_path = options.database_path, store_url = options.store_url] {
    return audit::OpenAuditSource(database_path, store_url);
  };
}

// The latency histograms of reserves and checkouts (route_table.h, RouteKind).
void ObserveLatency(metrics::HttpMetrics& metrics, RouteKind kind, unsigned status,
                    std::chrono::nanoseconds duration) {
  const metrics::RequestOutcome outcome = metrics::OutcomeOfStatus(status);
  if (kind == RouteKind::kReserve) metrics.reserve_latency_by_outcome.Observe(outcome, duration);
  if (!metrics::IsDecided(outcome)) return;
  if (kind == RouteKind::kReserve) metrics.reservation_latency.Observe(duration);
  if (kind == RouteKind::kCheckout) metrics.checkout_latency.Observe(duration);
}

}  // namespace

ApiServices::ApiServices(ApiOptions options_in, engine::Engine& engine_in,
                         metrics::HttpMetrics& metrics_in, AuditReadPool& audit_reads_in)
    : options(std::move(options_in)),
      queue_pass_key(auth::QueuePassKey(options.jwt_secret)),
      jwt_verifier(options.jwt_secret, options.jwt),
      admin_token_digest(crypto::Sha256Of(options.admin_token)),
      engine(engine_in),
      metrics(metrics_in),
      audit_reads(audit_reads_in),
      catalog(options.jwt_secret),
      order_waiters(options.order_waiters_max) {}

Api::Api(ApiOptions options, engine::Engine& engine, metrics::HttpMetrics& metrics)
    : audit_reads_(AuditOpener(options), AuditReadPoolOptions{}),
      services_(std::move(options), engine, metrics, audit_reads_),
      router_(BuildRouter()) {
  const std::vector<std::string> templates = router_.Templates();
  unmatched_route_index_ = templates.size();
  for (const std::string& path_template : templates) {
    const std::size_t first = path_template.find('{');
    template_has_sku_.push_back(first != std::string::npos &&
                                path_template.compare(first, 5, "{sku}") == 0);
  }
  FS_CHECK(services_.metrics.requests.route_labels().size() == unmatched_route_index_ + 1);
  FS_CHECK(services_.metrics.requests.method_labels().size() == MethodLabels().size());
}

Api::~Api() { audit_reads_.Stop(); }

std::vector<std::string> Api::RouteLabels() {
  std::vector<std::string> labels = BuildRouter().Templates();
  labels.emplace_back(kUnmatchedRouteLabel);
  return labels;
}

std::vector<std::string> Api::MethodLabels() {
  std::vector<std::string> labels;
  for (auto method = static_cast<std::size_t>(Method::kGet);
       method <= static_cast<std::size_t>(Method::kOther); ++method) {
    labels.emplace_back(MethodName(static_cast<Method>(method)));
  }
  return labels;
}

std::string Api::RenderMetrics() const { return handlers::RenderMetricsBody(services_); }

void Api::Handle(const Request& request, const boost::asio::any_io_executor& executor,
                 Respond respond) {
  const auto started = std::chrono::steady_clock::now();
  const RouteMatch match = router_.Match(request.method, request.target);
  const bool found = match.kind == RouteMatch::Kind::kFound;
  // A 405 still names its route template: only paths no route knows count as unmatched.
  const std::size_t label =
      match.kind == RouteMatch::Kind::kNotFound ? unmatched_route_index_ : match.template_index;
  const Route* route = found ? &Routes()[static_cast<std::size_t>(match.route_id)] : nullptr;
  const RouteKind kind = route != nullptr ? route->kind : RouteKind::kOther;
  const auto method = static_cast<std::size_t>(request.method);
  metrics::HttpMetrics* metrics = &services_.metrics;
  auto notes = std::make_shared<ExchangeNotes>();
  if (request.trace.sampled && found && template_has_sku_[match.template_index]) {
    notes->sku_id = std::string(match.params[0]);
  }
  // Counting happens as the response leaves, so async answers are counted with their code.
  Exchange exchange{executor,
                    [metrics, label, method, kind, started, notes,
                     respond = std::move(respond)](Response response) {
                      metrics->requests.Increment(label, method, response.status);
                      response.route_template = metrics->requests.route_labels()[label];
                      response.user_id = notes->user_id;
                      response.sku_id = notes->sku_id;
                      if (kind != RouteKind::kOther) {
                        ObserveLatency(*metrics, kind, response.status,
                                       std::chrono::steady_clock::now() - started);
                      }
                      respond(std::move(response));
                    },
                    notes};
  if (match.kind == RouteMatch::Kind::kNotFound) {
    return exchange.respond(ErrorResponse(404, code::kNotFound, "no such route"));
  }
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    Response response = ErrorResponse(405, code::kMethodNotAllowed,
                                      "method not allowed on this route; allowed: " + match.allow);
    response.headers.emplace_back("Allow", match.allow);
    return exchange.respond(std::move(response));
  }
  DispatchGuarded(*route, request, match, exchange);
}

void Api::DispatchGuarded(const Route& route, const Request& request, const RouteMatch& match,
                          const Exchange& exchange) {
  try {
    Dispatch(route, request, match, exchange);
  } catch (const std::exception& error) {
    // Handlers do not throw by design; this is a bug or bad_alloc. Answer (with a code from
    // the public set: retrying may well succeed) rather than drop the connection.
    log::Logger("http")->error("handler for {} {} threw: {}", MethodName(request.method),
                               request.target, error.what());
    exchange.respond(OutcomeResponse({503, code::kUnavailable, "internal error; retry"}));
  }
}

void Api::Dispatch(const Route& route, const Request& request, const RouteMatch& match,
                   Exchange exchange) {
  if (NeedsSharedAdmission(services_, route, request)) {
    return AdmitThenDispatch(services_, route, request, match, exchange,
                             [this, &route](const Request& admitted, const RouteMatch& held_match,
                                            const Exchange& next) {
                               DispatchGuarded(route, admitted, held_match, next);
                             });
  }
  Call call{request, match, {}, {}, std::nullopt, std::move(exchange)};
  switch (route.auth) {
    case AuthKind::kNone:
      break;
    case AuthKind::kAdmin:
      if (auto denied = AuthenticateAdmin(services_, request)) {
        return call.exchange.respond(std::move(*denied));
      }
      break;
    case AuthKind::kUser: {
      auto user = AuthenticateUser(services_, route, request, match);
      if (auto* denied = std::get_if<Response>(&user)) {
        return call.exchange.respond(std::move(*denied));
      }
      AdmittedUser& admitted = std::get<AdmittedUser>(user);
      if (call.exchange.notes) call.exchange.notes->user_id = admitted.user_id;
      call.user_id = std::move(admitted.user_id);
      call.email = std::move(admitted.email);
      call.identity = std::move(admitted.identity);
      break;
    }
  }
  route.handler(services_, call);
}

}  // namespace fs::http
