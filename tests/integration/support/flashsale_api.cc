#include "support/flashsale_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <thread>

#include "auth/jwt.h"
#include "base/time_format.h"
#include "support/server_process.h"

namespace fs::itest {

std::string MintToken(std::string_view user_id, std::chrono::seconds lifetime) {
  auth::Claims claims;
  claims.subject = std::string(user_id);
  claims.expires_at_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                  (std::chrono::system_clock::now() + lifetime).time_since_epoch())
                                  .count();
  return auth::SignHs256(claims, kJwtSecret);
}

HttpHeaders UserAuth(std::string_view user_id) {
  return {{"Authorization", "Bearer " + MintToken(user_id)}};
}

HttpHeaders UserAuthWithEmail(std::string_view user_id, std::string_view email) {
  auth::Claims claims;
  claims.subject = std::string(user_id);
  claims.email = std::string(email);
  claims.expires_at_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(
          (std::chrono::system_clock::now() + std::chrono::hours(1)).time_since_epoch())
          .count();
  return {{"Authorization", "Bearer " + auth::SignHs256(claims, kJwtSecret)}};
}

HttpHeaders AdminAuth() { return {{"Authorization", std::string("Bearer ") + kAdminToken}}; }

std::string CraftToken(std::string_view header_json, std::string_view payload_json,
                       std::string_view secret) {
  const std::string signing_input =
      auth::Base64UrlEncode(header_json) + "." + auth::Base64UrlEncode(payload_json);
  if (secret.empty()) return signing_input + ".";
  return signing_input + "." + auth::Base64UrlEncode(auth::HmacSha256(secret, signing_input));
}

std::string FormatTime(WallTime t) {
  return base::FormatRfc3339(std::chrono::time_point_cast<base::Millis>(t));
}

std::optional<WallTime> ParseTime(std::string_view text) {
  const std::optional<base::Time> parsed = base::ParseRfc3339(text);
  if (!parsed) return std::nullopt;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(parsed->time_since_epoch()));
}

std::int64_t ToUnixMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::optional<rapidjson::Document> ParseJson(std::string_view text) {
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  if (document.HasParseError()) return std::nullopt;
  return document;
}

std::string JsonQuote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> StringField(const rapidjson::Value& value, const char* field) {
  if (!value.IsObject()) return std::nullopt;
  const auto member = value.FindMember(field);
  if (member == value.MemberEnd() || !member->value.IsString()) return std::nullopt;
  return std::string(member->value.GetString(), member->value.GetStringLength());
}

std::optional<std::int64_t> IntField(const rapidjson::Value& value, const char* field) {
  if (!value.IsObject()) return std::nullopt;
  const auto member = value.FindMember(field);
  if (member == value.MemberEnd() || !member->value.IsInt64()) return std::nullopt;
  return member->value.GetInt64();
}

std::string BodyField(const HttpResponse& response, const char* field) {
  auto json = ParseJson(response.body);
  if (!json || !json->IsObject()) return "";
  return StringField(*json, field).value_or("");
}

std::string ErrorCode(const HttpResponse& response) {
  const std::optional<rapidjson::Document> document = ParseJson(response.body);
  if (!document || !document->IsObject()) return "";
  const auto error = document->FindMember("error");
  if (error == document->MemberEnd() || !error->value.IsObject()) return "";
  const std::optional<std::string> code = StringField(error->value, "code");
  const std::optional<std::string> message = StringField(error->value, "message");
  if (!code || !message) return "";
  return *code;
}

::testing::AssertionResult IsError(const HttpResponse& response, int status,
                                   std::string_view code) {
  if (response.status != status) {
    return ::testing::AssertionFailure()
           << "expected HTTP " << status << " " << code << ", got " << response.Describe();
  }
  const std::optional<rapidjson::Document> document = ParseJson(response.body);
  if (!document || !document->IsObject()) {
    return ::testing::AssertionFailure() << "error body is not a JSON object: " << response.body;
  }
  const auto error = document->FindMember("error");
  if (error == document->MemberEnd() || !error->value.IsObject()) {
    return ::testing::AssertionFailure() << "no \"error\" object in " << response.body;
  }
  const std::optional<std::string> actual_code = StringField(error->value, "code");
  const std::optional<std::string> message = StringField(error->value, "message");
  if (!actual_code || *actual_code != code) {
    return ::testing::AssertionFailure()
           << "expected error code " << code << " in " << response.body;
  }
  if (!message || message->empty()) {
    return ::testing::AssertionFailure() << "missing or empty error.message in " << response.body;
  }
  const std::optional<std::string> content_type = response.Header("Content-Type");
  if (!content_type || content_type->find("application/json") == std::string::npos) {
    return ::testing::AssertionFailure()
           << "error Content-Type is " << content_type.value_or("(none)")
           << ", expected application/json";
  }
  return ::testing::AssertionSuccess();
}

std::string SaleSpec::ToJson() const {
  std::string json = "{\"sku_id\":" + JsonQuote(sku_id) + ",\"name\":" + JsonQuote(name) +
                     ",\"price_cents\":" + std::to_string(price_cents) +
                     ",\"currency\":" + JsonQuote(currency) +
                     ",\"total_stock\":" + std::to_string(total_stock) +
                     ",\"per_user_limit\":" + std::to_string(per_user_limit) +
                     ",\"reservation_ttl_seconds\":" + std::to_string(reservation_ttl_seconds);
  if (starts_at) json += ",\"starts_at\":" + JsonQuote(*starts_at);
  if (ends_at) json += ",\"ends_at\":" + JsonQuote(*ends_at);
  json += "}";
  return json;
}

HttpResponse CreateSale(HttpClient& client, const SaleSpec& sale) {
  return client.Post("/admin/v1/skus", sale.ToJson(), AdminAuth());
}

SaleSpec BigSale(std::string sku_id) {
  SaleSpec sale;
  sale.sku_id = std::move(sku_id);
  sale.total_stock = 10'000;
  sale.per_user_limit = 1'000;
  return sale;
}

::testing::AssertionResult CreateSaleOk(HttpClient& client, const SaleSpec& sale) {
  const HttpResponse response = CreateSale(client, sale);
  if (response.status != 201) {
    return ::testing::AssertionFailure()
           << "creating sale " << sale.sku_id << ": expected 201, got " << response.Describe();
  }
  return ::testing::AssertionSuccess();
}

HttpResponse Reserve(HttpClient& client, const ReserveRequest& request) {
  std::string body = "{";
  std::string target;
  if (request.route == ReserveRoute::kProduct) {
    target = "/api/v1/products/" + request.sku_id + "/reserve";
  } else {
    target = "/api/v1/reserve";
    body += "\"sku_id\":" + JsonQuote(request.sku_id) + ",";
  }
  body += "\"quantity\":" + std::to_string(request.quantity);
  HttpHeaders headers = UserAuth(request.user_id);
  if (!request.idempotency_key.empty()) {
    if (request.key_placement == KeyPlacement::kHeader) {
      headers.push_back({"Idempotency-Key", request.idempotency_key});
    } else {
      body += ",\"idempotency_key\":" + JsonQuote(request.idempotency_key);
    }
  }
  body += "}";
  return client.Post(std::move(target), std::move(body), std::move(headers));
}

std::optional<ReservationBody> ParseReservation(std::string_view body) {
  const std::optional<rapidjson::Document> document = ParseJson(body);
  if (!document || !document->IsObject()) return std::nullopt;
  ReservationBody result;
  const auto id = StringField(*document, "reservation_id");
  const auto sku = StringField(*document, "sku_id");
  const auto user = StringField(*document, "user_id");
  const auto quantity = IntField(*document, "quantity");
  const auto status = StringField(*document, "status");
  const auto expires_at = StringField(*document, "expires_at");
  if (!id || !sku || !user || !quantity || !status || !expires_at) return std::nullopt;
  result.reservation_id = *id;
  result.sku_id = *sku;
  result.user_id = *user;
  result.quantity = *quantity;
  result.status = *status;
  result.expires_at = *expires_at;
  return result;
}

std::string ReservationStatusOf(const HttpResponse& response) {
  const std::optional<ReservationBody> body = ParseReservation(response.body);
  return body ? body->status : "";
}

std::string ReserveOk(HttpClient& client, const ReserveRequest& request) {
  const HttpResponse response = Reserve(client, request);
  EXPECT_EQ(response.status, 201) << response.Describe();
  const std::optional<ReservationBody> body = ParseReservation(response.body);
  return body ? body->reservation_id : "";
}

HttpResponse CheckoutReservation(HttpClient& client, std::string_view user_id,
                                 std::string_view reservation_id,
                                 std::string_view payment_method_id) {
  return client.Post("/api/v1/checkout",
                     "{\"reservation_id\":" + JsonQuote(reservation_id) +
                         ",\"payment_method_id\":" + JsonQuote(payment_method_id) + "}",
                     UserAuth(user_id));
}

std::string SettledOrderStatus(HttpClient& client, std::string_view order_id,
                               std::string_view user_id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string target = "/api/v1/orders/" + std::string(order_id);
  std::string status = BodyField(client.Get(target, UserAuth(user_id)), "status");
  while (status == "PENDING" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    status = BodyField(client.Get(target, UserAuth(user_id)), "status");
  }
  if (status == "PENDING") ADD_FAILURE() << "order " << order_id << " still PENDING";
  return status;
}

HttpResponse GetReservation(HttpClient& client, std::string_view reservation_id,
                            std::string_view user_id) {
  return client.Get("/api/v1/reservations/" + std::string(reservation_id), UserAuth(user_id));
}

HttpResponse ReleaseReservation(HttpClient& client, std::string_view reservation_id,
                                std::string_view user_id) {
  return client.Delete("/api/v1/reservations/" + std::string(reservation_id), UserAuth(user_id));
}

std::optional<Availability> GetAvailability(HttpClient& client, std::string_view sku_id) {
  const HttpResponse response =
      client.Get("/api/v1/products/" + std::string(sku_id) + "/availability");
  if (response.status != 200) return std::nullopt;
  const std::optional<rapidjson::Document> document = ParseJson(response.body);
  if (!document) return std::nullopt;
  const auto sku = StringField(*document, "sku_id");
  const auto available = IntField(*document, "available");
  const auto status = StringField(*document, "status");
  if (!sku || !available || !status) return std::nullopt;
  return Availability{*sku, *available, *status};
}

std::int64_t AvailableUnits(HttpClient& client, std::string_view sku_id) {
  const std::optional<Availability> availability = GetAvailability(client, sku_id);
  return availability ? availability->available : -1;
}

std::optional<AdminCounters> GetAdminCounters(HttpClient& client, std::string_view sku_id) {
  const HttpResponse response = client.Get("/admin/v1/skus/" + std::string(sku_id), AdminAuth());
  if (response.status != 200) return std::nullopt;
  const std::optional<rapidjson::Document> document = ParseJson(response.body);
  if (!document) return std::nullopt;
  const auto total = IntField(*document, "total_stock");
  const auto available = IntField(*document, "available");
  const auto reserved = IntField(*document, "reserved");
  const auto sold = IntField(*document, "sold");
  const auto status = StringField(*document, "status");
  if (!total || !available || !reserved || !sold || !status) return std::nullopt;
  return AdminCounters{*total, *available, *reserved, *sold, *status};
}

std::vector<rapidjson::Document> AuditEvents(HttpClient& client, const std::string& filter,
                                             int limit) {
  std::vector<rapidjson::Document> events;
  std::int64_t after = 0;
  for (int page = 0; page < 1000; ++page) {
    const HttpResponse response =
        client.Get("/admin/v1/audit?" + filter + "&limit=" + std::to_string(limit) +
                       "&after_id=" + std::to_string(after),
                   AdminAuth());
    EXPECT_EQ(response.status, 200) << response.Describe();
    auto body = ParseJson(response.body);
    if (response.status != 200 || !body) break;
    for (auto& event : (*body)["events"].GetArray()) {
      rapidjson::Document copy;
      copy.CopyFrom(event, copy.GetAllocator());
      events.push_back(std::move(copy));
    }
    if ((*body)["next_after_id"].IsNull()) break;
    after = (*body)["next_after_id"].GetInt64();
  }
  return events;
}

std::vector<std::string> MetricSamples(const std::string& page, std::string_view metric) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < page.size()) {
    std::size_t end = page.find('\n', begin);
    if (end == std::string::npos) end = page.size();
    const std::string_view line(page.data() + begin, end - begin);
    const bool match = line.starts_with(metric) && line.size() > metric.size() &&
                       (line[metric.size()] == ' ' || line[metric.size()] == '{');
    if (match) lines.emplace_back(line);
    begin = end + 1;
  }
  return lines;
}

bool ServerAlive(std::uint16_t port) {
  HttpClient client(port);
  return client.Get("/healthz").status == 200;
}

}  // namespace fs::itest
