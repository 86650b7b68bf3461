// Goal: push instead of polling, through the real server. A held order read
// (GET /api/v1/orders/{id}?wait_seconds=N) answers when the order leaves PENDING, or after N
// seconds with PENDING, or at once when it is final; only to its owner; bounded in number
// (503 beyond); released on shutdown. The event stream GET /api/v1/products/{sku}/events sends
// availability and status at once and each change after; it is bounded per node (503 beyond)
// and its slot comes back when the client goes. Availability and product reads carry an ETag
// and Cache-Control and answer 304.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr char kSku[] = "push-sku";

ServerOptions PushOptions(std::vector<std::string> extra = {}) {
  ServerOptions options;
  // Each payment takes 1.5 s: a read made right after checkout finds the order PENDING.
  options.extra_args = {"--payment-simulated-latency-ms", "1500", "--payment-retry-schedule",
                        "20ms,40ms"};
  options.extra_args.insert(options.extra_args.end(), extra.begin(), extra.end());
  return options;
}

class PushTest : public ServerTest {
 protected:
  explicit PushTest(ServerOptions options = PushOptions()) : ServerTest(std::move(options)) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    SaleSpec sale;
    sale.sku_id = kSku;
    sale.total_stock = 10;
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }

  // Reserves one unit for `user` and checks it out with `card`; returns the order id.
  std::string Order(const std::string& user, const std::string& card) {
    const HttpResponse reserved = Reserve(client(), ReserveRequest().Sku(kSku).User(user));
    EXPECT_EQ(reserved.status, 201) << reserved.Describe();
    const std::string body =
        "{\"reservation_id\":" + JsonQuote(BodyField(reserved, "reservation_id")) +
        ",\"payment_method_id\":" + JsonQuote(card) + "}";
    const HttpResponse order = client().Post("/api/v1/checkout", body, UserAuth(user));
    EXPECT_EQ(order.status, 202) << order.Describe();
    return BodyField(order, "order_id");
  }

  HttpResponse ReadOrder(HttpClient& http, const std::string& id, const std::string& user,
                         const std::string& wait) {
    return http.Get("/api/v1/orders/" + id + "?wait_seconds=" + wait, UserAuth(user));
  }
};

TEST_F(PushTest, AHeldReadAnswersWhenTheOrderLeavesPending) {
  const std::string id = Order("alice", "pm_card_visa");
  EXPECT_EQ(BodyField(ReadOrder(client(), id, "alice", "0"), "status"), "PENDING");
  // One request, held until the payment settles (1.5 s), not until its 20 s run out.
  const auto started = steady_clock::now();
  const HttpResponse settled = ReadOrder(client(), id, "alice", "20");
  ASSERT_EQ(settled.status, 200) << settled.Describe();
  EXPECT_EQ(BodyField(settled, "status"), "PAID");
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(15));
  // Final: answered at once, whatever the wait.
  EXPECT_EQ(BodyField(ReadOrder(client(), id, "alice", "30"), "status"), "PAID");
  // A declined card leaves PENDING for FAILED, and that wakes the read as well.
  const std::string declined = Order("bob", "pm_card_chargeDeclined");
  const HttpResponse failed = ReadOrder(client(), declined, "bob", "20");
  EXPECT_EQ(BodyField(failed, "status"), "FAILED") << failed.Describe();
}

TEST_F(PushTest, AHeldReadAnswersPendingWhenItsWaitRunsOut) {
  const std::string id = Order("carol", "pm_card_timeout");  // never settles by itself soon
  const auto started = steady_clock::now();
  const HttpResponse pending = ReadOrder(client(), id, "carol", "1");
  EXPECT_GE(steady_clock::now() - started, milliseconds(900));
  ASSERT_EQ(pending.status, 200) << pending.Describe();
  EXPECT_EQ(BodyField(pending, "status"), "PENDING");
}

TEST_F(PushTest, OnlyTheOwnerMayWaitAndTheWaitIsChecked) {
  const std::string id = Order("dave", "pm_card_timeout");
  EXPECT_TRUE(IsError(ReadOrder(client(), id, "eve", "5"), 404, "ORDER_NOT_FOUND"));
  for (const std::string wait : {"-1", "31", "abc", "1.5", "", "99999999999"}) {
    EXPECT_TRUE(IsError(ReadOrder(client(), id, "dave", wait), 400, "INVALID_REQUEST")) << wait;
  }
}

class BoundedPushTest : public PushTest {
 protected:
  BoundedPushTest()
      : PushTest(PushOptions({"--order-waiters-max", "1", "--sse-subscribers-max", "1"})) {}
};

TEST_F(BoundedPushTest, HeldReadsBeyondTheBoundAre503) {
  const std::string id = Order("frank", "pm_card_timeout");
  HttpClient first_client(server_.port());
  auto first =
      std::async(std::launch::async, [&] { return ReadOrder(first_client, id, "frank", "3"); });
  // The first read is held by now (it answers only after its 3 s): the second finds no room.
  std::this_thread::sleep_for(milliseconds(500));
  const HttpResponse second = ReadOrder(client(), id, "frank", "3");
  EXPECT_TRUE(IsError(second, 503, "UNAVAILABLE")) << second.Describe();
  EXPECT_EQ(MetricSamples(client().Get("/metrics").body, "flashsale_order_waiters"),
            std::vector<std::string>{"flashsale_order_waiters 1"});
  EXPECT_EQ(second.Header("Retry-After").value_or(""), "1");
  EXPECT_EQ(BodyField(first.get(), "status"), "PENDING");
  // The slot is free again.
  EXPECT_EQ(ReadOrder(client(), id, "frank", "1").status, 200);
}

TEST_F(PushTest, AHeldReadIsAnsweredWhenTheServerStops) {
  const std::string id = Order("grace", "pm_card_timeout");
  HttpClient waiting_client(server_.port());
  auto held =
      std::async(std::launch::async, [&] { return ReadOrder(waiting_client, id, "grace", "30"); });
  std::this_thread::sleep_for(milliseconds(300));  // the read is held by now
  const auto stopping = steady_clock::now();
  EXPECT_TRUE(server_.Stop());
  const HttpResponse answer = held.get();
  EXPECT_LT(steady_clock::now() - stopping, std::chrono::seconds(20));
  // Answered (the order as it is, or 503 if the engine had already stopped), not cut off.
  EXPECT_TRUE(answer.status == 200 || answer.status == 503) << answer.Describe();
}

// Reads an event stream until `needle` has arrived, the server closes, or `timeout`.
std::string ReadStreamUntil(RawConnection& stream, std::string& seen, std::string_view needle,
                            milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (seen.find(needle) == std::string::npos && steady_clock::now() < deadline) {
    const RawRead read = stream.ReadUntilClosed(milliseconds(100));
    seen += read.bytes;
    if (read.closed) break;
  }
  return seen;
}

bool OpenStream(RawConnection& stream, std::string_view sku) {
  return stream.Send("GET /api/v1/products/" + std::string(sku) +
                     "/events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n");
}

TEST_F(PushTest, TheEventStreamSendsTheSaleAtOnceAndEachChange) {
  RawConnection stream(server_.port());
  ASSERT_TRUE(OpenStream(stream, kSku));
  std::string seen;
  ReadStreamUntil(stream, seen, "event: status", milliseconds(5000));
  EXPECT_EQ(ParseRawStatus(seen), 200) << seen;
  EXPECT_NE(seen.find("Content-Type: text/event-stream"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Transfer-Encoding: chunked"), std::string::npos) << seen;
  EXPECT_NE(seen.find("retry: "), std::string::npos) << seen;
  EXPECT_NE(seen.find("event: availability\ndata: "
                      "{\"sku_id\":\"push-sku\",\"available\":10,\"status\":\"OPEN\"}"),
            std::string::npos)
      << seen;
  ASSERT_EQ(Reserve(client(), ReserveRequest().Sku(kSku).User("heidi")).status, 201);
  ReadStreamUntil(stream, seen, "\"available\":9", milliseconds(5000));
  EXPECT_NE(seen.find("event: availability\ndata: "
                      "{\"sku_id\":\"push-sku\",\"available\":9,\"status\":\"OPEN\"}"),
            std::string::npos)
      << seen;
  // Closing the sale is a status event.
  ASSERT_EQ(client().Post("/admin/v1/skus/push-sku/close", "", AdminAuth()).status, 200);
  ReadStreamUntil(stream, seen, "\"status\":\"CLOSED\"", milliseconds(5000));
  EXPECT_NE(seen.find("event: status\ndata: "
                      "{\"sku_id\":\"push-sku\",\"available\":9,\"status\":\"CLOSED\"}"),
            std::string::npos)
      << seen;
}

TEST_F(PushTest, TheEventStreamOfAnUnknownSaleIs404) {
  EXPECT_TRUE(IsError(client().Get("/api/v1/products/nope/events"), 404, "SKU_NOT_FOUND"));
}

TEST_F(PushTest, TheEventStreamEndsWhenTheServerStops) {
  RawConnection stream(server_.port());
  ASSERT_TRUE(OpenStream(stream, kSku));
  std::string seen;
  ReadStreamUntil(stream, seen, "event: status", milliseconds(5000));
  EXPECT_TRUE(server_.Stop());
  const RawRead rest = stream.ReadUntilClosed(milliseconds(5000));
  EXPECT_TRUE(rest.closed);
  EXPECT_NE((seen + rest.bytes).find("\r\n0\r\n\r\n"), std::string::npos) << rest.bytes;
}

TEST_F(BoundedPushTest, EventStreamsBeyondTheBoundAre503AndASlotComesBack) {
  std::string seen;
  {
    RawConnection first(server_.port());
    ASSERT_TRUE(OpenStream(first, kSku));
    ReadStreamUntil(first, seen, "event: status", milliseconds(5000));
    ASSERT_EQ(ParseRawStatus(seen), 200) << seen;
    EXPECT_TRUE(IsError(client().Get("/api/v1/products/push-sku/events"), 503, "UNAVAILABLE"));
    EXPECT_EQ(MetricSamples(client().Get("/metrics").body, "flashsale_sse_subscribers"),
              std::vector<std::string>{"flashsale_sse_subscribers 1"});
  }  // the first client goes
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (steady_clock::now() < deadline) {
    RawConnection next(server_.port());
    ASSERT_TRUE(OpenStream(next, kSku));
    std::string head;
    ReadStreamUntil(next, head, "\r\n\r\n", milliseconds(2000));
    status = ParseRawStatus(head);
    if (status == 200) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(PushTest, PublicReadsCarryAnEtagAndAnswer304) {
  int buyer = 0;
  for (const std::string path :
       {"/api/v1/products/push-sku", "/api/v1/products/push-sku/availability"}) {
    const HttpResponse read = client().Get(path);
    ASSERT_EQ(read.status, 200) << path << read.Describe();
    EXPECT_EQ(read.Header("Cache-Control").value_or(""), "public, max-age=1") << path;
    const std::string etag = read.Header("ETag").value_or("");
    ASSERT_FALSE(etag.empty()) << path;
    const HttpResponse same = client().Get(path, {{"If-None-Match", etag}});
    EXPECT_EQ(same.status, 304) << path;
    EXPECT_TRUE(same.body.empty());
    EXPECT_EQ(same.Header("ETag").value_or(""), etag);
    // A change makes a new ETag: the old one is answered in full.
    ASSERT_EQ(Reserve(client(), ReserveRequest().Sku(kSku).User("ivan-" + std::to_string(++buyer)))
                  .status,
              201);
    const HttpResponse changed = client().Get(path, {{"If-None-Match", etag}});
    EXPECT_EQ(changed.status, 200) << path;
    EXPECT_NE(changed.Header("ETag").value_or(""), etag) << path;
  }
  // The admin read is not for shared caches.
  const HttpResponse admin = client().Get("/admin/v1/skus/push-sku", AdminAuth());
  EXPECT_FALSE(admin.Header("ETag").has_value());
}

}  // namespace
}  // namespace fs::itest
