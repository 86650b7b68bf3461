// Tracing configured by the standard OpenTelemetry variables:
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the traces URL as is, or
//   OTEL_EXPORTER_OTLP_ENDPOINT         a base URL; spans go to {endpoint}/v1/traces
//   OTEL_EXPORTER_OTLP_PROTOCOL         http/json (the only one spoken; unset means http/json)
//   OTEL_EXPORTER_OTLP_HEADERS          k=v,k2=v2 sent with every export (e.g. an API key)
//   OTEL_SERVICE_NAME                   service.name (default flashsale)
//   OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG  (sampler.h)
// No endpoint: tracing is off (nullopt) and costs nothing beyond reading the header.
// Thread-safety: a pure function of the lookup.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/status.h"
#include "net/http_client.h"
#include "trace/sampler.h"

namespace fs::trace {

struct TracingConfig {
  std::string traces_url;
  net::HttpHeaders headers;
  std::string service_name = "flashsale";
  Sampler sampler;
};

// `lookup(name)`: the variable's value, "" when unset (std::getenv in production).
using EnvironmentLookup = std::function<std::string(const std::string&)>;

// kInvalidArgument naming the variable at fault (a bad URL, an unsupported protocol, a
// malformed header list, a bad sampler).
base::Result<std::optional<TracingConfig>> TracingConfigFromEnvironment(
    const EnvironmentLookup& lookup);

}  // namespace fs::trace
