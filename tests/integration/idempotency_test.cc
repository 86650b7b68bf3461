// Goal: idempotent reserve through the real server. A replay of a key returns the original
// status and byte-identical body with `Idempotent-Replayed: true` and reserves nothing more,
// whether the key came in the header or the body; the same key with other parameters is
// 422 IDEMPOTENCY_KEY_REUSED; 32 concurrent duplicates create exactly one reservation; keys
// are scoped to the user; and replays survive a graceful restart and a kill -9.

#include <gtest/gtest.h>

#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr char kSku[] = "idem";
constexpr std::int64_t kStock = 100;

class IdempotencyTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    SaleSpec sale;
    sale.sku_id = kSku;
    sale.total_stock = kStock;
    // Above 1, so a duplicate that slipped through would succeed instead of hitting the limit.
    sale.per_user_limit = 10;
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }

  ReserveRequest Request(std::string user, std::string key,
                         KeyPlacement placement = KeyPlacement::kHeader) {
    return ReserveRequest().Sku(kSku).User(std::move(user)).Key(std::move(key), placement);
  }
};

bool IsReplay(const HttpResponse& response) {
  return response.Header("Idempotent-Replayed").value_or("") == "true";
}

TEST_F(IdempotencyTest, HeaderKeyReplaysTheOriginalAnswer) {
  const HttpResponse original = Reserve(client(), Request("alice", "order-1"));
  ASSERT_EQ(original.status, 201) << original.Describe();
  EXPECT_FALSE(IsReplay(original));

  for (int i = 0; i < 3; ++i) {
    const HttpResponse replay = Reserve(client(), Request("alice", "order-1"));
    EXPECT_EQ(replay.status, 201) << replay.Describe();
    EXPECT_EQ(replay.body, original.body) << "a replay must be byte-identical";
    EXPECT_TRUE(IsReplay(replay));
  }
  // The same key through the other route with the same parameters is the same request.
  const HttpResponse other_route =
      Reserve(client(), Request("alice", "order-1").Via(ReserveRoute::kBody));
  EXPECT_EQ(other_route.status, 201) << other_route.Describe();
  EXPECT_EQ(other_route.body, original.body);
  EXPECT_TRUE(IsReplay(other_route));

  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
  const SkuSnapshot rows = ReadSku(kSku);
  EXPECT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(rows.held, 1);
}

TEST_F(IdempotencyTest, BodyKeyReplaysTheOriginalAnswer) {
  const HttpResponse original =
      Reserve(client(), Request("alice", "order-2", KeyPlacement::kBody).Quantity(2));
  ASSERT_EQ(original.status, 201) << original.Describe();
  EXPECT_FALSE(IsReplay(original));
  const HttpResponse replay =
      Reserve(client(), Request("alice", "order-2", KeyPlacement::kBody).Quantity(2));
  EXPECT_EQ(replay.status, 201) << replay.Describe();
  EXPECT_EQ(replay.body, original.body);
  EXPECT_TRUE(IsReplay(replay));
  // The key is the same whether it travels in the header or the body.
  const HttpResponse header_replay =
      Reserve(client(), Request("alice", "order-2", KeyPlacement::kHeader).Quantity(2));
  EXPECT_EQ(header_replay.status, 201) << header_replay.Describe();
  EXPECT_EQ(header_replay.body, original.body);

  const HttpResponse via_body_route =
      Reserve(client(),
              Request("bob", "order-3", KeyPlacement::kBody).Quantity(1).Via(ReserveRoute::kBody));
  ASSERT_EQ(via_body_route.status, 201) << via_body_route.Describe();
  const HttpResponse via_body_route_replay =
      Reserve(client(),
              Request("bob", "order-3", KeyPlacement::kBody).Quantity(1).Via(ReserveRoute::kBody));
  EXPECT_EQ(via_body_route_replay.body, via_body_route.body);
  EXPECT_TRUE(IsReplay(via_body_route_replay));

  // Any visible ASCII is a key: quotes and backslashes included (escaped in the JSON body).
  const std::string odd_key = "k\"1\\{}~";
  const HttpResponse odd = Reserve(client(), Request("carol", odd_key, KeyPlacement::kBody));
  ASSERT_EQ(odd.status, 201) << odd.Describe();
  const HttpResponse odd_replay = Reserve(client(), Request("carol", odd_key, KeyPlacement::kBody));
  EXPECT_EQ(odd_replay.body, odd.body);
  EXPECT_TRUE(IsReplay(odd_replay));
  // Spaces and non-ASCII are refused before anything is decided: every store takes the rest.
  for (const std::string& refused : {std::string("k \xd0\xba\xd0\xbb"), std::string("a b")}) {
    EXPECT_TRUE(IsError(Reserve(client(), Request("carol", refused, KeyPlacement::kBody)), 400,
                        "INVALID_REQUEST"));
  }

  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 4);
  EXPECT_EQ(ReadSku(kSku).rows.size(), 3u);
}

// Raw bytes a database refuses as text (0xFF, Latin-1 "caf\xe9") in the header: 400 naming
// the header, nothing stored, and the writer goes on serving everyone else.
TEST_F(IdempotencyTest, RawNonAsciiHeaderKeyIsRefusedAtTheEdge) {
  for (const std::string& raw : {std::string("\xff"), std::string("caf\xe9")}) {
    const HttpResponse refused = client().Post(
        "/api/v1/products/" + std::string(kSku) + "/reserve", R"({"quantity":1})",
        {{"Authorization", "Bearer " + MintToken("mallory")}, {"Idempotency-Key", raw}});
    ASSERT_TRUE(IsError(refused, 400, "INVALID_REQUEST")) << refused.Describe();
    EXPECT_NE(refused.body.find("Idempotency-Key"), std::string::npos) << refused.body;
  }
  EXPECT_EQ(Reserve(client(), Request("alice", "fine-key")).status, 201);
  EXPECT_EQ(client().Get("/readyz").status, 200);
  EXPECT_EQ(ReadSku(kSku).rows.size(), 1u);
}

TEST_F(IdempotencyTest, SameKeyWithOtherParametersIsRefused) {
  SaleSpec other;
  other.sku_id = "idem-other";
  ASSERT_TRUE(CreateSaleOk(client(), other));

  ASSERT_EQ(Reserve(client(), Request("alice", "order-4")).status, 201);
  EXPECT_TRUE(IsError(Reserve(client(), Request("alice", "order-4").Quantity(2)), 422,
                      "IDEMPOTENCY_KEY_REUSED"));
  EXPECT_TRUE(IsError(Reserve(client(), Request("alice", "order-4").Sku("idem-other")), 422,
                      "IDEMPOTENCY_KEY_REUSED"));
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
  EXPECT_EQ(AvailableUnits(client(), "idem-other"), 100);
  EXPECT_EQ(ReadSku(kSku).rows.size(), 1u);
  EXPECT_TRUE(ReadSku("idem-other").rows.empty());
}

TEST_F(IdempotencyTest, ReplayWinsOverLimitAndStock) {
  // A retry of a request that succeeded is answered from the key even when the same request
  // made fresh would now be refused: the user is at the limit and the sale is sold out.
  SaleSpec scarce;
  scarce.sku_id = "scarce";
  scarce.total_stock = 1;
  scarce.per_user_limit = 1;
  ASSERT_TRUE(CreateSaleOk(client(), scarce));
  const HttpResponse original = Reserve(client(), Request("alice", "last-one").Sku("scarce"));
  ASSERT_EQ(original.status, 201) << original.Describe();
  EXPECT_TRUE(
      IsError(Reserve(client(), Request("bob", "bobs-key").Sku("scarce")), 409, "SOLD_OUT"));
  EXPECT_TRUE(IsError(Reserve(client(), Request("alice", "other-key").Sku("scarce")), 409,
                      "LIMIT_EXCEEDED"));
  const HttpResponse replay = Reserve(client(), Request("alice", "last-one").Sku("scarce"));
  EXPECT_EQ(replay.status, 201) << replay.Describe();
  EXPECT_EQ(replay.body, original.body);
  EXPECT_TRUE(IsReplay(replay));
  EXPECT_EQ(ReadSku("scarce").rows.size(), 1u);
}

TEST_F(IdempotencyTest, ReplayAfterReleaseDoesNotReserveAgain) {
  const HttpResponse original = Reserve(client(), Request("alice", "then-cancelled"));
  ASSERT_EQ(original.status, 201) << original.Describe();
  const auto reservation = ParseReservation(original.body);
  ASSERT_TRUE(reservation);
  ASSERT_EQ(ReleaseReservation(client(), reservation->reservation_id, "alice").status, 200);
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock);

  // The original answer comes back; no new reservation is made.
  const HttpResponse replay = Reserve(client(), Request("alice", "then-cancelled"));
  EXPECT_EQ(replay.status, 201) << replay.Describe();
  EXPECT_EQ(replay.body, original.body);
  EXPECT_TRUE(IsReplay(replay));
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock);
  const SkuSnapshot rows = ReadSku(kSku);
  EXPECT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(rows.held, 0);
}

TEST_F(IdempotencyTest, KeysAreScopedToTheUser) {
  const HttpResponse alice = Reserve(client(), Request("alice", "shared-key"));
  const HttpResponse bob = Reserve(client(), Request("bob", "shared-key"));
  ASSERT_EQ(alice.status, 201) << alice.Describe();
  ASSERT_EQ(bob.status, 201) << bob.Describe();
  EXPECT_FALSE(IsReplay(bob));
  const auto alice_body = ParseReservation(alice.body);
  const auto bob_body = ParseReservation(bob.body);
  ASSERT_TRUE(alice_body && bob_body);
  EXPECT_NE(alice_body->reservation_id, bob_body->reservation_id);
  EXPECT_EQ(bob_body->user_id, "bob");
  EXPECT_EQ(ReadSku(kSku).rows.size(), 2u);
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 2);
}

TEST_F(IdempotencyTest, ConcurrentDuplicatesCreateOneReservation) {
  constexpr int kDuplicates = 32;
  std::vector<HttpResponse> responses(kDuplicates);
  std::latch start(kDuplicates);
  std::vector<std::thread> threads;
  for (int i = 0; i < kDuplicates; ++i) {
    threads.emplace_back([&, i] {
      HttpClient own(server_.port());
      own.Get("/healthz");  // connect before the start line
      start.arrive_and_wait();
      responses[static_cast<std::size_t>(i)] = Reserve(own, Request("alice", "burst-key"));
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::set<std::string> ids;
  std::set<std::string> bodies;
  int originals = 0;
  for (const HttpResponse& response : responses) {
    ASSERT_EQ(response.status, 201) << response.Describe();
    const auto body = ParseReservation(response.body);
    ASSERT_TRUE(body) << response.body;
    ids.insert(body->reservation_id);
    bodies.insert(response.body);
    if (!IsReplay(response)) ++originals;
  }
  EXPECT_EQ(ids.size(), 1u) << "concurrent duplicates created several reservations";
  EXPECT_EQ(bodies.size(), 1u) << "replays differ from the original body";
  EXPECT_EQ(originals, 1) << "exactly one answer is the original, the rest are replays";

  const SkuSnapshot rows = ReadSku(kSku);
  EXPECT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(rows.held, 1);
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
}

TEST_F(IdempotencyTest, ReplaySurvivesGracefulRestart) {
  const HttpResponse original = Reserve(client(), Request("alice", "durable-key"));
  ASSERT_EQ(original.status, 201) << original.Describe();

  ASSERT_TRUE(server_.Restart());
  Reconnect();
  const HttpResponse replay = Reserve(client(), Request("alice", "durable-key"));
  EXPECT_EQ(replay.status, 201) << replay.Describe();
  EXPECT_EQ(replay.body, original.body);
  EXPECT_TRUE(IsReplay(replay));
  EXPECT_TRUE(IsError(Reserve(client(), Request("alice", "durable-key").Quantity(3)), 422,
                      "IDEMPOTENCY_KEY_REUSED"));
  EXPECT_EQ(ReadSku(kSku).rows.size(), 1u);
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
}

TEST_F(IdempotencyTest, ReplaySurvivesKill9) {
  const HttpResponse original = Reserve(client(), Request("alice", "crash-key"));
  ASSERT_EQ(original.status, 201) << original.Describe();

  server_.Kill9();
  ASSERT_TRUE(server_.Start());
  Reconnect();
  const HttpResponse replay = Reserve(client(), Request("alice", "crash-key"));
  EXPECT_EQ(replay.status, 201) << replay.Describe();
  EXPECT_EQ(replay.body, original.body);
  EXPECT_TRUE(IsReplay(replay));
  EXPECT_EQ(ReadSku(kSku).rows.size(), 1u);
  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 1);
}

}  // namespace
}  // namespace fs::itest
