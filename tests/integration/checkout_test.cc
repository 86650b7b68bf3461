// Goal: the checkout and payment saga through the real server. Checkout answers 202
// at once; the payment worker then settles the order: success sells the unit, a decline
// releases it (stock back at once), a flaky card is retried until it succeeds, a card that
// always times out ends NEEDS_ATTENTION and is settled by an operator. Checkout refuses other
// users', expired and inactive reservations; concurrent checkouts make one order; keyed
// checkouts replay; pending payments resume after a kill -9; and every change reaches
// events.jsonl exactly in per-SKU order.

#include <gtest/gtest.h>

#include <fstream>
#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr char kSku[] = "shoe";
constexpr std::int64_t kStock = 10;
constexpr std::int64_t kPrice = 12999;
// How long a saga may take here at most: retries are 20 ms + 40 ms, calls take 0-1000 ms.
constexpr auto kSettleTimeout = std::chrono::seconds(20);

ServerOptions SagaOptions(std::string latency_ms = "0") {
  ServerOptions options;
  options.extra_args = {"--payment-retry-schedule", "20ms,40ms", "--payment-simulated-latency-ms",
                        std::move(latency_ms)};
  return options;
}

struct CheckoutRequest {
  std::string reservation_id;
  std::string payment_method_id = "pm_card_visa";
  std::string idempotency_key;
};

HttpResponse Checkout(HttpClient& client, std::string_view user, const CheckoutRequest& request,
                      std::string_view route = "/api/v1/checkout") {
  HttpHeaders headers = UserAuth(user);
  if (!request.idempotency_key.empty())
    headers.push_back({"Idempotency-Key", request.idempotency_key});
  const std::string body = "{\"reservation_id\":" + JsonQuote(request.reservation_id) +
                           ",\"payment_method_id\":" + JsonQuote(request.payment_method_id) + "}";
  return client.Post(std::string(route), body, std::move(headers));
}

class CheckoutTest : public ServerTest {
 protected:
  explicit CheckoutTest(ServerOptions options = SagaOptions()) : ServerTest(std::move(options)) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    SaleSpec sale;
    sale.sku_id = kSku;
    sale.total_stock = kStock;
    sale.price_cents = kPrice;
    sale.per_user_limit = 2;
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }

  // A fresh RESERVED reservation of `quantity` units for `user`.
  std::string ReserveOne(const std::string& user, std::int32_t quantity = 1) {
    const HttpResponse response =
        Reserve(client(), ReserveRequest().Sku(kSku).User(user).Quantity(quantity));
    EXPECT_EQ(response.status, 201) << response.Describe();
    return BodyField(response, "reservation_id");
  }

  // Checks out and returns the order id (expects 202).
  std::string CheckoutOk(const std::string& user, const std::string& reservation_id,
                         const std::string& payment_method_id) {
    const HttpResponse response = Checkout(client(), user, {reservation_id, payment_method_id, ""});
    EXPECT_EQ(response.status, 202) << response.Describe();
    return BodyField(response, "order_id");
  }

  HttpResponse GetOrder(const std::string& order_id, const std::string& user) {
    return client().Get("/api/v1/orders/" + order_id, UserAuth(user));
  }

  // Polls the order until its status is not PENDING (the saga runs asynchronously); returns
  // the last response.
  HttpResponse WaitSettled(const std::string& order_id, const std::string& user) {
    const auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
    HttpResponse response;
    while (std::chrono::steady_clock::now() < deadline) {
      response = GetOrder(order_id, user);
      if (response.status != 200 || BodyField(response, "status") != "PENDING") return response;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "order " << order_id << " still PENDING after the deadline";
    return response;
  }

  std::int64_t DbInt(const std::string& sql) {
    auto db = Database::OpenReadOnly(server_.database_path());
    if (!db) return -1;
    auto value = (*db)->QueryInt(sql);
    return value ? *value : -1;
  }
};

TEST_F(CheckoutTest, SuccessfulPaymentSellsTheUnit) {
  const std::string reservation = ReserveOne("alice", 2);
  const HttpResponse response = Checkout(client(), "alice", {reservation, "pm_card_visa", ""});
  ASSERT_EQ(response.status, 202) << response.Describe();
  auto json = ParseJson(response.body);
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(StringField(*json, "reservation_id"), reservation);
  EXPECT_EQ(StringField(*json, "status"), "PENDING");
  EXPECT_EQ(IntField(*json, "amount_cents"), 2 * kPrice);
  EXPECT_EQ(StringField(*json, "currency"), "EUR");
  const std::string order_id = StringField(*json, "order_id").value_or("");
  ASSERT_FALSE(order_id.empty());

  const HttpResponse settled = WaitSettled(order_id, "alice");
  ASSERT_EQ(settled.status, 200) << settled.Describe();
  EXPECT_EQ(BodyField(settled, "status"), "PAID");
  EXPECT_EQ(BodyField(settled, "sku_id"), kSku);
  EXPECT_EQ(ReservationStatusOf(GetReservation(client(), reservation, "alice")), "PURCHASED");
  const auto counters = GetAdminCounters(client(), kSku);
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->sold, 2);
  EXPECT_EQ(counters->reserved, 0);
  EXPECT_EQ(counters->available, kStock - 2);
  EXPECT_EQ(DbInt("SELECT COUNT(*) FROM orders WHERE status = 2"), 1);
  EXPECT_EQ(ReadSku(kSku).sold, 2);
}

TEST_F(CheckoutTest, TheAliasRouteChecksOutToo) {
  const std::string reservation = ReserveOne("alice");
  const HttpResponse response =
      Checkout(client(), "alice", {reservation, "pm_card_visa", ""}, "/api/v1/orders/checkout");
  ASSERT_EQ(response.status, 202) << response.Describe();
  EXPECT_EQ(BodyField(WaitSettled(BodyField(response, "order_id"), "alice"), "status"), "PAID");
}

TEST_F(CheckoutTest, DeclineFailsTheOrderAndReturnsTheStock) {
  const std::string reservation = ReserveOne("bob");
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
  const std::string order_id = CheckoutOk("bob", reservation, "pm_card_chargeDeclined");
  const HttpResponse settled = WaitSettled(order_id, "bob");
  EXPECT_EQ(BodyField(settled, "status"), "FAILED");
  EXPECT_EQ(BodyField(settled, "failure_reason"), "card_declined");
  EXPECT_EQ(ReservationStatusOf(GetReservation(client(), reservation, "bob")), "RELEASED");
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock);
  const SkuSnapshot snapshot = ReadSku(kSku);
  EXPECT_EQ(snapshot.held, 0);
  EXPECT_EQ(snapshot.sold, 0);
}

TEST_F(CheckoutTest, FlakyGatewayIsRetriedUntilPaid) {
  const std::string reservation = ReserveOne("carol");
  const std::string order_id = CheckoutOk("carol", reservation, "pm_card_flaky");
  EXPECT_EQ(BodyField(WaitSettled(order_id, "carol"), "status"), "PAID");
  // Two timeouts, then the success: three gateway calls, recorded durably.
  EXPECT_EQ(DbInt("SELECT attempts FROM orders WHERE order_id = '" + order_id + "'"), 3);
  EXPECT_EQ(ReadSku(kSku).sold, 1);
  const std::string page = client().Get("/metrics").body;
  EXPECT_EQ(MetricSamples(page, "flashsale_payment_retries_total"),
            (std::vector<std::string>{"flashsale_payment_retries_total 2"}));
  EXPECT_EQ(MetricSamples(page, "flashsale_orders_created_total"),
            (std::vector<std::string>{"flashsale_orders_created_total 1"}));
  EXPECT_EQ(MetricSamples(page, "flashsale_orders_paid_total"),
            (std::vector<std::string>{"flashsale_orders_paid_total 1"}));
}

TEST_F(CheckoutTest, EndlessTimeoutsNeedAttentionThenAnOperatorResolves) {
  const std::string first = CheckoutOk("dave", ReserveOne("dave"), "pm_card_timeout");
  const std::string second = CheckoutOk("erin", ReserveOne("erin"), "pm_card_timeout");
  for (const auto& [order_id, user] : {std::pair{first, "dave"}, std::pair{second, "erin"}}) {
    const HttpResponse settled = WaitSettled(order_id, user);
    EXPECT_EQ(BodyField(settled, "status"), "NEEDS_ATTENTION");
    EXPECT_FALSE(BodyField(settled, "failure_reason").empty());
  }
  // Stock stays held while a human decides.
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 2);
  EXPECT_EQ(DbInt("SELECT attempts FROM orders WHERE order_id = '" + first + "'"), 3);

  const HttpResponse listed = client().Get("/admin/v1/orders?status=NEEDS_ATTENTION", AdminAuth());
  ASSERT_EQ(listed.status, 200) << listed.Describe();
  auto json = ParseJson(listed.body);
  ASSERT_TRUE(json.has_value() && json->HasMember("orders") && (*json)["orders"].IsArray());
  std::set<std::string> ids;
  for (const auto& order : (*json)["orders"].GetArray())
    ids.insert(StringField(order, "order_id").value_or(""));
  EXPECT_EQ(ids, (std::set<std::string>{first, second}));
  EXPECT_EQ(client().Get("/admin/v1/orders?status=NEEDS_ATTENTION").status, 401);
  EXPECT_TRUE(
      IsError(client().Get("/admin/v1/orders?status=LOST", AdminAuth()), 400, "INVALID_REQUEST"));

  const HttpResponse failed = client().Post("/admin/v1/orders/" + first + "/resolve",
                                            R"({"outcome":"failed"})", AdminAuth());
  ASSERT_EQ(failed.status, 200) << failed.Describe();
  EXPECT_EQ(BodyField(failed, "status"), "FAILED");
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
  const HttpResponse paid = client().Post("/admin/v1/orders/" + second + "/resolve",
                                          R"({"outcome":"paid"})", AdminAuth());
  ASSERT_EQ(paid.status, 200) << paid.Describe();
  EXPECT_EQ(BodyField(GetOrder(second, "erin"), "status"), "PAID");
  EXPECT_EQ(ReadSku(kSku).sold, 1);
  EXPECT_EQ(ReadSku(kSku).held, 0);

  EXPECT_TRUE(IsError(client().Post("/admin/v1/orders/" + second + "/resolve",
                                    R"({"outcome":"failed"})", AdminAuth()),
                      409, "ORDER_NOT_RESOLVABLE"));
  EXPECT_TRUE(
      IsError(client().Post("/admin/v1/orders/nope/resolve", R"({"outcome":"paid"})", AdminAuth()),
              404, "ORDER_NOT_FOUND"));
  EXPECT_TRUE(IsError(client().Post("/admin/v1/orders/" + second + "/resolve",
                                    R"({"outcome":"maybe"})", AdminAuth()),
                      400, "INVALID_REQUEST"));
}

TEST_F(CheckoutTest, RefusesOtherUsersUnknownInactiveAndMalformedCheckouts) {
  const std::string reservation = ReserveOne("alice");
  EXPECT_TRUE(IsError(Checkout(client(), "mallory", {reservation, "pm_card_visa", ""}), 404,
                      "RESERVATION_NOT_FOUND"));
  EXPECT_TRUE(IsError(Checkout(client(), "alice", {"no-such-reservation", "pm_card_visa", ""}), 404,
                      "RESERVATION_NOT_FOUND"));
  EXPECT_TRUE(
      IsError(client().Post("/api/v1/checkout", "{\"reservation_id\":\"x\"}", UserAuth("alice")),
              400, "INVALID_REQUEST"));
  EXPECT_TRUE(IsError(client().Post("/api/v1/checkout", "{\"payment_method_id\":\"pm_card_visa\"}",
                                    UserAuth("alice")),
                      400, "INVALID_REQUEST"));
  EXPECT_TRUE(
      IsError(client().Post("/api/v1/checkout", "[1]", UserAuth("alice")), 400, "INVALID_REQUEST"));
  EXPECT_EQ(client().Post("/api/v1/checkout", "{}").status, 401);

  const std::string released = ReserveOne("alice");
  ASSERT_EQ(ReleaseReservation(client(), released, "alice").status, 200);
  EXPECT_TRUE(IsError(Checkout(client(), "alice", {released, "pm_card_visa", ""}), 409,
                      "RESERVATION_NOT_ACTIVE"));

  const std::string order_id = CheckoutOk("alice", reservation, "pm_card_visa");
  // Checked out already: a second checkout (with or without a key) makes no second order.
  EXPECT_TRUE(IsError(Checkout(client(), "alice", {reservation, "pm_card_visa", "k2"}), 409,
                      "RESERVATION_NOT_ACTIVE"));
  // A reservation in checkout cannot be cancelled under the payment.
  EXPECT_TRUE(
      IsError(ReleaseReservation(client(), reservation, "alice"), 409, "RESERVATION_NOT_ACTIVE"));
  // Orders are visible to their owner only.
  EXPECT_TRUE(IsError(GetOrder(order_id, "mallory"), 404, "ORDER_NOT_FOUND"));
  EXPECT_TRUE(IsError(GetOrder("no-such-order", "alice"), 404, "ORDER_NOT_FOUND"));
  EXPECT_EQ(WaitSettled(order_id, "alice").status, 200);
  EXPECT_EQ(DbInt("SELECT COUNT(*) FROM orders"), 1);
}

class ShortTtlCheckoutTest : public CheckoutTest {};

TEST_F(ShortTtlCheckoutTest, ExpiredReservationCannotBeCheckedOut) {
  SaleSpec sale;
  sale.sku_id = "flash";
  sale.total_stock = 1;
  sale.reservation_ttl_seconds = 1;
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  const HttpResponse reserved = Reserve(client(), ReserveRequest().Sku("flash").User("alice"));
  ASSERT_EQ(reserved.status, 201);
  const std::string reservation = BodyField(reserved, "reservation_id");
  // The server expires it within a second of its TTL; wait for it to say so.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ReservationStatusOf(GetReservation(client(), reservation, "alice")) != "EXPIRED" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(IsError(Checkout(client(), "alice", {reservation, "pm_card_visa", ""}), 409,
                      "RESERVATION_EXPIRED"));
  EXPECT_EQ(DbInt("SELECT COUNT(*) FROM orders"), 0);
}

TEST_F(CheckoutTest, ConcurrentCheckoutsOfOneReservationMakeOneOrder) {
  const std::string reservation = ReserveOne("alice");
  constexpr int kClients = 16;
  std::latch start(kClients);
  std::vector<int> statuses(kClients, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      HttpClient own(server_.port());
      start.arrive_and_wait();
      // Half with distinct keys, half without: neither may create a second order.
      const std::string key = i % 2 == 0 ? "race-" + std::to_string(i) : "";
      statuses[static_cast<std::size_t>(i)] =
          Checkout(own, "alice", {reservation, "pm_card_visa", key}).status;
    });
  }
  for (auto& thread : threads) thread.join();
  int accepted = 0;
  for (int status : statuses) {
    if (status == 202) {
      ++accepted;
    } else {
      EXPECT_EQ(status, 409);
    }
  }
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(DbInt("SELECT COUNT(*) FROM orders"), 1);
}

TEST_F(CheckoutTest, KeyedCheckoutReplaysAndSurvivesARestart) {
  const std::string reservation = ReserveOne("alice");
  const CheckoutRequest request{reservation, "pm_card_visa", "pay-1"};
  const HttpResponse original = Checkout(client(), "alice", request);
  ASSERT_EQ(original.status, 202) << original.Describe();
  EXPECT_FALSE(original.Header("Idempotent-Replayed").has_value());
  const HttpResponse replay = Checkout(client(), "alice", request, "/api/v1/orders/checkout");
  EXPECT_EQ(replay.status, 202);
  EXPECT_EQ(replay.body, original.body);
  EXPECT_EQ(replay.Header("Idempotent-Replayed").value_or(""), "true");
  EXPECT_TRUE(IsError(Checkout(client(), "alice", {reservation, "pm_card_flaky", "pay-1"}), 422,
                      "IDEMPOTENCY_KEY_REUSED"));
  // Keys are shared with reserve per user: a reserve key is not a checkout key.
  ASSERT_EQ(Reserve(client(), ReserveRequest().Sku(kSku).User("alice").Key("res-1")).status, 201);
  EXPECT_TRUE(IsError(Checkout(client(), "alice", {reservation, "pm_card_visa", "res-1"}), 422,
                      "IDEMPOTENCY_KEY_REUSED"));

  ASSERT_TRUE(server_.Restart());
  Reconnect();
  const HttpResponse after = Checkout(client(), "alice", request);
  EXPECT_EQ(after.status, 202);
  EXPECT_EQ(after.body, original.body);
  EXPECT_EQ(DbInt("SELECT COUNT(*) FROM orders"), 1);
}

class SlowGatewayCheckoutTest : public CheckoutTest {
 protected:
  SlowGatewayCheckoutTest() : CheckoutTest(SagaOptions("1000")) {}
};

TEST_F(SlowGatewayCheckoutTest, PendingPaymentsResumeAfterAKill9) {
  std::vector<std::pair<std::string, std::string>> orders;  // (order id, user)
  for (int i = 0; i < 4; ++i) {
    const std::string user = "buyer-" + std::to_string(i);
    const std::string method = i % 2 == 0 ? "pm_card_visa" : "pm_card_chargeDeclined";
    orders.emplace_back(CheckoutOk(user, ReserveOne(user), method), user);
  }
  // The gateway takes a second: every order is still PENDING when the process dies.
  EXPECT_EQ(DbInt("SELECT COUNT(*) FROM orders WHERE status = 1"), 4);
  server_.Kill9();
  ASSERT_TRUE(server_.Start());
  Reconnect();
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const HttpResponse settled = WaitSettled(orders[i].first, orders[i].second);
    EXPECT_EQ(BodyField(settled, "status"), i % 2 == 0 ? "PAID" : "FAILED");
  }
  const SkuSnapshot snapshot = ReadSku(kSku);
  EXPECT_EQ(snapshot.sold, 2);
  EXPECT_EQ(snapshot.held, 0);
}

TEST_F(CheckoutTest, EveryChangeReachesTheEventLogInOrderPerSku) {
  const std::string paid = CheckoutOk("alice", ReserveOne("alice"), "pm_card_visa");
  const std::string failed = CheckoutOk("bob", ReserveOne("bob"), "pm_card_chargeDeclined");
  const std::string released = ReserveOne("carol");
  ASSERT_EQ(ReleaseReservation(client(), released, "carol").status, 200);
  WaitSettled(paid, "alice");
  WaitSettled(failed, "bob");
  const std::int64_t stored = DbInt("SELECT COUNT(*) FROM outbox");
  // A graceful stop publishes everything committed.
  ASSERT_TRUE(server_.Stop());

  std::ifstream file(server_.data_dir() / "events.jsonl");
  ASSERT_TRUE(file.is_open());
  std::string line;
  std::vector<std::string> types;
  std::set<std::string> event_ids;
  std::int64_t expected_sequence = 1;
  while (std::getline(file, line)) {
    auto json = ParseJson(line);
    ASSERT_TRUE(json.has_value() && json->IsObject()) << line;
    EXPECT_EQ(StringField(*json, "sku_id"), kSku);
    EXPECT_EQ(IntField(*json, "sequence"), expected_sequence) << line;
    ++expected_sequence;
    EXPECT_TRUE(event_ids.insert(StringField(*json, "event_id").value_or("")).second) << line;
    EXPECT_TRUE(StringField(*json, "user_id").has_value());
    EXPECT_TRUE(StringField(*json, "occurred_at").has_value());
    EXPECT_TRUE(json->HasMember("payload") && (*json)["payload"].IsObject());
    types.push_back(StringField(*json, "type").value_or(""));
  }
  EXPECT_EQ(static_cast<std::int64_t>(types.size()), stored);
  std::multiset<std::string> counted(types.begin(), types.end());
  EXPECT_EQ(counted.count("reservation.created"), 3u);
  EXPECT_EQ(counted.count("checkout.requested"), 2u);
  EXPECT_EQ(counted.count("payment.succeeded"), 1u);
  EXPECT_EQ(counted.count("order.confirmed"), 1u);
  EXPECT_EQ(counted.count("payment.failed"), 1u);
  EXPECT_EQ(counted.count("order.failed"), 1u);
  EXPECT_EQ(counted.count("reservation.released"), 2u);  // carol's cancel and bob's decline

  // After a restart the relay continues from its stored cursor: nothing is published twice.
  ASSERT_TRUE(server_.Start());
  Reconnect();
  ReserveOne("dave");
  ASSERT_TRUE(server_.Stop());
  std::ifstream again(server_.data_dir() / "events.jsonl");
  std::int64_t lines = 0;
  std::int64_t last_sequence = 0;
  while (std::getline(again, line)) {
    auto json = ParseJson(line);
    ASSERT_TRUE(json.has_value()) << line;
    ++lines;
    last_sequence = IntField(*json, "sequence").value_or(-1);
    EXPECT_EQ(last_sequence, lines) << line;
  }
  EXPECT_EQ(lines, stored + 1);
}

}  // namespace
}  // namespace fs::itest
