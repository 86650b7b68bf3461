// Goal: the list-valued settings an operator types never crash their parsers, every refusal is
// kInvalidArgument, and what is accepted is within its documented bounds. Round trips:
// --rate-limit-tiers parse -> format -> parse gives the same table; --payment-retry-schedule
// parse -> write out in milliseconds -> parse gives the same delays. Also the CIDR lists
// (--trusted-proxies, --suspicious-cidrs) and the OpenTelemetry variables with their header
// list (OTEL_EXPORTER_OTLP_HEADERS).
//
// Input: the first byte picks the setting, the rest is its text (for the OpenTelemetry
// variables, one value per line in the order of kOtelVariables).
// Thread-safety: single-threaded (libFuzzer's thread).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/status.h"
#include "core/order.h"
#include "ratelimit/client_identity.h"
#include "ratelimit/tiers.h"
#include "trace/tracing_config.h"

namespace fs {
namespace {

template <typename T>
void CheckRefusal(const base::Result<T>& parsed) {
  if (!parsed.has_value()) FS_CHECK(parsed.error().code() == base::StatusCode::kInvalidArgument);
}

bool SameTables(const ratelimit::TierTable& a, const ratelimit::TierTable& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].requests_per_minute != b[i].requests_per_minute) return false;
    if (a[i].burst != b[i].burst) return false;
  }
  return true;
}

void Tiers(std::string_view text) {
  const auto table = ratelimit::ParseTierTable(text, ratelimit::DefaultTierTable());
  CheckRefusal(table);
  if (!table) return;
  for (const ratelimit::TierLimit& limit : *table) {
    FS_CHECK(limit.requests_per_minute >= 1);
    FS_CHECK(limit.requests_per_minute <= ratelimit::kRequestsPerMinuteMax);
    FS_CHECK(limit.burst >= 1);
    FS_CHECK(limit.burst <= limit.requests_per_minute * 60);
  }
  // The formatted table names every tier: it parses to itself over any base.
  const std::string formatted = ratelimit::FormatTierTable(*table);
  ratelimit::TierTable other_base{};
  for (auto& limit : other_base) limit = {1, 1};
  const auto again = ratelimit::ParseTierTable(formatted, other_base);
  FS_CHECK(again.has_value());
  FS_CHECK(SameTables(*again, *table));
  FS_CHECK(ratelimit::FormatTierTable(*again) == formatted);
}

void Cidrs(std::string_view text) {
  const auto list = ratelimit::CidrList::Parse(text, "--trusted-proxies");
  CheckRefusal(list);
  if (!list) return;
  FS_CHECK(list->size() <= static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')) + 1);
  FS_CHECK(list->empty() == (list->size() == 0));
}

void RetrySchedule(std::string_view text) {
  const auto schedule = core::ParseRetrySchedule(text);
  if (!schedule) return;
  FS_CHECK(!schedule->delays.empty());
  FS_CHECK(schedule->delays.size() <= core::kRetryScheduleLengthMax);
  std::string in_millis;
  for (const std::chrono::milliseconds delay : schedule->delays) {
    FS_CHECK(delay.count() > 0);
    if (!in_millis.empty()) in_millis += ',';
    in_millis += std::to_string(delay.count()) + "ms";
  }
  const auto again = core::ParseRetrySchedule(in_millis);
  FS_CHECK(again.has_value());
  FS_CHECK(again->delays == schedule->delays);
  FS_CHECK(again->jitter_percent == schedule->jitter_percent);
}

constexpr const char* kOtelVariables[] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                          "OTEL_EXPORTER_OTLP_ENDPOINT",
                                          "OTEL_EXPORTER_OTLP_PROTOCOL",
                                          "OTEL_EXPORTER_OTLP_HEADERS",
                                          "OTEL_SERVICE_NAME",
                                          "OTEL_TRACES_SAMPLER",
                                          "OTEL_TRACES_SAMPLER_ARG"};

void Tracing(std::string_view text) {
  std::map<std::string, std::string> environment;
  for (const char* name : kOtelVariables) {
    const std::size_t newline = text.find('\n');
    environment[name] = std::string(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  }
  const auto config = trace::TracingConfigFromEnvironment(
      [&environment](const std::string& name) { return environment[name]; });
  CheckRefusal(config);
  if (!config || !config->has_value()) return;
  FS_CHECK(!(*config)->traces_url.empty());
  for (const auto& [name, value] : (*config)->headers) {
    FS_CHECK(!name.empty());
    for (const char c : name + value) FS_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  }
}

}  // namespace
}  // namespace fs

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      Tiers(text);
      break;
    case 1:
      Cidrs(text);
      break;
    case 2:
      RetrySchedule(text);
      break;
    default:
      Tracing(text);
      break;
  }
  return 0;
}
