// Goal: the span exporter delivers over real HTTP what an OTLP receiver can read: batches POSTed
// to the traces URL as OTLP JSON, every span once, with its trace id and parent; a receiver
// that refuses a batch or cannot be reached costs that batch (counted), never a blocked caller;
// a full queue drops new spans at once (counted). The real server, configured by the OTEL_*
// variables: every response carries a traceparent that continues the caller's trace (a new
// one for a missing or malformed header), and sampled server spans reach the receiver with
// the caller's span as parent, the route template as name and the HTTP attributes.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_gateway.h"
#include "support/flashsale_api.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/server_process.h"
#include "trace/span_exporter.h"

namespace fs::itest {
namespace {

using trace::Span;

Span MakeSpan(const trace::TraceId& trace_id, const trace::SpanId& parent, int n) {
  Span span;
  span.trace_id = trace_id;
  span.span_id = trace::NewSpanId();
  span.parent_span_id = parent;
  span.name = "span " + std::to_string(n);
  span.kind = trace::SpanKind::kInternal;
  span.start_unix_nanos = 1'000 + n;
  span.end_unix_nanos = 2'000 + n;
  span.Set("n", std::int64_t{n});
  return span;
}

struct Counts {
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> failed{0};
};

trace::ExporterOptions Options(const std::string& url, Counts& counts) {
  trace::ExporterOptions options;
  options.url = url;
  options.resource.attributes.push_back({"service.name", std::string("flashsale-test")});
  options.batch_max = 10;
  options.interval = std::chrono::milliseconds(50);
  options.timeout = std::chrono::milliseconds(2000);
  options.on_dropped = [&counts](std::uint64_t n) { counts.dropped += n; };
  options.on_export_failed = [&counts](std::uint64_t n) { counts.failed += n; };
  return options;
}

// The spans of every recorded export, by their "n" attribute; checks each body on the way.
std::set<std::int64_t> ReceivedSpans(const FakeGateway& receiver, const trace::TraceId& trace_id,
                                     const trace::SpanId& parent, int* batches) {
  std::set<std::int64_t> seen;
  *batches = 0;
  for (const RecordedPost& post : receiver.Posts()) {
    EXPECT_EQ(post.path, "/v1/traces");
    rapidjson::Document body;
    EXPECT_FALSE(body.Parse(post.body.c_str()).HasParseError()) << post.body;
    if (body.HasParseError() || post.answered != 200) continue;
    ++*batches;
    const auto& resource = body["resourceSpans"][0];
    EXPECT_STREQ(resource["resource"]["attributes"][0]["value"]["stringValue"].GetString(),
                 "flashsale-test");
    for (const auto& span : resource["scopeSpans"][0]["spans"].GetArray()) {
      EXPECT_EQ(std::string(span["traceId"].GetString()), trace_id.Hex());
      EXPECT_EQ(std::string(span["parentSpanId"].GetString()), parent.Hex());
      const std::int64_t n = std::stoll(span["attributes"][0]["value"]["intValue"].GetString());
      EXPECT_TRUE(seen.insert(n).second) << "span " << n << " exported twice";
    }
  }
  return seen;
}

TEST(SpanExporterTest, DeliversEverySpanOnceInBatchesOfOtlpJson) {
  FakeGateway receiver({});
  Counts counts;
  trace::SpanExporter exporter(Options(receiver.url() + "/v1/traces", counts));
  exporter.Start();
  const trace::TraceId trace_id = trace::NewTraceId();
  const trace::SpanId parent = trace::NewSpanId();
  for (int n = 0; n < 25; ++n) EXPECT_TRUE(exporter.Submit(MakeSpan(trace_id, parent, n)));
  exporter.Stop();  // sends what is still queued
  int batches = 0;
  const std::set<std::int64_t> seen = ReceivedSpans(receiver, trace_id, parent, &batches);
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_GE(batches, 3);  // at most 10 per batch
  EXPECT_EQ(exporter.exported(), 25u);
  EXPECT_EQ(counts.dropped.load(), 0u);
  EXPECT_EQ(counts.failed.load(), 0u);
}

TEST(SpanExporterTest, ARefusedBatchIsCountedAndTheNextOnesLand) {
  FakeGatewayOptions refuse_first;
  refuse_first.webhook_errors = 1;  // the receiver answers the first POST 500
  FakeGateway receiver(refuse_first);
  Counts counts;
  trace::SpanExporter exporter(Options(receiver.url() + "/v1/traces", counts));
  const trace::TraceId trace_id = trace::NewTraceId();
  const trace::SpanId parent = trace::NewSpanId();
  // Queued before the thread starts: exactly two full batches.
  for (int n = 0; n < 20; ++n) EXPECT_TRUE(exporter.Submit(MakeSpan(trace_id, parent, n)));
  exporter.Start();
  exporter.Stop();
  int batches = 0;
  const std::set<std::int64_t> seen = ReceivedSpans(receiver, trace_id, parent, &batches);
  EXPECT_EQ(counts.failed.load(), 10u);
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(exporter.exported(), 10u);
}

TEST(SpanExporterTest, AFullQueueDropsAtOnceAndAnUnreachableReceiverCostsItsBatch) {
  Counts counts;
  trace::ExporterOptions options =
      Options("http://127.0.0.1:" + std::to_string(FreePort()) + "/v1/traces", counts);
  options.queue_max = 5;
  trace::SpanExporter exporter(options);
  const trace::TraceId trace_id = trace::NewTraceId();
  int accepted = 0;
  for (int n = 0; n < 8; ++n) accepted += exporter.Submit(MakeSpan(trace_id, {}, n)) ? 1 : 0;
  EXPECT_EQ(accepted, 5);
  EXPECT_EQ(counts.dropped.load(), 3u);
  exporter.Start();
  exporter.Stop();
  EXPECT_EQ(counts.failed.load(), 5u);  // nobody listens on that port
  EXPECT_EQ(exporter.exported(), 0u);
  EXPECT_FALSE(exporter.Submit(MakeSpan(trace_id, {}, 9)));  // stopped: refused, counted
  EXPECT_EQ(counts.dropped.load(), 4u);
}

constexpr char kCallerTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kCallerSpan[] = "00f067aa0ba902b7";

std::string CallerTraceparent(bool sampled) {
  return std::string("00-") + kCallerTrace + "-" + kCallerSpan + (sampled ? "-01" : "-00");
}

// The server spans the receiver got, by name.
std::map<std::string, std::vector<const rapidjson::Value*>> SpansByName(
    const std::vector<rapidjson::Document>& bodies) {
  std::map<std::string, std::vector<const rapidjson::Value*>> spans;
  for (const auto& body : bodies) {
    for (const auto& span : body["resourceSpans"][0]["scopeSpans"][0]["spans"].GetArray()) {
      spans[span["name"].GetString()].push_back(&span);
    }
  }
  return spans;
}

std::string Attribute(const rapidjson::Value& span, const std::string& key) {
  for (const auto& attribute : span["attributes"].GetArray()) {
    if (key != attribute["key"].GetString()) continue;
    const auto& value = attribute["value"];
    if (value.HasMember("stringValue")) return value["stringValue"].GetString();
    if (value.HasMember("intValue")) return value["intValue"].GetString();
  }
  return "";
}

TEST(ServerTracingTest, ResponsesContinueTheCallersTraceAndSampledSpansReachTheReceiver) {
  FakeGateway receiver({});
  ServerOptions options;
  options.extra_env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url()},
                       {"OTEL_TRACES_SAMPLER", "parentbased_always_off"},
                       {"OTEL_SERVICE_NAME", "flashsale-itest"}};
  ServerProcess server(options);
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  // The caller sampled the trace: parent based, the server records its span.
  const HttpResponse sampled = client.Get(
      "/healthz", {{"traceparent", CallerTraceparent(true)}, {"tracestate", "congo=t61rcWkgMzE"}});
  ASSERT_EQ(sampled.status, 200);
  const std::string answer = sampled.Header("traceparent").value_or("");
  ASSERT_EQ(answer.size(), 55u) << answer;
  EXPECT_EQ(answer.substr(0, 36), std::string("00-") + kCallerTrace + "-");
  const std::string server_span = answer.substr(36, 16);
  EXPECT_NE(server_span, kCallerSpan);
  EXPECT_EQ(answer.substr(52), "-01");
  // Not sampled by the caller: same trace, flag 00, nothing recorded.
  const HttpResponse unsampled = client.Get("/readyz", {{"traceparent", CallerTraceparent(false)}});
  EXPECT_EQ(unsampled.Header("traceparent").value_or("").substr(0, 36),
            std::string("00-") + kCallerTrace + "-");
  EXPECT_EQ(unsampled.Header("traceparent").value_or("").substr(52), "-00");
  // A malformed traceparent starts a new trace (and parentbased_always_off records nothing).
  const HttpResponse forged = client.Get("/api/v1/products/none", {{"traceparent", "00-zz"}});
  EXPECT_EQ(forged.status, 404);
  const std::string fresh = forged.Header("traceparent").value_or("");
  ASSERT_EQ(fresh.size(), 55u) << fresh;
  EXPECT_NE(fresh.substr(3, 32), kCallerTrace);
  // A sampled 404 of a route template carries the template, and 4xx is not an error span.
  EXPECT_EQ(client.Get("/api/v1/products/none", {{"traceparent", CallerTraceparent(true)}}).status,
            404);
  ASSERT_TRUE(server.Stop());  // the exporter sends what is queued before the process exits

  std::vector<rapidjson::Document> bodies;
  for (const RecordedPost& post : receiver.Posts()) {
    EXPECT_EQ(post.path, "/v1/traces");
    bodies.emplace_back();
    ASSERT_FALSE(bodies.back().Parse(post.body.c_str()).HasParseError()) << post.body;
    EXPECT_STREQ(
        bodies.back()["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"]
            .GetString(),
        "flashsale-itest");
  }
  const auto spans = SpansByName(bodies);
  ASSERT_EQ(spans.count("GET /healthz"), 1u) << "spans: " << spans.size();
  ASSERT_EQ(spans.at("GET /healthz").size(), 1u);
  const rapidjson::Value& health = *spans.at("GET /healthz")[0];
  EXPECT_STREQ(health["traceId"].GetString(), kCallerTrace);
  EXPECT_STREQ(health["parentSpanId"].GetString(), kCallerSpan);
  EXPECT_EQ(std::string(health["spanId"].GetString()), server_span);
  EXPECT_STREQ(health["traceState"].GetString(), "congo=t61rcWkgMzE");
  EXPECT_EQ(health["kind"].GetInt(), 2);
  EXPECT_EQ(Attribute(health, "http.request.method"), "GET");
  EXPECT_EQ(Attribute(health, "http.route"), "/healthz");
  EXPECT_EQ(Attribute(health, "http.response.status_code"), "200");
  EXPECT_LE(std::stoll(health["startTimeUnixNano"].GetString()),
            std::stoll(health["endTimeUnixNano"].GetString()));
  ASSERT_EQ(spans.count("GET /api/v1/products/{sku}"), 1u);
  const rapidjson::Value& missing = *spans.at("GET /api/v1/products/{sku}")[0];
  EXPECT_EQ(Attribute(missing, "http.response.status_code"), "404");
  EXPECT_FALSE(missing["status"].HasMember("code"));
  // Only the two sampled requests were recorded.
  std::size_t total = 0;
  for (const auto& [name, list] : spans) total += list.size();
  EXPECT_EQ(total, 2u);
}

// The span with this id among `spans` (nullptr when none).
const rapidjson::Value* SpanWithId(
    const std::map<std::string, std::vector<const rapidjson::Value*>>& spans,
    const std::string& span_id) {
  for (const auto& [name, list] : spans) {
    for (const rapidjson::Value* span : list) {
      if (span_id == (*span)["spanId"].GetString()) return span;
    }
  }
  return nullptr;
}

// One fake is the payment gateway, the webhook receiver and the OTLP receiver.
ServerOptions TracedPurchaseOptions(const FakeGateway& fake) {
  ServerOptions options;
  options.extra_env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", fake.url()},
                       {"OTEL_TRACES_SAMPLER", "always_on"}};
  options.extra_args = GatewayAndWebhookFlags(fake);
  return options;
}

constexpr char kReserveTrace[] = "0af7651916cd43dd8448eb211c80319c";
constexpr char kCheckoutTrace[] = "5b8aa5a2d2c872e8321cf37308d69df2";

// A purchase followed across the product: the reserve's server span names the SKU and a
// pseudonym of the user; its wait in the writer's inbox is a child linked to the batch that
// answered it (and back); the checkout's trace goes on in the payment worker's client span and
// the traceparent the gateway receives; every webhook POST carries the relay's publish span.
TEST(ServerTracingTest, APurchaseIsFollowedThroughTheWriterTheGatewayAndTheRelay) {
  FakeGateway fake({});
  ServerProcess server(TracedPurchaseOptions(fake));
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  SaleSpec sale;
  sale.sku_id = "traced";
  ASSERT_TRUE(CreateSaleOk(client, sale));
  HttpHeaders reserve_headers = UserAuth("bob");
  reserve_headers.push_back(
      {"traceparent", std::string("00-") + kReserveTrace + "-" + kCallerSpan + "-01"});
  const HttpResponse reserved =
      client.Post("/api/v1/products/traced/reserve", "{\"quantity\":1}", reserve_headers);
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  const std::string reserve_span = reserved.Header("traceparent").value_or("").substr(36, 16);
  HttpHeaders checkout_headers = UserAuth("bob");
  checkout_headers.push_back(
      {"traceparent", std::string("00-") + kCheckoutTrace + "-" + kCallerSpan + "-01"});
  const HttpResponse checkout =
      client.Post("/api/v1/checkout",
                  "{\"reservation_id\":" + JsonQuote(BodyField(reserved, "reservation_id")) +
                      ",\"payment_method_id\":\"pm_card_visa\"}",
                  checkout_headers);
  ASSERT_EQ(checkout.status, 202) << checkout.Describe();
  const std::string checkout_span = checkout.Header("traceparent").value_or("").substr(36, 16);
  const std::string order_id = BodyField(checkout, "order_id");
  EXPECT_EQ(SettledOrderStatus(client, order_id, "bob"), "PAID");
  // Wait for the last event's webhook, then stop: the exporter sends what is queued.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto confirmed = [&fake] {
    for (const RecordedPost& post : fake.Posts()) {
      if (post.path == "/events" && post.body.find("order.confirmed") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  while (!confirmed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(confirmed());
  ASSERT_TRUE(server.Stop());

  std::vector<rapidjson::Document> bodies;
  std::set<std::string> webhook_spans;
  for (const RecordedPost& post : fake.Posts()) {
    if (post.path == "/events") {
      ASSERT_EQ(post.traceparent.size(), 55u) << post.traceparent;
      webhook_spans.insert(post.traceparent.substr(36, 16));
      continue;
    }
    if (post.path != "/v1/traces") continue;
    bodies.emplace_back();
    ASSERT_FALSE(bodies.back().Parse(post.body.c_str()).HasParseError()) << post.body;
  }
  const auto spans = SpansByName(bodies);

  // The reserve's server span.
  const rapidjson::Value* reserve = SpanWithId(spans, reserve_span);
  ASSERT_NE(reserve, nullptr);
  EXPECT_STREQ((*reserve)["name"].GetString(), "POST /api/v1/products/{sku}/reserve");
  EXPECT_EQ(Attribute(*reserve, "flashsale.sku"), "traced");
  const std::string pseudonym = Attribute(*reserve, "user.id");
  EXPECT_EQ(pseudonym.size(), 16u);
  EXPECT_EQ(pseudonym.find("bob"), std::string::npos);
  // Its wait in the inbox, linked to its batch, which links back.
  const rapidjson::Value* wait = nullptr;
  for (const rapidjson::Value* span : spans.count("engine.inbox_wait") > 0
                                          ? spans.at("engine.inbox_wait")
                                          : std::vector<const rapidjson::Value*>{}) {
    if (reserve_span == (*span)["parentSpanId"].GetString()) wait = span;
  }
  ASSERT_NE(wait, nullptr);
  EXPECT_STREQ((*wait)["traceId"].GetString(), kReserveTrace);
  ASSERT_EQ((*wait)["links"].Size(), 1u);
  const rapidjson::Value* batch = SpanWithId(spans, (*wait)["links"][0]["spanId"].GetString());
  ASSERT_NE(batch, nullptr);
  EXPECT_STREQ((*batch)["name"].GetString(), "engine.batch");
  EXPECT_STREQ((*batch)["traceId"].GetString(), (*wait)["links"][0]["traceId"].GetString());
  EXPECT_FALSE((*batch).HasMember("parentSpanId") &&
               std::string((*batch)["parentSpanId"].GetString()).size() > 0);
  bool linked_back = false;
  for (const auto& link : (*batch)["links"].GetArray()) {
    linked_back |= reserve_span == link["spanId"].GetString() &&
                   std::string(kReserveTrace) == link["traceId"].GetString();
  }
  EXPECT_TRUE(linked_back);
  EXPECT_GE(std::stoll(Attribute(*batch, "flashsale.batch.commands")), 1);
  EXPECT_LE(std::stoll((*wait)["startTimeUnixNano"].GetString()),
            std::stoll((*wait)["endTimeUnixNano"].GetString()));

  // The checkout's trace goes on in the gateway call.
  ASSERT_EQ(spans.count("payment.charge"), 1u);
  const rapidjson::Value& charge = *spans.at("payment.charge")[0];
  EXPECT_STREQ(charge["traceId"].GetString(), kCheckoutTrace);
  EXPECT_EQ(std::string(charge["parentSpanId"].GetString()), checkout_span);
  EXPECT_EQ(charge["kind"].GetInt(), 3);  // client
  EXPECT_EQ(Attribute(charge, "flashsale.payment.outcome"), "succeeded");
  EXPECT_EQ(Attribute(charge, "flashsale.order_id"), order_id);
  EXPECT_EQ(fake.TraceparentsByKey()[order_id],
            std::string("00-") + kCheckoutTrace + "-" + charge["spanId"].GetString() + "-01");

  // The relay's publish spans are the ones the webhook POSTs named.
  ASSERT_GE(spans.count("outbox publish"), 1u);
  std::set<std::string> publish_spans;
  for (const rapidjson::Value* span : spans.at("outbox publish")) {
    EXPECT_EQ((*span)["kind"].GetInt(), 4);  // producer
    EXPECT_EQ(Attribute(*span, "messaging.system"), "webhook");
    publish_spans.insert((*span)["spanId"].GetString());
  }
  for (const std::string& named : webhook_spans) {
    EXPECT_EQ(publish_spans.count(named), 1u) << named;
  }
}

TEST(ServerTracingTest, WithoutAnEndpointEveryResponseStillNamesItsTrace) {
  ServerProcess server;
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  const HttpResponse response = client.Get("/healthz", {{"traceparent", CallerTraceparent(true)}});
  const std::string answer = response.Header("traceparent").value_or("");
  ASSERT_EQ(answer.size(), 55u) << answer;
  EXPECT_EQ(answer.substr(3, 32), kCallerTrace);
  EXPECT_EQ(answer.substr(52), "-00");  // nothing is recorded without an exporter
  EXPECT_EQ(client.Get("/healthz").Header("traceparent").value_or("").size(), 55u);
  EXPECT_TRUE(server.Stop());
}

}  // namespace
}  // namespace fs::itest
