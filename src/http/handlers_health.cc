// Handlers of the operational routes: liveness, readiness (what a load balancer asks) and
// the Prometheus metrics.
#include "http/handlers.h"
#include "http/json_render.h"
#include "http/replies.h"
#include "metrics/ratelimit_metrics.h"

namespace fs::http::handlers {

void Healthz(const ApiServices& /*services*/, Call& call) {
  call.exchange.respond(JsonResponse(200, RenderStatusBody("ok")));
}

void Readyz(const ApiServices& services, Call& call) {
  if (services.shutting_down.load(std::memory_order_acquire)) {
    return call.exchange.respond(OutcomeResponse({503, code::kUnavailable, "shutting down"}));
  }
  if (!services.engine.healthy()) {
    return call.exchange.respond(
        OutcomeResponse({503, code::kUnavailable, "the engine stopped after a failed commit"}));
  }
  if (const std::string refusal = services.engine.write_refusal(); !refusal.empty()) {
    // A balancer should send writes elsewhere until a batch commits again (the log has the
    // store's own error).
    return call.exchange.respond(ErrorResponse(
        503, code::kUnavailable, "the store refuses writes (" + refusal + "); see the log"));
  }
  if (services.shared != nullptr) {
    // Still ready: without Redis the node serves correctly from local state, so a load
    // balancer must keep it; the body tells operators what is missing.
    return call.exchange.respond(
        JsonResponse(200, services.shared->up() ? R"({"status":"ok","redis":"up"})"
                                                : R"({"status":"degraded","redis":"down"})"));
  }
  call.exchange.respond(JsonResponse(200, RenderStatusBody("ok")));
}

std::string RenderMetricsBody(const ApiServices& services) {
  std::string body = metrics::RenderMetrics(services.engine, services.metrics);
  metrics::TextWriter writer;
  if (services.limiter != nullptr || services.async_limiter != nullptr) {
    const ratelimit::LimiterSnapshot snapshot = services.limiter != nullptr
                                                    ? services.limiter->Snapshot()
                                                    : services.async_limiter->Snapshot();
    metrics::WriteRateLimitMetrics(&snapshot, writer);
  } else {
    metrics::WriteRateLimitMetrics(nullptr, writer);
  }
  // What the push routes hold: each is an open connection (their bounds are flags).
  writer.Family("flashsale_order_waiters", "Order reads held by wait_seconds now.",
                metrics::MetricType::kGauge);
  writer.SampleUnsigned("flashsale_order_waiters", {}, services.order_waiters.held());
  writer.Family("flashsale_sse_subscribers", "Open availability event streams now.",
                metrics::MetricType::kGauge);
  writer.SampleUnsigned("flashsale_sse_subscribers", {},
                        services.sse_subscribers.load(std::memory_order_relaxed));
  body += writer.Take();
  if (services.shared != nullptr) body += services.shared->RenderMetrics();
  return body;
}

void Metrics(const ApiServices& services, Call& call) {
  if (services.options.metrics_route == MetricsRoute::kSeparatePort) {
    // --metrics-listen: the metrics are not public on this port.
    return call.exchange.respond(ErrorResponse(404, code::kNotFound, "no such route"));
  }
  call.exchange.respond(Response{200, RenderMetricsBody(services), kMetricsContentType});
}

}  // namespace fs::http::handlers
