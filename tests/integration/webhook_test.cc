// Goal: the webhook event sink and buyer notifications. With --events webhook every outbox
// event reaches the receiver in per-SKU order inside signed batches, even when the receiver
// first fails (the relay retries); --notification-webhook-url receives order.confirmed and
// order.failed only, while the sale goes on. Every POST is signed replay-safe
// (X-Flashsale-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>, t within a
// minute of now) and names its (first) event in X-Flashsale-Event-Id.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/fake_gateway.h"
#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr char kSecret[] = "webhook-secret-for-tests";

std::string HmacHex(const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(sizeof(kSecret) - 1),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

// What a receiver checks: "t=<seconds>,v1=<hex>" with v1 = HMAC(secret, "<t>.<body>") and t
// within its tolerance (here 60 s) of its own clock, so a captured POST cannot be replayed later.
::testing::AssertionResult SignedNow(const RecordedPost& post) {
  const std::size_t comma = post.signature.find(",v1=");
  if (!post.signature.starts_with("t=") || comma == std::string::npos) {
    return ::testing::AssertionFailure() << "signature '" << post.signature << "'";
  }
  const std::string t = post.signature.substr(2, comma - 2);
  if (post.signature.substr(comma + 4) != HmacHex(t + "." + post.body)) {
    return ::testing::AssertionFailure() << "wrong v1 in '" << post.signature << "'";
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (std::llabs(now - std::stoll(t)) > 60) {
    return ::testing::AssertionFailure() << "t=" << t << " is not within 60 s of " << now;
  }
  return ::testing::AssertionSuccess();
}

std::string Field(const HttpResponse& response, const char* name) {
  auto json = ParseJson(response.body);
  if (!json || !json->IsObject()) return "";
  return StringField(*json, name).value_or("");
}

ServerOptions WebhookOptions(const FakeGateway& receiver) {
  ServerOptions options;
  options.extra_args = {"--events",
                        "webhook",
                        "--webhook-url",
                        receiver.url() + "/events",
                        "--webhook-secret",
                        kSecret,
                        "--notification-webhook-url",
                        receiver.url() + "/notify"};
  return options;
}

class WebhookTest : public ::testing::Test {
 protected:
  WebhookTest() : receiver_(ReceiverOptions()), server_(WebhookOptions(receiver_)) {}
  static FakeGatewayOptions ReceiverOptions() {
    FakeGatewayOptions options;
    options.webhook_errors = 2;  // the first two POSTs fail: they must be retried
    return options;
  }
  FakeGateway receiver_;
  ServerProcess server_;
};

TEST_F(WebhookTest, SignedEventsInOrderAndNotificationsOfSettledOrders) {
  ASSERT_TRUE(server_.Start());
  HttpClient client(server_.port());
  SaleSpec sale;
  sale.sku_id = "hook";
  ASSERT_TRUE(CreateSaleOk(client, sale));
  std::vector<std::pair<std::string, std::string>> orders;
  for (const char* method : {"pm_card_visa", "pm_card_chargeDeclined"}) {
    const std::string user = std::string("user-") + method;
    const HttpResponse reserved = Reserve(client, ReserveRequest().Sku("hook").User(user));
    ASSERT_EQ(reserved.status, 201);
    const HttpResponse checkout =
        client.Post("/api/v1/checkout",
                    "{\"reservation_id\":" + JsonQuote(Field(reserved, "reservation_id")) +
                        ",\"payment_method_id\":" + JsonQuote(method) + "}",
                    UserAuth(user));
    ASSERT_EQ(checkout.status, 202) << checkout.Describe();
    orders.emplace_back(Field(checkout, "order_id"), user);
  }
  // 2 reservations, 2 checkouts, success (2 events), decline (3 events) = 9 events.
  constexpr std::int64_t kEvents = 9;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<std::int64_t> sequences;
  std::vector<std::string> notified;
  while (std::chrono::steady_clock::now() < deadline) {
    sequences.clear();
    notified.clear();
    for (const RecordedPost& post : receiver_.Posts()) {
      if (post.answered != 200) continue;
      EXPECT_TRUE(SignedNow(post)) << post.path;
      auto json = ParseJson(post.body);
      ASSERT_TRUE(json.has_value()) << post.body;
      if (post.path == "/events") {
        ASSERT_TRUE(json->HasMember("events") && (*json)["events"].IsArray());
        ASSERT_FALSE((*json)["events"].Empty());
        EXPECT_EQ(post.event_id, StringField((*json)["events"][0], "event_id").value_or("?"));
        for (const auto& event : (*json)["events"].GetArray())
          sequences.push_back(IntField(event, "sequence").value_or(-1));
      } else {
        EXPECT_EQ(post.path, "/notify");
        notified.push_back(StringField(*json, "type").value_or(""));
        EXPECT_EQ(post.event_id, StringField(*json, "event_id").value_or("?"));
      }
    }
    if (static_cast<std::int64_t>(sequences.size()) >= kEvents && notified.size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Delivered in order, each once (no failure happened after a success).
  std::vector<std::int64_t> expected;
  for (std::int64_t i = 1; i <= kEvents; ++i) expected.push_back(i);
  EXPECT_EQ(sequences, expected);
  std::sort(notified.begin(), notified.end());
  EXPECT_EQ(notified, (std::vector<std::string>{"order.confirmed", "order.failed"}));
  // The failed POSTs happened and were retried.
  int failed = 0;
  for (const RecordedPost& post : receiver_.Posts()) failed += post.answered == 500 ? 1 : 0;
  EXPECT_EQ(failed, 2);
  ASSERT_TRUE(server_.Stop());
}

}  // namespace
}  // namespace fs::itest
