// Goal: bad input never crashes the server or changes state. Malformed or non-object JSON,
// wrong types and out-of-range values of known fields get 400 INVALID_REQUEST (unknown fields
// are ignored), bodies over 16 KiB get 413, unknown routes 404 NOT_FOUND, wrong methods 405,
// oversized headers and garbage bytes are refused or the connection is closed, and idle or
// slow clients are disconnected after the idle timeout. After each bad request the server still
// answers and the stock is unchanged; every error body has the {"error":{"code","message"}}
// shape.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSku[] = "input";
constexpr std::int64_t kStock = 50;
// Bound on reading the answer to one raw request.
constexpr milliseconds kRawReadTimeout{5'000};

class BadInputTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    SaleSpec sale;
    sale.sku_id = kSku;
    sale.total_stock = kStock;
    sale.per_user_limit = 10;
    ASSERT_TRUE(CreateSaleOk(client(), sale));
  }

  // The server still answers on a fresh connection and nothing was reserved.
  void ExpectAliveAndUnchanged() {
    ASSERT_TRUE(ServerAlive(server_.port())) << "the server stopped answering";
    HttpClient fresh(server_.port());
    EXPECT_EQ(AvailableUnits(fresh, kSku), kStock);
  }
};

struct BadBody {
  std::string name;
  std::string body;
};

// {"quantity":{"quantity":...1...}} with `depth` levels: valid JSON whose top-level quantity is
// an object. 1,200 levels stay under the 16 KiB body limit.
std::string NestedObjects(int depth) {
  std::string json;
  for (int i = 0; i < depth; ++i) json += R"({"quantity":)";
  json += "1";
  for (int i = 0; i < depth; ++i) json += "}";
  return json;
}

TEST_F(BadInputTest, ReserveBodiesThatAreNotValidRequests) {
  const std::vector<BadBody> cases = {
      {"truncated JSON", R"({"quantity":1)"},
      {"not JSON", "quantity=1"},
      {"trailing garbage", R"({"quantity":1} x)"},
      {"array", "[1]"},
      {"number", "1"},
      {"string", R"("quantity")"},
      {"null", "null"},
      {"quantity as string", R"({"quantity":"1"})"},
      {"quantity as float", R"({"quantity":1.5})"},
      {"quantity as bool", R"({"quantity":true})"},
      {"quantity as object", R"({"quantity":{"n":1}})"},
      {"quantity as array", R"({"quantity":[1]})"},
      {"zero quantity", R"({"quantity":0})"},
      {"negative quantity", R"({"quantity":-1})"},
      {"huge quantity", R"({"quantity":1000000})"},
      {"quantity beyond int64", R"({"quantity":99999999999999999999999})"},
      {"quantity beyond int32", R"({"quantity":4294967297})"},
      {"idempotency_key as number", R"({"quantity":1,"idempotency_key":7})"},
      // Nesting within the body limit must not exhaust a recursive parser's stack.
      {"deeply nested arrays, unterminated", std::string(16'000, '[')},
      {"deeply nested arrays", std::string(8'000, '[') + std::string(8'000, ']')},
      {"deeply nested objects", NestedObjects(1'200)},
      {"idempotency_key too long",
       R"({"quantity":1,"idempotency_key":")" + std::string(300, 'k') + "\"}"},
  };
  const HttpHeaders auth = UserAuth("alice");
  for (const BadBody& bad : cases) {
    SCOPED_TRACE(bad.name);
    EXPECT_TRUE(IsError(client().Post("/api/v1/products/input/reserve", bad.body, auth), 400,
                        "INVALID_REQUEST"));
    ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
  }
  EXPECT_TRUE(ReadSku(kSku).rows.empty());
}

TEST_F(BadInputTest, BodyRouteNeedsAValidSkuId) {
  const std::vector<BadBody> cases = {
      {"missing sku_id", R"({"quantity":1})"},
      {"sku_id as number", R"({"sku_id":5,"quantity":1})"},
      {"sku_id null", R"({"sku_id":null,"quantity":1})"},
      {"empty sku_id", R"({"sku_id":"","quantity":1})"},
      {"quantity as string", R"({"sku_id":"input","quantity":"2"})"},
      {"negative quantity", R"({"sku_id":"input","quantity":-3})"},
      {"malformed", R"({"sku_id":"input",)"},
  };
  const HttpHeaders auth = UserAuth("alice");
  for (const BadBody& bad : cases) {
    SCOPED_TRACE(bad.name);
    EXPECT_TRUE(IsError(client().Post("/api/v1/reserve", bad.body, auth), 400, "INVALID_REQUEST"));
    ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
  }
  EXPECT_TRUE(ReadSku(kSku).rows.empty());
}

// RFC 9112 3.2: an HTTP/1.1 request without Host is a 400; HTTP/1.0 needs none.
TEST_F(BadInputTest, Http11WithoutHostIs400) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Send("GET /healthz HTTP/1.1\r\n\r\n"));
  const RawRead read = raw.ReadResponse(kRawReadTimeout);
  EXPECT_EQ(ParseRawStatus(read.bytes), 400) << read.bytes;
  EXPECT_NE(read.bytes.find("INVALID_REQUEST"), std::string::npos) << read.bytes;
  RawConnection old(server_.port());
  ASSERT_TRUE(old.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(ParseRawStatus(old.ReadResponse(kRawReadTimeout).bytes), 200);
}

TEST_F(BadInputTest, IdempotencyKeyHeaderTooLong) {
  HttpHeaders headers = UserAuth("alice");
  headers.push_back({"Idempotency-Key", std::string(300, 'k')});
  EXPECT_TRUE(IsError(client().Post("/api/v1/products/input/reserve", R"({"quantity":1})", headers),
                      400, "INVALID_REQUEST"));
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

TEST_F(BadInputTest, MissingQuantityMeansOneAndUnknownFieldsAreIgnored) {
  const HttpHeaders auth = UserAuth("alice");
  const HttpResponse defaulted = client().Post("/api/v1/products/input/reserve", "{}", auth);
  ASSERT_EQ(defaulted.status, 201) << defaulted.Describe();
  const auto first = ParseReservation(defaulted.body);
  ASSERT_TRUE(first) << defaulted.body;
  EXPECT_EQ(first->quantity, 1);

  const HttpResponse extra = client().Post(
      "/api/v1/products/input/reserve",
      R"({"quantity":2,"color":"red","nested":{"a":[1,2,{"b":null}]},"gift":true})", auth);
  ASSERT_EQ(extra.status, 201) << extra.Describe();
  const auto second = ParseReservation(extra.body);
  ASSERT_TRUE(second) << extra.body;
  EXPECT_EQ(second->quantity, 2);

  const HttpResponse body_route = client().Post(
      "/api/v1/reserve", R"({"sku_id":"input","unknown":[],"quantity":1})", UserAuth("bob"));
  ASSERT_EQ(body_route.status, 201) << body_route.Describe();

  EXPECT_EQ(AvailableUnits(client(), kSku), kStock - 4);
  const SkuSnapshot rows = ReadSku(kSku);
  EXPECT_EQ(rows.rows.size(), 3u);
  EXPECT_EQ(rows.held, 4);
}

TEST_F(BadInputTest, InvalidSaleDefinitions) {
  const std::string valid_tail =
      R"("name":"Cap","price_cents":100,"currency":"EUR","total_stock":5)";
  const std::vector<BadBody> cases = {
      {"malformed", R"({"sku_id":"x",)"},
      {"array", "[]"},
      {"missing sku_id", "{" + valid_tail + "}"},
      {"sku_id with a space", R"({"sku_id":"a b",)" + valid_tail + "}"},
      {"sku_id with a slash", R"({"sku_id":"a/b",)" + valid_tail + "}"},
      {"sku_id too long", R"({"sku_id":")" + std::string(65, 's') + "\"," + valid_tail + "}"},
      {"sku_id as number", R"({"sku_id":12,)" + valid_tail + "}"},
      {"total_stock negative",
       R"({"sku_id":"x","name":"Cap","price_cents":100,"currency":"EUR","total_stock":-1})"},
      {"total_stock as string",
       R"({"sku_id":"x","name":"Cap","price_cents":100,"currency":"EUR","total_stock":"5"})"},
      {"price_cents as string",
       R"({"sku_id":"x","name":"Cap","price_cents":"100","currency":"EUR","total_stock":5})"},
      {"price_cents as float",
       R"({"sku_id":"x","name":"Cap","price_cents":1.5,"currency":"EUR","total_stock":5})"},
      {"currency lowercase",
       R"({"sku_id":"x","name":"Cap","price_cents":100,"currency":"eur","total_stock":5})"},
      {"per_user_limit zero", R"({"sku_id":"x",)" + valid_tail + R"(,"per_user_limit":0})"},
      {"ttl zero", R"({"sku_id":"x",)" + valid_tail + R"(,"reservation_ttl_seconds":0})"},
      {"ttl as string", R"({"sku_id":"x",)" + valid_tail + R"(,"reservation_ttl_seconds":"60"})"},
      {"starts_at not a date", R"({"sku_id":"x",)" + valid_tail + R"(,"starts_at":"tomorrow"})"},
      {"starts_at as number", R"({"sku_id":"x",)" + valid_tail + R"(,"starts_at":1700000000})"},
      {"ends_at before starts_at",
       R"({"sku_id":"x",)" + valid_tail +
           R"(,"starts_at":"2030-01-02T00:00:00Z","ends_at":"2030-01-01T00:00:00Z"})"},
  };
  for (const BadBody& bad : cases) {
    SCOPED_TRACE(bad.name);
    EXPECT_TRUE(
        IsError(client().Post("/admin/v1/skus", bad.body, AdminAuth()), 400, "INVALID_REQUEST"));
  }
  // None of them created a sale.
  EXPECT_TRUE(IsError(client().Get("/api/v1/products/x"), 404, "SKU_NOT_FOUND"));
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

TEST_F(BadInputTest, BodyOver16KiBIsRefused) {
  const std::string padding(17 * 1024, 'p');
  const std::string body = R"({"quantity":1,"padding":")" + padding + "\"}";
  EXPECT_TRUE(IsError(client().Post("/api/v1/products/input/reserve", body, UserAuth("alice")), 413,
                      "PAYLOAD_TOO_LARGE"));
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());

  // Just under the limit is fine (unknown fields are ignored).
  const std::string fits = R"({"quantity":1,"padding":")" + std::string(15 * 1024, 'p') + "\"}";
  HttpClient fresh(server_.port());
  const HttpResponse accepted =
      fresh.Post("/api/v1/products/input/reserve", fits, UserAuth("alice"));
  EXPECT_EQ(accepted.status, 201) << accepted.Describe();

  EXPECT_TRUE(IsError(fresh.Post("/admin/v1/skus", body, AdminAuth()), 413, "PAYLOAD_TOO_LARGE"));
}

TEST_F(BadInputTest, RequestsHiddenInARefusedBodyAreNotServed) {
  // The bytes of a body that was refused must never be parsed as further requests: a reserve
  // smuggled inside an oversized body would otherwise run.
  const std::string smuggled =
      "POST /api/v1/products/input/reserve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      MintToken("smuggler") +
      "\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"quantity\":1}";
  std::string body;
  while (body.size() < 20 * 1024) body += smuggled;
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  raw.Send("POST /api/v1/products/input/reserve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           MintToken("alice") + "\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body);
  const RawRead read = raw.ReadUntilClosed(kRawReadTimeout);
  EXPECT_FALSE(read.timed_out) << "the connection stayed open after a 413";
  EXPECT_EQ(ParseRawStatus(read.bytes), 413) << read.bytes.substr(0, 300);
  EXPECT_EQ(read.bytes.find("HTTP/1.1 201"), std::string::npos) << "a smuggled request ran";
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
  EXPECT_TRUE(ReadSku(kSku).rows.empty());
}

TEST_F(BadInputTest, DeclaredHugeBodyIsRefusedWithoutWaitingForIt) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Send(
      "POST /api/v1/products/input/reserve HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer " +
      MintToken("alice") +
      "\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{\"quantity\":1"));
  const RawRead read = raw.ReadResponse(kRawReadTimeout);
  EXPECT_EQ(ParseRawStatus(read.bytes), 413) << read.bytes;
  EXPECT_NE(read.bytes.find("PAYLOAD_TOO_LARGE"), std::string::npos) << read.bytes;
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

TEST_F(BadInputTest, UnknownRoutesAndWrongMethods) {
  // ("/" is the storefront page.)
  for (const char* target : {"/index.htm", "/api", "/api/v1/nope", "/api/v2/products/input",
                             "/api/v1/products/input/reserve/extra", "/admin/v1/nope",
                             "/api/v1/products/", "/metricsx"}) {
    SCOPED_TRACE(target);
    EXPECT_TRUE(IsError(client().Get(target), 404, "NOT_FOUND"));
  }
  EXPECT_TRUE(IsError(client().Post("/api/v1/nope", "{}", UserAuth("alice")), 404, "NOT_FOUND"));

  struct WrongMethod {
    std::string method;
    std::string target;
  };
  const std::vector<WrongMethod> wrong = {
      {"GET", "/api/v1/products/input/reserve"},
      {"PUT", "/api/v1/products/input/reserve"},
      {"GET", "/api/v1/reserve"},
      {"DELETE", "/api/v1/products/input"},
      {"POST", "/api/v1/products/input/availability"},
      {"PATCH", "/api/v1/reservations/abc"},
      {"POST", "/api/v1/reservations/abc"},
      {"GET", "/admin/v1/skus"},
      {"DELETE", "/admin/v1/skus/input"},
      {"POST", "/healthz"},
      {"POST", "/metrics"},
  };
  for (const WrongMethod& request : wrong) {
    SCOPED_TRACE(request.method + " " + request.target);
    const std::string body = request.method == "GET" || request.method == "DELETE" ? "" : "{}";
    HttpHeaders headers = UserAuth("alice");
    EXPECT_TRUE(IsError(client().Send({request.method, request.target, body, headers}), 405,
                        "METHOD_NOT_ALLOWED"));
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
  EXPECT_TRUE(ReadSku(kSku).rows.empty());
}

// The answer to a raw request that cannot be served: a 4xx response and/or a closed
// connection, never a success and never a hang.
void ExpectRefusedOrClosed(RawConnection& raw, std::string_view request) {
  // The server may close before taking every byte; a failed send is a refusal too.
  raw.Send(request);
  const RawRead read = raw.ReadResponse(kRawReadTimeout);
  EXPECT_FALSE(read.timed_out) << "the server neither answered nor closed; got: " << read.bytes;
  if (!read.bytes.empty()) {
    const int status = ParseRawStatus(read.bytes);
    EXPECT_GE(status, 400) << read.bytes.substr(0, 300);
    EXPECT_LT(status, 500) << read.bytes.substr(0, 300);
  }
}

TEST_F(BadInputTest, HugeHeaderIsRefused) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ExpectRefusedOrClosed(raw, "GET /api/v1/products/input HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                 std::string(256 * 1024, 'h') + "\r\n\r\n");
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

// The 8 KiB limit is exact: request line, fields and the blank line together.
TEST_F(BadInputTest, HeaderBlockLimitIsExact) {
  const auto request_of = [](std::size_t total_bytes) {
    const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    const std::string tail = "\r\n\r\n";
    return head + std::string(total_bytes - head.size() - tail.size(), 'p') + tail;
  };
  RawConnection at_limit(server_.port());
  ASSERT_TRUE(at_limit.Send(request_of(8192)));
  EXPECT_EQ(ParseRawStatus(at_limit.ReadResponse(kRawReadTimeout).bytes), 200);
  for (const std::size_t over : {std::size_t{8193}, std::size_t{8476}}) {
    RawConnection raw(server_.port());
    ASSERT_TRUE(raw.Send(request_of(over)));
    const RawRead read = raw.ReadResponse(kRawReadTimeout);
    EXPECT_EQ(ParseRawStatus(read.bytes), 431) << over << " bytes: " << read.bytes;
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

TEST_F(BadInputTest, ManyHeadersAreRefused) {
  std::string request = "GET /api/v1/products/input HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 5000; ++i) request += "X-H" + std::to_string(i) + ": v\r\n";
  request += "\r\n";
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ExpectRefusedOrClosed(raw, request);
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

TEST_F(BadInputTest, HugeUrlIsRefused) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ExpectRefusedOrClosed(
      raw, "GET /api/v1/products/" + std::string(128 * 1024, 'u') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

TEST_F(BadInputTest, GarbageBytesAreRefused) {
  std::string binary;
  std::uint32_t state = 12345;
  for (int i = 0; i < 4096; ++i) {
    state = state * 1664525u + 1013904223u;
    binary.push_back(static_cast<char>(state >> 24));
  }
  const std::vector<std::string> garbage = {
      "HELLO\r\n\r\n",
      "GET\r\n\r\n",
      "POST /api/v1/reserve HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
      "POST /api/v1/reserve HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /api/v1/reserve HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 20),
      binary,
  };
  for (std::size_t i = 0; i < garbage.size(); ++i) {
    SCOPED_TRACE("garbage case " + std::to_string(i));
    RawConnection raw(server_.port());
    ASSERT_TRUE(raw.connected());
    ExpectRefusedOrClosed(raw, garbage[i]);
    ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
  }
  EXPECT_TRUE(ReadSku(kSku).rows.empty());
}

TEST_F(BadInputTest, ChunkedBodyOver16KiBIsRefused) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  std::string request =
      "POST /api/v1/products/input/reserve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      MintToken("alice") + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(4096, ' ');
  for (int i = 0; i < 8; ++i) request += "1000\r\n" + chunk + "\r\n";
  request += "0\r\n\r\n";
  raw.Send(request);
  const RawRead read = raw.ReadResponse(kRawReadTimeout);
  EXPECT_FALSE(read.timed_out) << read.bytes;
  EXPECT_EQ(ParseRawStatus(read.bytes), 413) << read.bytes.substr(0, 300);
  ASSERT_NO_FATAL_FAILURE(ExpectAliveAndUnchanged());
}

ServerOptions ShortIdleTimeout() {
  ServerOptions options;
  options.extra_args = {"--idle-timeout-seconds", "1"};
  return options;
}

// Idle and slow clients, with a 1 s idle timeout so the tests stay fast.
class SlowClientTest : public ServerTest {
 protected:
  SlowClientTest() : ServerTest(ShortIdleTimeout()) {}
};

// The server gives up on a connection well within this bound after a 1 s idle timeout.
constexpr milliseconds kDisconnectBound{6'000};

TEST_F(SlowClientTest, HalfARequestIsDisconnected) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(
      raw.Send("POST /api/v1/reserve HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
               "{\"qu"));
  const RawRead read = raw.ReadUntilClosed(kDisconnectBound);
  EXPECT_TRUE(read.closed) << "a half request kept the connection open; got: " << read.bytes;
  EXPECT_TRUE(ServerAlive(server_.port()));
}

TEST_F(SlowClientTest, HalfAHeaderIsDisconnected) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Send("GET /api/v1/products/x HTTP/1.1\r\nHost: x\r\nX-Partial: abc"));
  const RawRead read = raw.ReadUntilClosed(kDisconnectBound);
  EXPECT_TRUE(read.closed) << "a half header kept the connection open; got: " << read.bytes;
  EXPECT_TRUE(ServerAlive(server_.port()));
}

TEST_F(SlowClientTest, SilentConnectionIsDisconnected) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  const RawRead read = raw.ReadUntilClosed(kDisconnectBound);
  EXPECT_TRUE(read.closed) << "a silent client kept the connection open";
}

TEST_F(SlowClientTest, IdleKeepAliveConnectionIsDisconnected) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const RawRead first = raw.ReadResponse(kRawReadTimeout);
  ASSERT_EQ(ParseRawStatus(first.bytes), 200) << first.bytes;
  const RawRead rest = raw.ReadUntilClosed(kDisconnectBound);
  EXPECT_TRUE(rest.closed) << "an idle keep-alive connection stayed open";
}

TEST_F(SlowClientTest, TricklingClientIsDisconnected) {
  // One byte every 100 ms never completes a request: a slowloris. The idle timeout must
  // bound the whole request, not just the gap between bytes.
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 's') + "\r\n\r\n";
  const auto deadline = std::chrono::steady_clock::now() + kDisconnectBound;
  bool closed = false;
  for (std::size_t i = 0; i < request.size() && std::chrono::steady_clock::now() < deadline; ++i) {
    if (!raw.Send(request.substr(i, 1))) {
      closed = true;
      break;
    }
    const RawRead read = raw.ReadUntilClosed(milliseconds(100));
    if (read.closed) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed) << "a client trickling one byte per 100 ms was never disconnected";
  EXPECT_TRUE(ServerAlive(server_.port()));
}

TEST_F(SlowClientTest, ActiveClientsAreNotDisconnected) {
  // Requests spaced below the idle timeout keep one connection alive.
  HttpClient active(server_.port());
  for (int i = 0; i < 4; ++i) {
    const HttpResponse response = active.Get("/healthz");
    ASSERT_EQ(response.status, 200) << response.Describe();
    std::this_thread::sleep_for(milliseconds(300));
  }
  EXPECT_EQ(active.connect_count(), 1);
}

// One client address holds at most --max-connections-per-ip connections: the next one is
// closed at once, without an answer, and a slot freed by a client is used again.
class ConnectionsPerIpTest : public ServerTest {
 protected:
  ConnectionsPerIpTest() : ServerTest(PerIpCap()) {}
  static ServerOptions PerIpCap() {
    ServerOptions options;
    options.extra_args = {"--max-connections-per-ip", "3"};
    return options;
  }
};

TEST_F(ConnectionsPerIpTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
  // Six connections from 127.0.0.1, each kept open: at most three are answered (the test's
  // own client may hold one slot), the others are closed without a byte.
  std::vector<std::unique_ptr<RawConnection>> held;
  int served = 0;
  int closed_unanswered = 0;
  for (int i = 0; i < 6; ++i) {
    held.push_back(std::make_unique<RawConnection>(server_.port()));
    held.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const RawRead read = held.back()->ReadResponse(kRawReadTimeout);
    if (ParseRawStatus(read.bytes) == 200) {
      ++served;
    } else if (read.bytes.empty()) {
      ++closed_unanswered;
    }
  }
  EXPECT_GE(served, 2);
  EXPECT_LE(served, 3);
  EXPECT_EQ(served + closed_unanswered, 6);
  // Freed slots are taken again: the server notices a close asynchronously, so a new
  // connection is tried a bounded number of times.
  held.clear();
  bool again_served = false;
  for (int attempt = 0; attempt < 100 && !again_served; ++attempt) {
    RawConnection again(server_.port());
    again.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    again_served = ParseRawStatus(again.ReadResponse(kRawReadTimeout).bytes) == 200;
  }
  EXPECT_TRUE(again_served);
}

}  // namespace
}  // namespace fs::itest
