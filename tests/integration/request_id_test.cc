// Goal: request ids and logs against the real server. Every answer (health, 404, errors,
// successes) carries X-Request-Id: the client's own when it is 1-128 visible ASCII characters,
// else a generated one; every JSON error body carries the same id as error.request_id. A
// reserve made with X-Request-Id records it in its audit event's metadata and its outbox event;
// a checkout's id reaches the payment gateway (X-Request-Id on the charge) and the webhook
// POSTs of its events (header and payload field). With --log-format json every stderr line is a
// JSON object, and --access-log all writes a line per request with the documented fields.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_gateway.h"
#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr char kSku[] = "rid";

HttpHeaders With(HttpHeaders headers, std::string name, std::string value) {
  headers.push_back({std::move(name), std::move(value)});
  return headers;
}

std::string Field(const HttpResponse& response, const char* name) {
  auto json = ParseJson(response.body);
  if (!json || !json->IsObject()) return "";
  return StringField(*json, name).value_or("");
}

// error.request_id of an error body ("" when absent).
std::string ErrorRequestId(const HttpResponse& response) {
  auto json = ParseJson(response.body);
  if (!json || !json->IsObject() || !json->HasMember("error") || !(*json)["error"].IsObject()) {
    return "";
  }
  return StringField((*json)["error"], "request_id").value_or("");
}

bool IsVisibleAscii(const std::string& text) {
  if (text.empty() || text.size() > 128) return false;
  for (const char c : text) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

ServerOptions LoggingOptions() {
  ServerOptions options;
  options.extra_args = {"--log-format", "json", "--access-log", "all"};
  return options;
}

class RequestIdTest : public ServerTest {
 protected:
  RequestIdTest() : ServerTest(LoggingOptions()) {}
};

TEST_F(RequestIdTest, AValidIdIsEchoedAndAnyOtherReplaced) {
  const std::string longest(128, 'x');
  for (const std::string& given : {std::string("abc"), std::string("a-b_c.d:e/f~!"), longest}) {
    const HttpResponse health = client().Get("/healthz", {{"X-Request-Id", given}});
    ASSERT_EQ(health.status, 200) << health.Describe();
    EXPECT_EQ(health.Header("X-Request-Id").value_or(""), given);
  }
  std::set<std::string> generated;
  for (const std::string& invalid :
       {std::string(129, 'x'), std::string("has space"), std::string("caf\xc3\xa9")}) {
    const HttpResponse health = client().Get("/healthz", {{"X-Request-Id", invalid}});
    ASSERT_EQ(health.status, 200) << health.Describe();
    const std::string id = health.Header("X-Request-Id").value_or("");
    EXPECT_TRUE(IsVisibleAscii(id)) << id;
    EXPECT_NE(id, invalid);
    generated.insert(id);
  }
  const HttpResponse none = client().Get("/healthz");
  const std::string id = none.Header("X-Request-Id").value_or("");
  EXPECT_TRUE(IsVisibleAscii(id)) << id;
  generated.insert(id);
  EXPECT_EQ(generated.size(), 4u) << "generated ids must differ";
}

TEST_F(RequestIdTest, ErrorBodiesCarryTheIdOfTheHeader) {
  const HttpResponse not_found = client().Get("/no/such/route", {{"X-Request-Id", "nf-1"}});
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.Header("X-Request-Id").value_or(""), "nf-1");
  EXPECT_EQ(ErrorRequestId(not_found), "nf-1") << not_found.body;
  // Unauthenticated, with a generated id.
  const HttpResponse unauthenticated = client().Post("/api/v1/reserve", "{\"sku_id\":\"x\"}");
  EXPECT_EQ(unauthenticated.status, 401);
  const std::string generated = unauthenticated.Header("X-Request-Id").value_or("");
  EXPECT_TRUE(IsVisibleAscii(generated));
  EXPECT_EQ(ErrorRequestId(unauthenticated), generated) << unauthenticated.body;
  // A request id with characters JSON must escape.
  const HttpResponse quoted = client().Get("/admin/v1/orders", {{"X-Request-Id", "q\"b\\s"}});
  EXPECT_EQ(quoted.status, 401);
  EXPECT_EQ(ErrorRequestId(quoted), "q\"b\\s") << quoted.body;
}

TEST_F(RequestIdTest, TheReserveAuditEventRecordsTheRequestId) {
  SaleSpec sale;
  sale.sku_id = kSku;
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  const HttpResponse reserved =
      client().Post(std::string("/api/v1/products/") + kSku + "/reserve", "{\"quantity\":1}",
                    With(UserAuth("alice"), "X-Request-Id", "abc"));
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  EXPECT_EQ(reserved.Header("X-Request-Id").value_or(""), "abc");
  const auto events = AuditEvents(client(), "user_id=alice");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(StringField(events[0], "event_type").value_or(""), "RESERVE_ATTEMPT");
  const std::string metadata = StringField(events[0], "metadata").value_or("");
  auto parsed = ParseJson(metadata);
  ASSERT_TRUE(parsed && parsed->IsObject()) << metadata;
  EXPECT_EQ(StringField(*parsed, "request_id").value_or(""), "abc") << metadata;
}

// Operator actions are decisions too: each admin change's audit event names its request.
TEST_F(RequestIdTest, OperatorActionsRecordTheirRequestIds) {
  SaleSpec sale;
  sale.sku_id = "op-sale";
  const HttpResponse created =
      client().Post("/admin/v1/skus", sale.ToJson(), With(AdminAuth(), "X-Request-Id", "op-1"));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const HttpResponse stocked = client().Post("/admin/v1/skus/op-sale/stock", "{\"delta\":5}",
                                             With(AdminAuth(), "X-Request-Id", "op-2"));
  ASSERT_EQ(stocked.status, 200) << stocked.Describe();
  const HttpResponse closed =
      client().Post("/admin/v1/skus/op-sale/close", "", With(AdminAuth(), "X-Request-Id", "op-3"));
  ASSERT_EQ(closed.status, 200) << closed.Describe();
  std::map<std::string, std::string> ids;  // event type -> metadata request_id
  for (const auto& event : AuditEvents(client(), "sku_id=op-sale")) {
    auto metadata = ParseJson(StringField(event, "metadata").value_or(""));
    ASSERT_TRUE(metadata && metadata->IsObject());
    ids[StringField(event, "event_type").value_or("")] =
        StringField(*metadata, "request_id").value_or("");
  }
  EXPECT_EQ(ids["SALE_CREATED"], "op-1");
  EXPECT_EQ(ids["STOCK_ADJUSTED"], "op-2");
  EXPECT_EQ(ids["SALE_CLOSED"], "op-3");
}

TEST_F(RequestIdTest, JsonLogLinesAndTheAccessLog) {
  const HttpResponse health = client().Get("/healthz", {{"X-Request-Id", "log-me"}});
  ASSERT_EQ(health.status, 200);
  const HttpResponse missing = client().Get("/no/such/route", {{"X-Request-Id", "log-404"}});
  ASSERT_EQ(missing.status, 404);
  // The access line is written as the answer goes out; its writing thread may lag a little.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool found_health = false;
  bool found_missing = false;
  while (!(found_health && found_missing) && std::chrono::steady_clock::now() < deadline) {
    found_health = false;
    found_missing = false;
    const std::string log = server_.StderrLog();
    std::size_t begin = 0;
    while (begin < log.size()) {
      std::size_t end = log.find('\n', begin);
      if (end == std::string::npos) break;  // a line still being written
      const std::string line = log.substr(begin, end - begin);
      begin = end + 1;
      if (line.starts_with("==== ")) continue;  // the test harness's mark of each start
      auto json = ParseJson(line);
      ASSERT_TRUE(json && json->IsObject()) << "not a JSON object: " << line;
      for (const char* key : {"ts", "level", "module", "msg"}) {
        EXPECT_TRUE(json->HasMember(key) && (*json)[key].IsString()) << key << " in " << line;
      }
      if (StringField(*json, "module").value_or("") != "access") continue;
      const std::string request_id = StringField(*json, "request_id").value_or("");
      if (request_id != "log-me" && request_id != "log-404") continue;
      EXPECT_EQ(StringField(*json, "method").value_or(""), "GET") << line;
      EXPECT_TRUE(json->HasMember("duration_ms") && (*json)["duration_ms"].IsNumber()) << line;
      EXPECT_TRUE(json->HasMember("bytes") && (*json)["bytes"].IsInt64()) << line;
      EXPECT_EQ(StringField(*json, "client").value_or(""), "127.0.0.1") << line;
      if (request_id == "log-me") {
        found_health = true;
        EXPECT_EQ(StringField(*json, "route").value_or(""), "/healthz") << line;
        EXPECT_EQ(IntField(*json, "status").value_or(0), 200) << line;
        EXPECT_EQ(IntField(*json, "bytes").value_or(-1),
                  static_cast<std::int64_t>(health.body.size()));
      } else {
        found_missing = true;
        // The route template, never the raw path.
        EXPECT_EQ(line.find("/no/such/route"), std::string::npos) << line;
        EXPECT_EQ(IntField(*json, "status").value_or(0), 404) << line;
      }
    }
    if (!(found_health && found_missing)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(found_health) << server_.StderrLog();
  EXPECT_TRUE(found_missing) << server_.StderrLog();
}

// The gateway and the webhook receiver: one fake serves both.
ServerOptions GatewayAndWebhookOptions(const FakeGateway& fake) {
  ServerOptions options;
  options.extra_args = GatewayAndWebhookFlags(fake);
  return options;
}

class RequestIdPropagationTest : public ::testing::Test {
 protected:
  RequestIdPropagationTest()
      : fake_(FakeGatewayOptions{}), server_(GatewayAndWebhookOptions(fake_)) {}
  FakeGateway fake_;  // before server_: the server's flags name its port
  ServerProcess server_;
};

TEST_F(RequestIdPropagationTest, ReachesTheGatewayAndTheWebhooks) {
  ASSERT_TRUE(server_.Start());
  HttpClient client(server_.port());
  SaleSpec sale;
  sale.sku_id = kSku;
  ASSERT_TRUE(CreateSaleOk(client, sale));
  const HttpResponse reserved =
      client.Post(std::string("/api/v1/products/") + kSku + "/reserve", "{\"quantity\":1}",
                  With(UserAuth("bob"), "X-Request-Id", "reserve-1"));
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  const HttpResponse checkout =
      client.Post("/api/v1/checkout",
                  "{\"reservation_id\":" + JsonQuote(Field(reserved, "reservation_id")) +
                      ",\"payment_method_id\":\"pm_card_visa\"}",
                  With(UserAuth("bob"), "X-Request-Id", "checkout-1"));
  ASSERT_EQ(checkout.status, 202) << checkout.Describe();
  const std::string order_id = Field(checkout, "order_id");
  ASSERT_FALSE(order_id.empty());

  // reservation.created, checkout.requested, payment.succeeded, order.confirmed.
  std::map<std::string, std::string> payload_ids;  // event type -> payload request_id
  std::map<std::string, std::string> header_ids;   // event type -> the POST's X-Request-Id
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    payload_ids.clear();
    header_ids.clear();
    for (const RecordedPost& post : fake_.Posts()) {
      if (post.path != "/events" || post.answered != 200) continue;
      auto json = ParseJson(post.body);
      ASSERT_TRUE(json && json->HasMember("events")) << post.body;
      const auto& events = (*json)["events"];
      ASSERT_TRUE(events.IsArray() && !events.Empty());
      for (const auto& event : events.GetArray()) {
        const std::string type = StringField(event, "type").value_or("");
        payload_ids[type] = StringField(event["payload"], "request_id").value_or("");
        header_ids[type] = post.request_id;
      }
    }
    if (payload_ids.count("order.confirmed") > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(payload_ids.count("order.confirmed"), 1u) << "the events did not all arrive";
  EXPECT_EQ(payload_ids["reservation.created"], "reserve-1");
  EXPECT_EQ(payload_ids["checkout.requested"], "checkout-1");
  EXPECT_EQ(payload_ids["payment.succeeded"], "checkout-1");
  EXPECT_EQ(payload_ids["order.confirmed"], "checkout-1");
  // A batch's header names the first event's id that had one: every POST carries one here.
  EXPECT_FALSE(header_ids["reservation.created"].empty());
  for (const auto& [type, header] : header_ids) {
    EXPECT_TRUE(header == "reserve-1" || header == "checkout-1") << type << ": " << header;
  }
  EXPECT_EQ(fake_.RequestIdsByKey()[order_id], "checkout-1");
  ASSERT_TRUE(server_.Stop());
}

}  // namespace
}  // namespace fs::itest
