#include "trace/sampler.h"

#include <charconv>
#include <cmath>

namespace fs::trace {

bool Sampler::ShouldSample(const TraceId& trace_id, std::optional<bool> parent_sampled) const {
  if (parent_based && parent_sampled) return *parent_sampled;
  switch (root) {
    case RootSampler::kAlwaysOn:
      return true;
    case RootSampler::kAlwaysOff:
      return false;
    case RootSampler::kTraceIdRatio:
      break;
  }
  if (ratio >= 1.0) return true;
  if (ratio <= 0.0) return false;
  // The trace id's last 8 bytes are random (W3C, "random trace-id flag"): the trace is kept
  // when they fall below ratio x 2^64, so every node keeps or drops the same traces.
  std::uint64_t low = 0;
  for (std::size_t i = 8; i < 16; ++i) low = (low << 8) | trace_id.bytes[i];
  return static_cast<double>(low) < ratio * 18446744073709551616.0;
}

std::string Sampler::Describe() const {
  std::string name = parent_based ? "parentbased_" : "";
  switch (root) {
    case RootSampler::kAlwaysOn:
      return name + "always_on";
    case RootSampler::kAlwaysOff:
      return name + "always_off";
    case RootSampler::kTraceIdRatio:
      break;
  }
  return name + "traceidratio(" + std::to_string(ratio) + ")";
}

base::Result<Sampler> SamplerFromEnvironment(const std::string& sampler, const std::string& arg) {
  Sampler result;
  const std::string name = sampler.empty() ? "parentbased_traceidratio" : sampler;
  const std::string prefix = "parentbased_";
  result.parent_based = name.rfind(prefix, 0) == 0;
  const std::string root = result.parent_based ? name.substr(prefix.size()) : name;
  if (root == "always_on") {
    result.root = RootSampler::kAlwaysOn;
  } else if (root == "always_off") {
    result.root = RootSampler::kAlwaysOff;
  } else if (root == "traceidratio") {
    result.root = RootSampler::kTraceIdRatio;
  } else {
    return base::InvalidArgument(
        "OTEL_TRACES_SAMPLER must be always_on, always_off, traceidratio, "
        "parentbased_always_on, parentbased_always_off or parentbased_traceidratio, got '" +
        sampler + "'");
  }
  if (result.root == RootSampler::kTraceIdRatio && !arg.empty()) {
    double ratio = -1;
    const auto [end, error] = std::from_chars(arg.data(), arg.data() + arg.size(), ratio);
    if (error != std::errc() || end != arg.data() + arg.size() || !std::isfinite(ratio) ||
        ratio < 0 || ratio > 1) {
      return base::InvalidArgument("OTEL_TRACES_SAMPLER_ARG must be a ratio in [0, 1], got '" +
                                   arg + "'");
    }
    result.ratio = ratio;
  }
  return result;
}

}  // namespace fs::trace
