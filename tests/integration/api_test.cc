// Goal: the public HTTP contract, end to end against the real server binary:
// sale creation and admin auth, product and availability reads, both reserve routes with
// their body fields and types, reading and releasing reservations (owner only), every
// business error code of reserve, and the health, readiness and metrics endpoints.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

class ApiTest : public ServerTest {};

SaleSpec OpenSale(std::string sku_id, std::int64_t total_stock = 10) {
  SaleSpec sale;
  sale.sku_id = std::move(sku_id);
  sale.total_stock = total_stock;
  return sale;
}

TEST_F(ApiTest, CreateSaleEchoesFieldsAndRejectsDuplicates) {
  SaleSpec sale = OpenSale("sneaker-1", 25);
  sale.name = "Sneaker \"One\" \xc3\xa9";
  sale.price_cents = 4999;
  sale.currency = "USD";
  sale.per_user_limit = 2;
  sale.reservation_ttl_seconds = 300;
  sale.starts_at = "2020-01-01T00:00:00.000Z";
  sale.ends_at = "2099-01-01T00:00:00.000Z";

  const HttpResponse created = CreateSale(client(), sale);
  ASSERT_EQ(created.status, 201) << created.Describe();
  const auto body = ParseJson(created.body);
  ASSERT_TRUE(body && body->IsObject()) << created.body;
  EXPECT_EQ(StringField(*body, "sku_id"), "sneaker-1");
  EXPECT_EQ(StringField(*body, "name"), sale.name);
  EXPECT_EQ(IntField(*body, "price_cents"), 4999);
  EXPECT_EQ(StringField(*body, "currency"), "USD");
  EXPECT_EQ(IntField(*body, "total_stock"), 25);
  EXPECT_EQ(IntField(*body, "per_user_limit"), 2);
  EXPECT_EQ(IntField(*body, "reservation_ttl_seconds"), 300);
  const auto starts_at = StringField(*body, "starts_at");
  const auto ends_at = StringField(*body, "ends_at");
  ASSERT_TRUE(starts_at && ends_at) << created.body;
  EXPECT_EQ(ParseTime(*starts_at), ParseTime(*sale.starts_at));
  EXPECT_EQ(ParseTime(*ends_at), ParseTime(*sale.ends_at));
  EXPECT_EQ(StringField(*body, "status"), "OPEN");

  // A repeat, even with other fields, is refused and changes nothing.
  SaleSpec again = sale;
  again.total_stock = 1;
  EXPECT_TRUE(IsError(CreateSale(client(), again), 409, "SKU_EXISTS"));
  const auto counters = GetAdminCounters(client(), "sneaker-1");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->total_stock, 25);
  EXPECT_EQ(counters->available, 25);
  EXPECT_EQ(counters->reserved, 0);
  EXPECT_EQ(counters->sold, 0);
  EXPECT_EQ(counters->status, "OPEN");
}

TEST_F(ApiTest, CreateSaleAppliesDefaults) {
  const std::string body =
      R"({"sku_id":"defaults","name":"Cap","price_cents":1500,"currency":"EUR",)"
      R"("total_stock":3})";
  const HttpResponse created = client().Post("/admin/v1/skus", body, AdminAuth());
  ASSERT_EQ(created.status, 201) << created.Describe();
  const auto json = ParseJson(created.body);
  ASSERT_TRUE(json);
  EXPECT_EQ(IntField(*json, "per_user_limit"), 1);
  EXPECT_EQ(IntField(*json, "reservation_ttl_seconds"), 120);
  EXPECT_EQ(StringField(*json, "status"), "OPEN");
  // Absent times are either left out or null.
  for (const char* field : {"starts_at", "ends_at"}) {
    const auto member = json->FindMember(field);
    if (member != json->MemberEnd()) {
      EXPECT_TRUE(member->value.IsNull()) << field;
    }
  }
}

TEST_F(ApiTest, AdminEndpointsRequireTheAdminToken) {
  const SaleSpec sale = OpenSale("admin-auth");
  const std::string body = sale.ToJson();
  const HttpHeaders wrong_token = {{"Authorization", "Bearer not-the-admin-token"}};
  const HttpHeaders user_jwt = UserAuth("alice");
  const HttpHeaders not_bearer = {{"Authorization", std::string("Basic ") + kAdminToken}};

  EXPECT_TRUE(IsError(client().Post("/admin/v1/skus", body), 401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(client().Post("/admin/v1/skus", body, wrong_token), 401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(client().Post("/admin/v1/skus", body, user_jwt), 401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(client().Post("/admin/v1/skus", body, not_bearer), 401, "UNAUTHENTICATED"));
  // None of them created the sale.
  EXPECT_TRUE(IsError(client().Get("/api/v1/products/admin-auth"), 404, "SKU_NOT_FOUND"));

  ASSERT_TRUE(CreateSaleOk(client(), sale));
  EXPECT_TRUE(IsError(client().Get("/admin/v1/skus/admin-auth"), 401, "UNAUTHENTICATED"));
  EXPECT_TRUE(
      IsError(client().Get("/admin/v1/skus/admin-auth", wrong_token), 401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(client().Get("/admin/v1/skus/admin-auth", user_jwt), 401, "UNAUTHENTICATED"));
  EXPECT_EQ(client().Get("/admin/v1/skus/admin-auth", AdminAuth()).status, 200);
  EXPECT_TRUE(IsError(client().Get("/admin/v1/skus/nope", AdminAuth()), 404, "SKU_NOT_FOUND"));
}

TEST_F(ApiTest, ProductAndAvailabilityReads) {
  SaleSpec sale = OpenSale("hoodie", 7);
  sale.price_cents = 5900;
  ASSERT_TRUE(CreateSaleOk(client(), sale));

  const HttpResponse product = client().Get("/api/v1/products/hoodie");
  ASSERT_EQ(product.status, 200) << product.Describe();
  EXPECT_NE(product.Header("Content-Type").value_or("").find("application/json"),
            std::string::npos);
  const auto json = ParseJson(product.body);
  ASSERT_TRUE(json && json->IsObject()) << product.body;
  EXPECT_EQ(StringField(*json, "sku_id"), "hoodie");
  EXPECT_EQ(StringField(*json, "name"), sale.name);
  EXPECT_EQ(IntField(*json, "price_cents"), 5900);
  EXPECT_EQ(StringField(*json, "currency"), "EUR");
  EXPECT_EQ(IntField(*json, "available"), 7);
  EXPECT_EQ(StringField(*json, "status"), "OPEN");

  const HttpResponse availability = client().Get("/api/v1/products/hoodie/availability");
  ASSERT_EQ(availability.status, 200) << availability.Describe();
  const auto counts = ParseJson(availability.body);
  ASSERT_TRUE(counts && counts->IsObject()) << availability.body;
  EXPECT_EQ(StringField(*counts, "sku_id"), "hoodie");
  EXPECT_EQ(IntField(*counts, "available"), 7);
  EXPECT_EQ(StringField(*counts, "status"), "OPEN");

  EXPECT_TRUE(IsError(client().Get("/api/v1/products/missing"), 404, "SKU_NOT_FOUND"));
  EXPECT_TRUE(IsError(client().Get("/api/v1/products/missing/availability"), 404, "SKU_NOT_FOUND"));
  // A query string does not change the route.
  EXPECT_EQ(client().Get("/api/v1/products/hoodie/availability?nocache=1").status, 200);
  // Reads need no auth and keep the connection alive.
  EXPECT_EQ(client().connect_count(), 1);
}

// HEAD on a GET route: the GET's status and headers (Content-Length of the GET's body), no
// body, and the keep-alive connection goes on; HEAD on a POST-only route is 405.
TEST_F(ApiTest, HeadAnswersLikeGetWithoutABody) {
  ASSERT_TRUE(CreateSaleOk(client(), BigSale("head")));
  for (const std::string target : {"/api/v1/products/head/availability", "/api/v1/products/head",
                                   "/healthz", "/api/v1/products/no-such-sku"}) {
    SCOPED_TRACE(target);
    const HttpResponse get = client().Get(target);
    HttpRequest request;
    request.method = "HEAD";
    request.target = target;
    const HttpResponse head = client().Send(request);
    EXPECT_EQ(head.status, get.status);
    EXPECT_TRUE(head.body.empty()) << head.body;
    EXPECT_EQ(head.Header("Content-Length"), std::to_string(get.body.size()));
    EXPECT_EQ(head.Header("Content-Type"), get.Header("Content-Type"));
  }
  EXPECT_EQ(client().Get("/healthz").status, 200);  // the connection went on
  EXPECT_EQ(client().connect_count(), 1);
  HttpRequest post_only;
  post_only.method = "HEAD";
  post_only.target = "/api/v1/products/head/reserve";
  const HttpResponse refused = client().Send(post_only);
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(refused.Header("Allow"), "POST");
}

TEST_F(ApiTest, PipelinedRequestsAreAnsweredInOrder) {
  ASSERT_TRUE(CreateSaleOk(client(), OpenSale("pipe", 5)));
  const std::string token = MintToken("alice");
  std::string requests;
  requests += "GET /api/v1/products/pipe/availability HTTP/1.1\r\nHost: x\r\n\r\n";
  requests += "POST /api/v1/products/pipe/reserve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              token +
              "\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"quantity\":1}";
  requests += "GET /api/v1/products/pipe/availability HTTP/1.1\r\nHost: x\r\n\r\n";
  requests += "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Send(requests));
  const RawRead read = raw.ReadUntilClosed(seconds(5));
  EXPECT_TRUE(read.closed) << "Connection: close was not honoured";
  // Four responses, in request order.
  std::vector<int> statuses;
  for (std::size_t at = read.bytes.find("HTTP/1.1 "); at != std::string::npos;
       at = read.bytes.find("HTTP/1.1 ", at + 1)) {
    statuses.push_back(ParseRawStatus(std::string_view(read.bytes).substr(at)));
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 201, 200, 404})) << read.bytes;
  const std::size_t first = read.bytes.find("\"available\":5");
  const std::size_t second = read.bytes.find("\"available\":4");
  EXPECT_NE(first, std::string::npos) << read.bytes;
  EXPECT_NE(second, std::string::npos) << read.bytes;
  EXPECT_LT(first, second);
}

TEST_F(ApiTest, ReserveThroughBothRoutes) {
  SaleSpec sale = OpenSale("tee", 10);
  sale.per_user_limit = 5;
  sale.reservation_ttl_seconds = 90;
  ASSERT_TRUE(CreateSaleOk(client(), sale));

  const auto before = system_clock::now();
  const HttpResponse first =
      Reserve(client(), ReserveRequest().Sku("tee").User("alice").Quantity(2));
  const auto after = system_clock::now();
  ASSERT_EQ(first.status, 201) << first.Describe();
  const auto json = ParseJson(first.body);
  ASSERT_TRUE(json && json->IsObject()) << first.body;
  ASSERT_TRUE((*json)["reservation_id"].IsString()) << first.body;
  ASSERT_TRUE((*json)["quantity"].IsInt()) << first.body;
  const auto reservation = ParseReservation(first.body);
  ASSERT_TRUE(reservation) << first.body;
  EXPECT_FALSE(reservation->reservation_id.empty());
  EXPECT_EQ(reservation->sku_id, "tee");
  EXPECT_EQ(reservation->user_id, "alice");
  EXPECT_EQ(reservation->quantity, 2);
  EXPECT_EQ(reservation->status, "RESERVED");
  // RFC 3339 in UTC, about now + ttl.
  EXPECT_EQ(reservation->expires_at.back(), 'Z') << reservation->expires_at;
  const auto expires_at = ParseTime(reservation->expires_at);
  ASSERT_TRUE(expires_at) << reservation->expires_at;
  EXPECT_GE(*expires_at, before + seconds(90) - seconds(1));
  EXPECT_LE(*expires_at, after + seconds(90) + seconds(1));

  // The committed state is visible to readers right after the 201.
  EXPECT_EQ(AvailableUnits(client(), "tee"), 8);

  const HttpResponse second = Reserve(
      client(), ReserveRequest().Sku("tee").User("bob").Quantity(3).Via(ReserveRoute::kBody));
  ASSERT_EQ(second.status, 201) << second.Describe();
  const auto other = ParseReservation(second.body);
  ASSERT_TRUE(other) << second.body;
  EXPECT_EQ(other->sku_id, "tee");
  EXPECT_EQ(other->user_id, "bob");
  EXPECT_EQ(other->quantity, 3);
  EXPECT_EQ(other->status, "RESERVED");
  EXPECT_NE(other->reservation_id, reservation->reservation_id);

  const auto counters = GetAdminCounters(client(), "tee");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->available, 5);
  EXPECT_EQ(counters->reserved, 5);
  EXPECT_EQ(counters->sold, 0);

  const SkuSnapshot rows = ReadSku("tee");
  EXPECT_EQ(rows.held, 5);
  EXPECT_EQ(rows.RowCount(kStatusReserved), 2);
  ASSERT_TRUE(rows.rows.contains(reservation->reservation_id));
  EXPECT_EQ(rows.rows.at(reservation->reservation_id).user_id, "alice");
  EXPECT_EQ(rows.rows.at(reservation->reservation_id).quantity, 2);
  EXPECT_EQ(rows.rows.at(reservation->reservation_id).expires_at_ms, ToUnixMillis(*expires_at));
}

TEST_F(ApiTest, ReservationIsVisibleToItsOwnerOnly) {
  ASSERT_TRUE(CreateSaleOk(client(), OpenSale("owner")));
  const HttpResponse reserved = Reserve(client(), ReserveRequest().Sku("owner").User("alice"));
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  const auto reservation = ParseReservation(reserved.body);
  ASSERT_TRUE(reservation);

  const HttpResponse mine = GetReservation(client(), reservation->reservation_id, "alice");
  ASSERT_EQ(mine.status, 200) << mine.Describe();
  const auto read = ParseReservation(mine.body);
  ASSERT_TRUE(read) << mine.body;
  EXPECT_EQ(read->reservation_id, reservation->reservation_id);
  EXPECT_EQ(read->sku_id, "owner");
  EXPECT_EQ(read->user_id, "alice");
  EXPECT_EQ(read->quantity, 1);
  EXPECT_EQ(read->status, "RESERVED");
  EXPECT_EQ(ParseTime(read->expires_at), ParseTime(reservation->expires_at));

  EXPECT_TRUE(IsError(GetReservation(client(), reservation->reservation_id, "mallory"), 404,
                      "RESERVATION_NOT_FOUND"));
  EXPECT_TRUE(IsError(GetReservation(client(), "no-such-reservation", "alice"), 404,
                      "RESERVATION_NOT_FOUND"));
  EXPECT_TRUE(IsError(client().Get("/api/v1/reservations/" + reservation->reservation_id), 401,
                      "UNAUTHENTICATED"));
}

TEST_F(ApiTest, DeleteReleasesAtOnceForTheOwnerOnly) {
  ASSERT_TRUE(CreateSaleOk(client(), OpenSale("release", 1)));
  const HttpResponse reserved = Reserve(client(), ReserveRequest().Sku("release").User("alice"));
  ASSERT_EQ(reserved.status, 201) << reserved.Describe();
  const auto reservation = ParseReservation(reserved.body);
  ASSERT_TRUE(reservation) << reserved.body;
  const std::string id = reservation->reservation_id;
  EXPECT_EQ(AvailableUnits(client(), "release"), 0);
  const auto sold_out = GetAvailability(client(), "release");
  ASSERT_TRUE(sold_out);
  EXPECT_EQ(sold_out->status, "SOLD_OUT");

  // Someone else cannot release it, nor learn that it exists.
  EXPECT_TRUE(IsError(ReleaseReservation(client(), id, "mallory"), 404, "RESERVATION_NOT_FOUND"));
  EXPECT_EQ(AvailableUnits(client(), "release"), 0);

  const HttpResponse released = ReleaseReservation(client(), id, "alice");
  ASSERT_EQ(released.status, 200) << released.Describe();
  const auto body = ParseReservation(released.body);
  ASSERT_TRUE(body) << released.body;
  EXPECT_EQ(body->reservation_id, id);
  EXPECT_EQ(body->status, "RELEASED");
  // Stock is back at once: the very next read sees it.
  const auto availability = GetAvailability(client(), "release");
  ASSERT_TRUE(availability);
  EXPECT_EQ(availability->available, 1);
  EXPECT_EQ(availability->status, "OPEN");

  // Releasing again is fine and stays RELEASED.
  const HttpResponse again = ReleaseReservation(client(), id, "alice");
  ASSERT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(ReservationStatusOf(again), "RELEASED");
  EXPECT_EQ(ReservationStatusOf(GetReservation(client(), id, "alice")), "RELEASED");

  // The released unit no longer counts toward alice's limit.
  EXPECT_EQ(Reserve(client(), ReserveRequest().Sku("release").User("alice")).status, 201);

  const SkuSnapshot rows = ReadSku("release");
  EXPECT_EQ(rows.held, 1);
  EXPECT_EQ(rows.RowCount(kStatusReleased), 1);
  EXPECT_EQ(rows.RowCount(kStatusReserved), 1);
  ASSERT_TRUE(rows.rows.contains(id));
  EXPECT_EQ(rows.rows.at(id).status, kStatusReleased);
}

TEST_F(ApiTest, LimitExceededAndSoldOut) {
  SaleSpec sale = OpenSale("limited", 3);
  sale.per_user_limit = 2;
  ASSERT_TRUE(CreateSaleOk(client(), sale));

  EXPECT_TRUE(IsError(Reserve(client(), ReserveRequest().Sku("limited").User("greedy").Quantity(3)),
                      409, "LIMIT_EXCEEDED"));
  EXPECT_EQ(Reserve(client(), ReserveRequest().Sku("limited").User("alice").Quantity(2)).status,
            201);
  EXPECT_TRUE(IsError(Reserve(client(), ReserveRequest().Sku("limited").User("alice")), 409,
                      "LIMIT_EXCEEDED"));
  EXPECT_TRUE(IsError(
      Reserve(client(), ReserveRequest().Sku("limited").User("alice").Via(ReserveRoute::kBody)),
      409, "LIMIT_EXCEEDED"));
  // One unit left: two is too many, one is fine, then it is sold out.
  EXPECT_TRUE(IsError(Reserve(client(), ReserveRequest().Sku("limited").User("bob").Quantity(2)),
                      409, "SOLD_OUT"));
  EXPECT_EQ(Reserve(client(), ReserveRequest().Sku("limited").User("bob")).status, 201);
  EXPECT_TRUE(
      IsError(Reserve(client(), ReserveRequest().Sku("limited").User("carol")), 409, "SOLD_OUT"));
  EXPECT_TRUE(IsError(
      Reserve(client(), ReserveRequest().Sku("limited").User("carol").Via(ReserveRoute::kBody)),
      409, "SOLD_OUT"));

  const auto counters = GetAdminCounters(client(), "limited");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->available, 0);
  EXPECT_EQ(counters->reserved, 3);
  EXPECT_EQ(counters->status, "SOLD_OUT");
  const SkuSnapshot rows = ReadSku("limited");
  EXPECT_EQ(rows.held, 3);
  EXPECT_EQ(rows.rows.size(), 2u);
}

TEST_F(ApiTest, ReserveUnknownSku) {
  EXPECT_TRUE(IsError(Reserve(client(), ReserveRequest().Sku("ghost").User("alice")), 404,
                      "SKU_NOT_FOUND"));
  EXPECT_TRUE(IsError(
      Reserve(client(), ReserveRequest().Sku("ghost").User("alice").Via(ReserveRoute::kBody)), 404,
      "SKU_NOT_FOUND"));
}

TEST_F(ApiTest, SaleNotOpenBeforeItStarts) {
  SaleSpec sale = OpenSale("future");
  sale.starts_at = FormatTime(system_clock::now() + std::chrono::hours(1));
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  const auto availability = GetAvailability(client(), "future");
  ASSERT_TRUE(availability);
  EXPECT_EQ(availability->status, "SCHEDULED");
  EXPECT_TRUE(IsError(Reserve(client(), ReserveRequest().Sku("future").User("alice")), 409,
                      "SALE_NOT_OPEN"));
  EXPECT_TRUE(IsError(
      Reserve(client(), ReserveRequest().Sku("future").User("alice").Via(ReserveRoute::kBody)), 409,
      "SALE_NOT_OPEN"));
  EXPECT_EQ(AvailableUnits(client(), "future"), 10);
  EXPECT_TRUE(ReadSku("future").rows.empty());
}

TEST_F(ApiTest, ScheduledSaleOpensAtStartsAt) {
  SaleSpec sale = OpenSale("opening");
  const auto starts_at = system_clock::now() + milliseconds(3000);
  sale.starts_at = FormatTime(starts_at);
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  EXPECT_TRUE(IsError(Reserve(client(), ReserveRequest().Sku("opening").User("early-bird")), 409,
                      "SALE_NOT_OPEN"));

  const auto deadline = std::chrono::steady_clock::now() + seconds(8);
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto availability = GetAvailability(client(), "opening");
    ASSERT_TRUE(availability);
    status = availability->status;
    if (status == "OPEN") break;
    EXPECT_EQ(status, "SCHEDULED");
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(status, "OPEN");
  EXPECT_GE(system_clock::now(), starts_at);
  EXPECT_EQ(Reserve(client(), ReserveRequest().Sku("opening").User("early-bird")).status, 201);
}

TEST_F(ApiTest, SaleWithoutStockIsSoldOut) {
  ASSERT_TRUE(CreateSaleOk(client(), OpenSale("empty", 0)));
  const auto availability = GetAvailability(client(), "empty");
  ASSERT_TRUE(availability);
  EXPECT_EQ(availability->available, 0);
  EXPECT_EQ(availability->status, "SOLD_OUT");
  EXPECT_TRUE(
      IsError(Reserve(client(), ReserveRequest().Sku("empty").User("alice")), 409, "SOLD_OUT"));
}

TEST_F(ApiTest, Http10RequestIsAnsweredAndClosed) {
  RawConnection raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  const RawRead read = raw.ReadUntilClosed(seconds(5));
  EXPECT_EQ(ParseRawStatus(read.bytes), 200) << read.bytes;
  EXPECT_TRUE(read.closed) << "an HTTP/1.0 request without keep-alive left the connection open";
}

TEST_F(ApiTest, SaleClosedAfterItEnds) {
  SaleSpec sale = OpenSale("ending");
  sale.starts_at = FormatTime(system_clock::now() - std::chrono::hours(1));
  const auto ends_at = system_clock::now() + milliseconds(1500);
  sale.ends_at = FormatTime(ends_at);
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  const auto open = GetAvailability(client(), "ending");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, "OPEN");

  // Wait (bounded) until the clock passes ends_at and the server reports CLOSED.
  const auto deadline = std::chrono::steady_clock::now() + seconds(6);
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto availability = GetAvailability(client(), "ending");
    ASSERT_TRUE(availability);
    status = availability->status;
    if (status == "CLOSED") break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(status, "CLOSED");
  EXPECT_GE(system_clock::now(), ends_at);
  EXPECT_TRUE(
      IsError(Reserve(client(), ReserveRequest().Sku("ending").User("alice")), 409, "SALE_CLOSED"));
  EXPECT_TRUE(IsError(
      Reserve(client(), ReserveRequest().Sku("ending").User("alice").Via(ReserveRoute::kBody)), 409,
      "SALE_CLOSED"));
  EXPECT_TRUE(ReadSku("ending").rows.empty());
}

TEST_F(ApiTest, HealthReadinessAndMetrics) {
  const HttpResponse health = client().Get("/healthz");
  EXPECT_EQ(health.status, 200) << health.Describe();
  const HttpResponse ready = client().Get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.Describe();

  ASSERT_TRUE(CreateSaleOk(client(), OpenSale("metered", 5)));
  ASSERT_EQ(Reserve(client(), ReserveRequest().Sku("metered").User("alice")).status, 201);
  ASSERT_EQ(Reserve(client(), ReserveRequest().Sku("metered").User("alice")).status, 409);

  const HttpResponse metrics = client().Get("/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.Describe();
  EXPECT_NE(metrics.Header("Content-Type").value_or("").find("text/plain"), std::string::npos);
  const std::string& page = metrics.body;
  for (const char* name :
       {"flashsale_oversell_count", "flashsale_available", "flashsale_reserved_count",
        "flashsale_sold_count", "flashsale_queue_length", "flashsale_requests_total",
        "flashsale_reservation_latency_seconds_bucket", "flashsale_reservation_latency_seconds_sum",
        "flashsale_reservation_latency_seconds_count"}) {
    EXPECT_FALSE(MetricSamples(page, name).empty()) << "no samples of " << name << " in\n" << page;
  }
  EXPECT_NE(page.find("# TYPE flashsale_reservation_latency_seconds histogram"), std::string::npos);
  // No oversell, ever.
  for (const std::string& line : MetricSamples(page, "flashsale_oversell_count")) {
    EXPECT_TRUE(line.ends_with(" 0")) << line;
  }
  // Per-SKU gauges carry the SKU.
  bool available_for_sku = false;
  for (const std::string& line : MetricSamples(page, "flashsale_available")) {
    if (line.find("\"metered\"") != std::string::npos) {
      available_for_sku = true;
      EXPECT_TRUE(line.ends_with(" 4")) << line;
    }
  }
  EXPECT_TRUE(available_for_sku) << page;
  bool reserved_for_sku = false;
  for (const std::string& line : MetricSamples(page, "flashsale_reserved_count")) {
    if (line.find("\"metered\"") != std::string::npos) {
      reserved_for_sku = true;
      EXPECT_TRUE(line.ends_with(" 1")) << line;
    }
  }
  EXPECT_TRUE(reserved_for_sku) << page;
  // Requests are counted by route and code.
  bool counted_409 = false;
  for (const std::string& line : MetricSamples(page, "flashsale_requests_total")) {
    if (line.find("code=\"409\"") != std::string::npos) counted_409 = true;
  }
  EXPECT_TRUE(counted_409) << page;
  // Exactly one reservation succeeded, so exactly one reserve request is counted with 201.
  double reserve_201 = 0;
  for (const std::string& line : MetricSamples(page, "flashsale_requests_total")) {
    const bool reserve = line.find("reserve") != std::string::npos;
    if (reserve && line.find("code=\"201\"") != std::string::npos) {
      reserve_201 += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  EXPECT_EQ(reserve_201, 1.0) << page;
  // No client request is waiting; the payment worker and the outbox relay may have one or two
  // of their own polls in the writer's queue at any moment.
  for (const std::string& line : MetricSamples(page, "flashsale_queue_length")) {
    const double queued = std::stod(line.substr(line.rfind(' ') + 1));
    EXPECT_GE(queued, 0) << line;
    EXPECT_LE(queued, 4) << "idle server with a backlog: " << line;
  }
  // The method is a label; an unauthenticated reserve is rejected, outside the objective.
  EXPECT_EQ(client().Post("/api/v1/products/metered/reserve", "{\"quantity\":1}").status, 401);
  const std::string after = client().Get("/metrics").body;
  const std::vector<std::string> granted = MetricSamples(after, "flashsale_requests_total");
  EXPECT_NE(std::find(granted.begin(), granted.end(),
                      "flashsale_requests_total{method=\"POST\",route=\"/api/v1/products/{sku}/"
                      "reserve\",code=\"201\"} 1"),
            granted.end())
      << after;
  for (const char* line : {"flashsale_reserve_latency_seconds_count{outcome=\"granted\"} 1",
                           "flashsale_reserve_latency_seconds_count{outcome=\"refused\"} 1",
                           "flashsale_reserve_latency_seconds_count{outcome=\"rejected\"} 1",
                           "flashsale_reservation_latency_seconds_count 2"}) {
    EXPECT_NE(after.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << after;
  }
}

}  // namespace
}  // namespace fs::itest
