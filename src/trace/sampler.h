// Which traces are recorded, configured as OpenTelemetry SDKs are: OTEL_TRACES_SAMPLER names
// the sampler and OTEL_TRACES_SAMPLER_ARG its ratio. always_on, always_off and
// traceidratio decide alone; the parentbased_ forms follow the caller's sampled flag when a
// valid traceparent came with the request and use the named sampler only for new traces. The
// product's default is parentbased_traceidratio with ratio 0.01.
// Thread-safety: a Sampler is an immutable value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "trace/trace_context.h"

namespace fs::trace {

enum class RootSampler : std::uint8_t { kAlwaysOn, kAlwaysOff, kTraceIdRatio };

struct Sampler {
  RootSampler root = RootSampler::kTraceIdRatio;
  bool parent_based = true;
  double ratio = 0.01;  // kTraceIdRatio: in [0, 1]

  // `parent_sampled`: the caller's flag when a valid traceparent came, else nullopt.
  bool ShouldSample(const TraceId& trace_id, std::optional<bool> parent_sampled) const;
  // "parentbased_traceidratio(0.01)", for the start-up log line.
  std::string Describe() const;
};

// From the variables' values ("" when unset). kInvalidArgument names the variable at fault:
// an unknown sampler, or a ratio that is not a number in [0, 1].
base::Result<Sampler> SamplerFromEnvironment(const std::string& sampler, const std::string& arg);

}  // namespace fs::trace
