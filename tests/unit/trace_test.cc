// Goal: W3C trace context is read exactly as the standard says (anything malformed starts a new
// trace instead of joining a forged one), the samplers decide as OpenTelemetry's do, the
// OTEL_* variables are read or refused with the variable's name, and the OTLP/HTTP JSON
// encoding carries ids as lowercase hex, times as decimal strings and every attribute.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <set>
#include <string>

#include "trace/otlp_json.h"
#include "trace/sampler.h"
#include "trace/trace_context.h"
#include "trace/tracing_config.h"

namespace fs::trace {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesTheStandardsExampleAndFormatsItBack) {
  const auto parent = ParseTraceparent(kValid);
  ASSERT_TRUE(parent.has_value());
  EXPECT_EQ(parent->trace_id.Hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parent->span_id.Hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(parent->sampled);
  EXPECT_EQ(FormatTraceparent(parent->trace_id, parent->span_id, true), kValid);
  const auto unsampled =
      ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled);
  EXPECT_EQ(FormatTraceparent(unsampled->trace_id, unsampled->span_id, false).substr(53), "00");
}

TEST(TraceparentTest, RefusesEveryMalformedHeader) {
  const std::string refused[] = {
      "",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    // short
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // v00 with more
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero span id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // forbidden version
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // separator
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   // not hex
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // later version, junk
      std::string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\0", 55),
  };
  for (const std::string& header : refused) {
    EXPECT_FALSE(ParseTraceparent(header).has_value()) << header;
  }
  // A later version is read by its first fields when a '-' follows them.
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                  .has_value());
}

TEST(TracestateTest, KeepsPrintableListsWithinTheLimits) {
  EXPECT_TRUE(IsValidTracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
  EXPECT_FALSE(IsValidTracestate(""));
  EXPECT_FALSE(IsValidTracestate(std::string(513, 'a')));
  EXPECT_FALSE(IsValidTracestate("a=1\nb=2"));
  std::string many = "k0=v";
  for (int i = 1; i < 33; ++i) many += ",k" + std::to_string(i) + "=v";
  EXPECT_FALSE(IsValidTracestate(many));
}

TEST(TraceIdTest, NewIdsAreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const TraceId trace = NewTraceId();
    const SpanId span = NewSpanId();
    EXPECT_TRUE(trace.valid());
    EXPECT_TRUE(span.valid());
    seen.insert(trace.Hex());
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TraceId IdWithLowWord(std::uint64_t low) {
  TraceId id;
  id.bytes[0] = 1;
  for (int i = 15; i >= 8; --i, low >>= 8) id.bytes[static_cast<std::size_t>(i)] = low & 0xff;
  return id;
}

TEST(SamplerTest, DecidesLikeOpenTelemetrySamplers) {
  const auto always_on = SamplerFromEnvironment("always_on", "");
  const auto always_off = SamplerFromEnvironment("always_off", "");
  const auto parent_on = SamplerFromEnvironment("parentbased_always_on", "");
  const auto by_default = SamplerFromEnvironment("", "");
  ASSERT_TRUE(always_on && always_off && parent_on && by_default);
  const TraceId id = NewTraceId();
  EXPECT_TRUE(always_on->ShouldSample(id, false));  // not parent based: ignores the caller
  EXPECT_FALSE(always_off->ShouldSample(id, true));
  EXPECT_TRUE(parent_on->ShouldSample(id, std::nullopt));
  EXPECT_FALSE(parent_on->ShouldSample(id, false));  // follows the caller
  EXPECT_TRUE(by_default->ShouldSample(id, true));
  EXPECT_EQ(by_default->Describe(), "parentbased_traceidratio(0.010000)");
  // The ratio compares the id's random low 8 bytes with ratio x 2^64.
  EXPECT_TRUE(by_default->ShouldSample(IdWithLowWord(0), std::nullopt));
  EXPECT_TRUE(by_default->ShouldSample(IdWithLowWord(184467440737000000ULL), std::nullopt));
  EXPECT_FALSE(by_default->ShouldSample(IdWithLowWord(184467440738000000ULL), std::nullopt));
  const auto half = SamplerFromEnvironment("traceidratio", "0.5");
  ASSERT_TRUE(half);
  int kept = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    kept += half->ShouldSample(IdWithLowWord(i * (UINT64_MAX / 1000)), std::nullopt) ? 1 : 0;
  }
  EXPECT_EQ(kept, 500);
}

TEST(SamplerTest, RefusesUnknownSamplersAndBadRatios) {
  EXPECT_FALSE(SamplerFromEnvironment("jaeger_remote", ""));
  for (const char* arg : {"1.5", "-0.1", "abc", "0.5x", "nan"}) {
    const auto sampler = SamplerFromEnvironment("traceidratio", arg);
    ASSERT_FALSE(sampler) << arg;
    EXPECT_NE(sampler.error().message().find("OTEL_TRACES_SAMPLER_ARG"), std::string::npos);
  }
}

TEST(TracingConfigTest, ReadsTheStandardVariables) {
  std::map<std::string, std::string> env;
  const auto lookup = [&env](const std::string& name) {
    const auto found = env.find(name);
    return found == env.end() ? std::string() : found->second;
  };
  auto off = TracingConfigFromEnvironment(lookup);
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->has_value());

  env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector:4318/";
  env["OTEL_EXPORTER_OTLP_HEADERS"] = "api-key=secret, x-team = sale";
  env["OTEL_TRACES_SAMPLER"] = "always_on";
  auto on = TracingConfigFromEnvironment(lookup);
  ASSERT_TRUE(on && on->has_value());
  EXPECT_EQ((*on)->traces_url, "http://collector:4318/v1/traces");
  EXPECT_EQ((*on)->service_name, "flashsale");
  ASSERT_EQ((*on)->headers.size(), 2u);
  EXPECT_EQ((*on)->headers[1].first, "x-team");
  EXPECT_EQ((*on)->headers[1].second, "sale");
  EXPECT_EQ((*on)->sampler.root, RootSampler::kAlwaysOn);

  env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "https://traces.example/otlp";
  env["OTEL_SERVICE_NAME"] = "flashsale-eu";
  auto direct = TracingConfigFromEnvironment(lookup);
  ASSERT_TRUE(direct && direct->has_value());
  EXPECT_EQ((*direct)->traces_url, "https://traces.example/otlp");
  EXPECT_EQ((*direct)->service_name, "flashsale-eu");

  env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc";
  auto grpc = TracingConfigFromEnvironment(lookup);
  ASSERT_FALSE(grpc);
  EXPECT_NE(grpc.error().message().find("OTEL_EXPORTER_OTLP_PROTOCOL"), std::string::npos);
  env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json";
  env["OTEL_EXPORTER_OTLP_HEADERS"] = "novalue";
  EXPECT_FALSE(TracingConfigFromEnvironment(lookup));
  env.erase("OTEL_EXPORTER_OTLP_HEADERS");
  env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "collector:4318";
  auto bad_url = TracingConfigFromEnvironment(lookup);
  ASSERT_FALSE(bad_url);
  EXPECT_NE(bad_url.error().message().find("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            std::string::npos);
}

TEST(OtlpJsonTest, EncodesTheExportRequest) {
  Span span;
  span.trace_id = ParseTraceparent(kValid)->trace_id;
  span.span_id = NewSpanId();
  span.parent_span_id = ParseTraceparent(kValid)->span_id;
  span.trace_state = "congo=t61";
  span.name = "POST /api/v1/products/{sku}/reserve";
  span.kind = SpanKind::kServer;
  span.start_unix_nanos = 1'700'000'000'000'000'001;
  span.end_unix_nanos = 1'700'000'000'100'000'002;
  span.Set("http.response.status_code", std::int64_t{201})
      .Set("http.route", std::string("/api/v1/products/{sku}/reserve"))
      .Set("flashsale.replayed", false)
      .Set("flashsale.ratio", 0.25)
      .Set("quote\"and\nnewline", std::string("\"}],{"));
  span.links.push_back({NewTraceId(), NewSpanId()});
  span.status = SpanStatus::kError;
  Resource resource{{{"service.name", std::string("flashsale")}}};
  const Span spans[] = {span};
  const std::string json = EncodeExportRequest(resource, spans);
  rapidjson::Document document;
  ASSERT_FALSE(document.Parse(json.c_str()).HasParseError()) << json;
  const auto& resource_spans = document["resourceSpans"][0];
  EXPECT_STREQ(resource_spans["resource"]["attributes"][0]["key"].GetString(), "service.name");
  const auto& out = resource_spans["scopeSpans"][0]["spans"][0];
  EXPECT_STREQ(out["traceId"].GetString(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_STREQ(out["parentSpanId"].GetString(), "00f067aa0ba902b7");
  EXPECT_EQ(std::string(out["spanId"].GetString()), span.span_id.Hex());
  EXPECT_STREQ(out["traceState"].GetString(), "congo=t61");
  EXPECT_EQ(out["kind"].GetInt(), 2);
  EXPECT_STREQ(out["startTimeUnixNano"].GetString(), "1700000000000000001");
  EXPECT_STREQ(out["endTimeUnixNano"].GetString(), "1700000000100000002");
  const auto& attributes = out["attributes"];
  ASSERT_EQ(attributes.Size(), 5u);
  EXPECT_STREQ(attributes[0]["value"]["intValue"].GetString(), "201");
  EXPECT_STREQ(attributes[1]["value"]["stringValue"].GetString(), "/api/v1/products/{sku}/reserve");
  EXPECT_FALSE(attributes[2]["value"]["boolValue"].GetBool());
  EXPECT_DOUBLE_EQ(attributes[3]["value"]["doubleValue"].GetDouble(), 0.25);
  EXPECT_STREQ(attributes[4]["key"].GetString(), "quote\"and\nnewline");
  EXPECT_STREQ(attributes[4]["value"]["stringValue"].GetString(), "\"}],{");
  EXPECT_EQ(out["links"].Size(), 1u);
  EXPECT_EQ(out["status"]["code"].GetInt(), 2);
  // A root span has no parentSpanId at all.
  Span root = span;
  root.parent_span_id = SpanId{};
  const Span roots[] = {root};
  rapidjson::Document second;
  second.Parse(EncodeExportRequest(resource, roots).c_str());
  EXPECT_FALSE(second["resourceSpans"][0]["scopeSpans"][0]["spans"][0].HasMember("parentSpanId"));
}

}  // namespace
}  // namespace fs::trace
