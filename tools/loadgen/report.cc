#include "tools/loadgen/report.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

namespace fs::loadgen {
namespace {

constexpr double kPercentiles[] = {50, 90, 95, 99, 99.9};
constexpr const char* kPercentileNames[] = {"p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms"};

std::uint64_t Answered(const EndpointStats& endpoint) { return endpoint.latency.count(); }

std::string Format(const char* format, auto... args) {
  char line[512];
  std::snprintf(line, sizeof line, format, args...);
  return line;
}

std::string_view FeatureName(Feature feature) {
  switch (feature) {
    case Feature::kAvailable:
      return "available";
    case Feature::kNotAvailable:
      return "not available";
    case Feature::kNotUsed:
      return "not used";
  }
  return "?";
}

std::string StatusList(const EndpointStats& endpoint) {
  std::string text;
  for (const auto& [code, n] : endpoint.status_count) {
    text += (text.empty() ? "" : " ") + std::to_string(code) + ":" + std::to_string(n);
  }
  for (const auto& [code, n] : endpoint.error_code_count) {
    text += " " + code + ":" + std::to_string(n);
  }
  if (endpoint.transport_errors > 0) {
    text += " transport-errors:" + std::to_string(endpoint.transport_errors);
  }
  return text;
}

}  // namespace

std::string RenderTable(RunSummary& summary) {
  const Config& c = summary.config;
  std::string out =
      Format("scenario %s, %d connections, %s, %.2f s\n",
             std::string(ScenarioName(c.scenario)).c_str(), c.connections,
             c.rate > 0 ? Format("open loop %.0f/s", c.rate).c_str() : "closed loop or ramp",
             summary.elapsed_seconds);
  out += Format("%-13s %9s %9s %8s %8s %8s %8s %9s %8s  %s\n", "endpoint", "requests", "req/s",
                "p50 ms", "p90 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms", "status");
  for (auto& [name, endpoint] : summary.stats.endpoints) {
    LatencyStats& l = endpoint.latency;
    out += Format("%-13s %9llu %9.0f %8.2f %8.2f %8.2f %8.2f %9.2f %8.2f  %s\n", name.c_str(),
                  static_cast<unsigned long long>(Answered(endpoint)),
                  static_cast<double>(Answered(endpoint)) / summary.elapsed_seconds,
                  l.Percentile(50), l.Percentile(90), l.Percentile(95), l.Percentile(99),
                  l.Percentile(99.9), l.Max(), StatusList(endpoint).c_str());
  }
  if (summary.unsent_jobs > 0) {
    out += Format("%llu due jobs never sent: the run fell more than %.0f s behind its schedule\n",
                  static_cast<unsigned long long>(summary.unsent_jobs), c.drain_seconds);
  }
  if (summary.sold_out_after_seconds) {
    out += Format("sold out after %.3f s\n", *summary.sold_out_after_seconds);
  }
  const RunStats& s = summary.stats;
  if (c.scenario == Scenario::kContest) {
    out +=
        Format("units: honest %llu, bots %llu\n", static_cast<unsigned long long>(s.units.honest),
               static_cast<unsigned long long>(s.units.bots));
  }
  if (c.scenario == Scenario::kSale || c.scenario == Scenario::kCheckout) {
    out += Format("reserved %llu, abandoned %llu, checkout %s, checkouts accepted %llu",
                  static_cast<unsigned long long>(s.units.honest),
                  static_cast<unsigned long long>(s.releases),
                  std::string(FeatureName(summary.checkout)).c_str(),
                  static_cast<unsigned long long>(s.checkouts_accepted));
    for (const auto& [status, n] : s.order_final_status) {
      out += Format(", %s %llu", status.c_str(), static_cast<unsigned long long>(n));
    }
    out += "\n";
  }
  if (summary.stats.order_settled.count() > 0) {
    LatencyStats& l = summary.stats.order_settled;
    out += Format(
        "checkout to final order status: %zu orders, p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, "
        "max %.0f ms\n",
        l.count(), l.Percentile(50), l.Percentile(95), l.Percentile(99), l.Max());
  }
  for (const InvariantCheck& check : summary.invariants) {
    out += Format("invariant %-34s %-13s %s\n", check.name.c_str(),
                  std::string(VerdictName(check.verdict)).c_str(), check.detail.c_str());
  }
  return out;
}

std::string RenderJson(RunSummary& summary) {
  const Config& c = summary.config;
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("scenario");
  w.String(std::string(ScenarioName(c.scenario)).c_str());
  w.Key("sku_id");
  w.String(c.sku.c_str());
  w.Key("connections");
  w.Int(c.connections);
  w.Key("rate");
  w.Double(c.rate);
  w.Key("seconds");
  w.Double(summary.elapsed_seconds);
  std::uint64_t total = 0;
  w.Key("endpoints");
  w.StartObject();
  for (auto& [name, endpoint] : summary.stats.endpoints) {
    total += Answered(endpoint);
    w.Key(name.c_str());
    w.StartObject();
    w.Key("requests");
    w.Uint64(Answered(endpoint));
    w.Key("rps");
    w.Double(static_cast<double>(Answered(endpoint)) / summary.elapsed_seconds);
    for (std::size_t i = 0; i < std::size(kPercentiles); ++i) {
      w.Key(kPercentileNames[i]);
      w.Double(endpoint.latency.Percentile(kPercentiles[i]));
    }
    w.Key("max_ms");
    w.Double(endpoint.latency.Max());
    w.Key("status");
    w.StartObject();
    for (const auto& [code, n] : endpoint.status_count) {
      w.Key(std::to_string(code).c_str());
      w.Uint64(n);
    }
    w.EndObject();
    w.Key("error_codes");
    w.StartObject();
    for (const auto& [code, n] : endpoint.error_code_count) {
      w.Key(code.c_str());
      w.Uint64(n);
    }
    w.EndObject();
    w.Key("transport_errors");
    w.Uint64(endpoint.transport_errors);
    // One entry per second of the run: requests due in it, answered, and their latencies.
    w.Key("by_second");
    w.StartArray();
    for (std::size_t second = 0; second < endpoint.by_second.size(); ++second) {
      LatencyStats& l = endpoint.by_second[second];
      w.StartObject();
      w.Key("second");
      w.Uint64(second);
      w.Key("requests");
      w.Uint64(l.count());
      w.Key("p50_ms");
      w.Double(l.Percentile(50));
      w.Key("p95_ms");
      w.Double(l.Percentile(95));
      w.Key("p99_ms");
      w.Double(l.Percentile(99));
      w.Key("max_ms");
      w.Double(l.Max());
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  w.Key("requests");
  w.Uint64(total);
  w.Key("rps");
  w.Double(static_cast<double>(total) / summary.elapsed_seconds);
  w.Key("unsent_jobs");
  w.Uint64(summary.unsent_jobs);
  w.Key("sold_out_after_seconds");
  if (summary.sold_out_after_seconds) {
    w.Double(*summary.sold_out_after_seconds);
  } else {
    w.Null();
  }
  const RunStats& s = summary.stats;
  w.Key("units");
  w.StartObject();
  w.Key("honest");
  w.Uint64(s.units.honest);
  w.Key("bots");
  w.Uint64(s.units.bots);
  w.EndObject();
  w.Key("abandoned");
  w.Uint64(s.releases);
  w.Key("checkout");
  w.String(std::string(FeatureName(summary.checkout)).c_str());
  w.Key("checkouts_accepted");
  w.Uint64(s.checkouts_accepted);
  w.Key("orders");
  w.StartObject();
  for (const auto& [status, n] : s.order_final_status) {
    w.Key(status.c_str());
    w.Uint64(n);
  }
  w.EndObject();
  w.Key("order_settled");
  w.StartObject();
  w.Key("orders");
  w.Uint64(summary.stats.order_settled.count());
  for (std::size_t i = 0; i < std::size(kPercentiles); ++i) {
    w.Key(kPercentileNames[i]);
    w.Double(summary.stats.order_settled.Percentile(kPercentiles[i]));
  }
  w.Key("max_ms");
  w.Double(summary.stats.order_settled.Max());
  w.EndObject();
  w.Key("invariants");
  w.StartObject();
  w.Key("checked");
  w.Bool(!summary.invariants.empty());
  w.Key("ok");
  w.Bool(NoneFailed(summary.invariants));
  w.Key("checks");
  w.StartArray();
  for (const InvariantCheck& check : summary.invariants) {
    w.StartObject();
    w.Key("name");
    w.String(check.name.c_str());
    w.Key("verdict");
    w.String(std::string(VerdictName(check.verdict)).c_str());
    w.Key("detail");
    w.String(check.detail.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

}  // namespace fs::loadgen
