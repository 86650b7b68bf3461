// Goal: the span exporter delivers over real HTTP what an OTLP receiver can read: batches POSTed
// to the traces URL as OTLP JSON, every span once, with its trace id and parent; a receiver
// that refuses a batch or cannot be reached costs that batch (counted), never a blocked caller;
// a full queue drops new spans at once (counted).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>

#include "support/fake_gateway.h"
#include "support/free_port.h"
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

}  // namespace
}  // namespace fs::itest
