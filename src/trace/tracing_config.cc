#include "trace/tracing_config.h"

namespace fs::trace {
namespace {

std::string Trimmed(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

base::Result<net::HttpHeaders> ParseHeaders(const std::string& text) {
  net::HttpHeaders headers;
  std::size_t at = 0;
  while (at <= text.size() && !text.empty()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const std::size_t equals = item.find('=');
    const std::string name = Trimmed(item.substr(0, equals));
    if (equals == std::string::npos || name.empty()) {
      return base::InvalidArgument(
          "OTEL_EXPORTER_OTLP_HEADERS must be name=value pairs "
          "separated by commas");
    }
    const std::string value = Trimmed(item.substr(equals + 1));
    for (const char c : name + value) {
      if (c < 0x20 || c == 0x7f) {
        return base::InvalidArgument("OTEL_EXPORTER_OTLP_HEADERS holds a control character");
      }
    }
    headers.emplace_back(name, value);
    at = comma + 1;
  }
  return headers;
}

}  // namespace

base::Result<std::optional<TracingConfig>> TracingConfigFromEnvironment(
    const EnvironmentLookup& lookup) {
  TracingConfig config;
  const std::string traces = lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  std::string base = lookup("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!traces.empty()) {
    config.traces_url = traces;
  } else if (!base.empty()) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    config.traces_url = base + "/v1/traces";
  } else {
    return std::optional<TracingConfig>();
  }
  const char* variable =
      traces.empty() ? "OTEL_EXPORTER_OTLP_ENDPOINT" : "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
  if (!net::CheckHttpUrl(config.traces_url).ok()) {
    return base::InvalidArgument(std::string(variable) + " must be an http:// or https:// URL");
  }
  std::string protocol = lookup("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
  if (protocol.empty()) protocol = lookup("OTEL_EXPORTER_OTLP_PROTOCOL");
  if (!protocol.empty() && protocol != "http/json") {
    return base::InvalidArgument("OTEL_EXPORTER_OTLP_PROTOCOL: only http/json is supported, got '" +
                                 protocol + "'");
  }
  auto headers = ParseHeaders(lookup("OTEL_EXPORTER_OTLP_HEADERS"));
  if (!headers) return headers.error();
  config.headers = std::move(*headers);
  if (const std::string name = lookup("OTEL_SERVICE_NAME"); !name.empty()) {
    config.service_name = name;
  }
  auto sampler =
      SamplerFromEnvironment(lookup("OTEL_TRACES_SAMPLER"), lookup("OTEL_TRACES_SAMPLER_ARG"));
  if (!sampler) return sampler.error();
  config.sampler = *sampler;
  return std::optional<TracingConfig>(std::move(config));
}

}  // namespace fs::trace
