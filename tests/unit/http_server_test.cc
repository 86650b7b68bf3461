// Goal: the in-process HTTP server (real engine on a temporary SQLite file) serves keep-alive
// requests with Content-Type and Content-Length on every answer, enforces its connection bound
// (the connection beyond the limit is closed at once and counted, and a slot frees when a
// client leaves), answers 503 with Retry-After when the engine is stopped, replays an
// idempotent reserve byte for byte, and on StopAccepting refuses new connections and closes
// kept-alive ones after their current response.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <thread>

#include "auth/jwt.h"
#include "base/clock.h"
#include "common/temp_database_test.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/json_render.h"
#include "http/server.h"
#include "metrics/flashsale_metrics.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Message = bhttp::response<bhttp::string_body>;

constexpr char kSecret[] = "unit-test-secret";
constexpr char kAdminToken[] = "unit-test-admin";
constexpr std::chrono::seconds kIoTimeout{5};

// A blocking-style client over async operations with a deadline, so a server bug fails the
// test instead of hanging it.
class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : stream_(io_) {
    stream_.expires_after(kIoTimeout);
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                          [this](beast::error_code error) { error_ = error; });
    Run();
  }

  bool connected() const { return !error_; }

  beast::error_code Send(bhttp::verb method, const std::string& target, const std::string& body,
                         Message& response, const std::string& authorization = "",
                         const std::string& idempotency_key = "") {
    bhttp::request<bhttp::string_body> request{method, target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    if (!authorization.empty()) request.set(bhttp::field::authorization, authorization);
    if (!idempotency_key.empty()) request.set("Idempotency-Key", idempotency_key);
    request.body() = body;
    request.prepare_payload();
    stream_.expires_after(kIoTimeout);
    bhttp::async_write(stream_, request,
                       [this](beast::error_code error, std::size_t) { error_ = error; });
    Run();
    if (error_) return error_;
    stream_.expires_after(kIoTimeout);
    bhttp::async_read(stream_, buffer_, response,
                      [this](beast::error_code error, std::size_t) { error_ = error; });
    Run();
    return error_;
  }

  // Waits for the server to close the connection; the error is eof (or reset) when it did.
  beast::error_code ReadUntilClosed() {
    stream_.expires_after(kIoTimeout);
    stream_.async_read_some(asio::buffer(scratch_),
                            [this](beast::error_code error, std::size_t) { error_ = error; });
    Run();
    return error_;
  }

  void Close() { stream_.close(); }

 private:
  void Run() {
    io_.restart();
    io_.run();
  }

  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::array<char, 256> scratch_{};
  beast::error_code error_;
};

bool ClosedByServer(const beast::error_code& error) {
  return error == bhttp::error::end_of_stream || error == asio::error::eof ||
         error == asio::error::connection_reset;
}

class HttpServerTest : public test_common::TempDatabaseTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    auto store = store::SqliteStore::Open(path_, store::SqliteOptions{});
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    engine::Options options;
    options.stored_replies.reservation_created = [](const core::Reservation& reservation) {
      return core::StoredReply{201, RenderReservation(reservation)};
    };
    auto engine = engine::Engine::Open(std::move(options), std::move(*store), clock_);
    ASSERT_TRUE(engine.has_value()) << engine.error().ToString();
    engine_ = std::move(*engine);
    metrics_ = std::make_unique<metrics::HttpMetrics>(Api::RouteLabels(), Api::MethodLabels());
    api_ = std::make_unique<Api>(ApiOptions{kSecret, kAdminToken}, *engine_, *metrics_);
  }

  void TearDown() override {
    if (server_) server_->StopAccepting();
    if (engine_) engine_->Stop();
    server_.reset();
    api_.reset();
    engine_.reset();
    TempDatabaseTest::TearDown();
  }

  void StartServer(std::size_t connections_max = kConnectionsMax) {
    ServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.connections_max = connections_max;
    auto server = Server::Open(options, *api_, *metrics_);
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    server_ = std::move(*server);
    server_->Start();
  }

  static std::string UserAuth(const std::string& user) {
    auth::Claims claims;
    claims.subject = user;
    claims.expires_at_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() +
                                3600;
    return "Bearer " + auth::SignHs256(claims, kSecret);
  }

  void CreateSale(TestClient& client, const std::string& sku) {
    Message response;
    const std::string body = R"({"sku_id":")" + sku +
                             R"(","name":"n","price_cents":1,"currency":"EUR","total_stock":5})";
    ASSERT_FALSE(client.Send(bhttp::verb::post, "/admin/v1/skus", body, response,
                             std::string("Bearer ") + kAdminToken));
    ASSERT_EQ(response.result_int(), 201u) << response.body();
  }

  // Polls a gauge the I/O threads update; a bounded wait, not a sleep to synchronize.
  bool WaitForOpenConnections(std::int64_t expected) {
    const auto deadline = std::chrono::steady_clock::now() + kIoTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (metrics_->connections_open.value() == expected) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  base::SystemClock clock_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<metrics::HttpMetrics> metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
};

TEST_F(HttpServerTest, KeepAliveRequestsCarryTypeAndLength) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  TestClient client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_NO_FATAL_FAILURE(CreateSale(client, "cap"));
  struct Case {
    std::string target;
    unsigned status;
    std::string content_type;
  };
  const std::vector<Case> cases = {
      {"/healthz", 200, "application/json"},
      {"/nope", 404, "application/json"},
      {"/api/v1/products/cap/availability", 200, "application/json"},
      {"/metrics", 200, "text/plain; version=0.0.4; charset=utf-8"},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.target);
    Message response;
    ASSERT_FALSE(client.Send(bhttp::verb::get, test.target, "", response));
    EXPECT_EQ(response.result_int(), test.status);
    EXPECT_EQ(response[bhttp::field::content_type], test.content_type);
    EXPECT_EQ(response[bhttp::field::content_length], std::to_string(response.body().size()));
    EXPECT_TRUE(response.keep_alive());
  }
  EXPECT_EQ(metrics_->connections_open.value(), 1);  // every request on the one connection
  EXPECT_EQ(metrics_->requests.value(api_->unmatched_route_index(),
                                     static_cast<std::size_t>(Method::kGet), 404),
            1u);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosed) {
  ASSERT_NO_FATAL_FAILURE(StartServer(2));
  TestClient first(server_->port());
  TestClient second(server_->port());
  for (TestClient* client : {&first, &second}) {
    Message response;
    ASSERT_FALSE(client->Send(bhttp::verb::get, "/healthz", "", response));
    ASSERT_EQ(response.result_int(), 200u);
  }
  TestClient third(server_->port());
  ASSERT_TRUE(third.connected());  // the kernel accepts; the server closes at once
  EXPECT_TRUE(ClosedByServer(third.ReadUntilClosed()));
  EXPECT_EQ(metrics_->connections_rejected.value(), 1u);

  first.Close();
  ASSERT_TRUE(WaitForOpenConnections(1));
  TestClient fourth(server_->port());
  Message response;
  ASSERT_FALSE(fourth.Send(bhttp::verb::get, "/healthz", "", response));
  EXPECT_EQ(response.result_int(), 200u);
}

TEST_F(HttpServerTest, IdempotentReplayIsByteIdentical) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  TestClient client(server_->port());
  ASSERT_NO_FATAL_FAILURE(CreateSale(client, "cap"));
  Message first;
  Message replay;
  ASSERT_FALSE(client.Send(bhttp::verb::post, "/api/v1/products/cap/reserve", R"({"quantity":1})",
                           first, UserAuth("alice"), "key-1"));
  ASSERT_FALSE(client.Send(bhttp::verb::post, "/api/v1/reserve",
                           R"({"sku_id":"cap","idempotency_key":"key-1"})", replay,
                           UserAuth("alice")));
  ASSERT_EQ(first.result_int(), 201u) << first.body();
  EXPECT_EQ(first.find("Idempotent-Replayed"), first.end());
  EXPECT_EQ(replay.result_int(), 201u) << replay.body();
  EXPECT_EQ(replay["Idempotent-Replayed"], "true");
  EXPECT_EQ(replay.body(), first.body());
}

TEST_F(HttpServerTest, StoppedEngineAnswers503) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  TestClient client(server_->port());
  ASSERT_NO_FATAL_FAILURE(CreateSale(client, "cap"));
  engine_->Stop();
  Message response;
  ASSERT_FALSE(client.Send(bhttp::verb::post, "/api/v1/products/cap/reserve", "", response,
                           UserAuth("alice")));
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response["Retry-After"], "1");
  EXPECT_NE(response.body().find(R"("code":"UNAVAILABLE")"), std::string::npos);
}

TEST_F(HttpServerTest, StopAcceptingClosesKeptAliveConnectionsAfterTheirResponse) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  TestClient client(server_->port());
  Message before;
  ASSERT_FALSE(client.Send(bhttp::verb::get, "/readyz", "", before));
  EXPECT_EQ(before.result_int(), 200u);

  server_->StopAccepting();
  EXPECT_TRUE(server_->WaitForInFlight(std::chrono::seconds(1)));
  Message during;
  ASSERT_FALSE(client.Send(bhttp::verb::get, "/readyz", "", during));
  EXPECT_EQ(during.result_int(), 503u);  // load balancers stop sending traffic
  EXPECT_FALSE(during.keep_alive());
  EXPECT_TRUE(ClosedByServer(client.ReadUntilClosed()));
}

}  // namespace
}  // namespace fs::http
