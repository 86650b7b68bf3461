#include "http/json_render.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>

#include "base/time_format.h"

namespace fs::http {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void String(JsonWriter& writer, std::string_view value) {
  writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Field(JsonWriter& writer, std::string_view key, std::string_view value) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  String(writer, value);
}

void Field(JsonWriter& writer, std::string_view key, std::int64_t value) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  writer.Int64(value);
}

void TimeField(JsonWriter& writer, std::string_view key, const std::optional<base::Time>& at) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (at) {
    String(writer, base::FormatRfc3339(*at));
  } else {
    writer.Null();
  }
}

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The fields the public and admin views share, in the order clients see them.
void SaleFields(JsonWriter& writer, const core::Sale& sale) {
  Field(writer, "sku_id", sale.sku_id);
  Field(writer, "name", sale.name);
  Field(writer, "price_cents", sale.price_cents);
  Field(writer, "currency", sale.currency);
  Field(writer, "total_stock", sale.total_stock);
  Field(writer, "per_user_limit", sale.per_user_limit);
  Field(writer, "reservation_ttl_seconds", sale.reservation_ttl_seconds);
  TimeField(writer, "starts_at", sale.starts_at);
  TimeField(writer, "ends_at", sale.ends_at);
  writer.Key("waiting_room");
  writer.Bool(sale.waiting_room == core::WaitingRoomMode::kOn);
  // The details: null (or []) when not set.
  const auto nullable = [&writer](std::string_view key, const std::string& value) {
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    if (value.empty()) {
      writer.Null();
    } else {
      String(writer, value);
    }
  };
  nullable("description", sale.details.description);
  nullable("image_url", sale.details.image_url);
  nullable("category", sale.details.category);
  writer.Key("tags");
  writer.StartArray();
  for (const std::string& tag : sale.details.tags) String(writer, tag);
  writer.EndArray();
}

void OptionalIntField(JsonWriter& writer, std::string_view key,
                      const std::optional<std::int64_t>& value) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (value) {
    writer.Int64(*value);
  } else {
    writer.Null();
  }
}

}  // namespace

std::string RenderReservation(const core::Reservation& reservation) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "reservation_id", reservation.reservation_id);
  Field(writer, "sku_id", reservation.sku_id);
  Field(writer, "user_id", reservation.user_id);
  Field(writer, "quantity", reservation.quantity);
  Field(writer, "status", core::ReservationStatusName(reservation.status));
  TimeField(writer, "expires_at", reservation.expires_at);
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderQueueTicket(const core::TicketView& view, const std::string* pass) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "ticket", view.ticket.ticket_id);
  Field(writer, "sku_id", view.ticket.sku_id);
  Field(writer, "status", core::TicketStatusName(view.status));
  OptionalIntField(writer, "position", view.position);
  OptionalIntField(writer, "estimated_wait_seconds", view.estimated_wait_seconds);
  OptionalIntField(
      writer, "poll_after_ms",
      view.poll_after ? std::optional<std::int64_t>(view.poll_after->count()) : std::nullopt);
  TimeField(writer, "joined_at", view.ticket.joined_at);
  if (pass != nullptr) {
    Field(writer, "pass", *pass);
    TimeField(writer, "pass_expires_at", view.ticket.pass_expires_at);
  }
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderError(std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("error");
  writer.StartObject();
  Field(writer, "code", code);
  Field(writer, "message", message);
  writer.EndObject();
  writer.EndObject();
  return Finish(buffer);
}

std::string WithErrorRequestId(std::string body, std::string_view request_id) {
  // RenderError's shape: one flat object inside "error", so its end is the body's last "}}".
  constexpr std::string_view kStart = "{\"error\":{";
  constexpr std::string_view kEnd = "}}";
  if (!body.starts_with(kStart) || !body.ends_with(kEnd)) return body;
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  String(writer, request_id);
  std::string field = ",\"request_id\":";
  field.append(buffer.GetString(), buffer.GetSize());
  body.insert(body.size() - kEnd.size(), field);
  return body;
}

std::string RenderPublicSale(const core::Sale& sale, const core::StockCounters& counters,
                             core::SaleStatus status) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  SaleFields(writer, sale);
  Field(writer, "available", counters.available());
  Field(writer, "status", core::SaleStatusName(status));
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderAdminSale(const core::Sale& sale, const core::StockCounters& counters,
                            core::SaleStatus status) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  SaleFields(writer, sale);
  Field(writer, "available", counters.available());
  Field(writer, "reserved", counters.held);
  Field(writer, "sold", counters.sold);
  Field(writer, "status", core::SaleStatusName(status));
  TimeField(writer, "created_at", sale.created_at);
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderAvailability(std::string_view sku_id, std::int64_t available,
                               core::SaleStatus status) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "sku_id", sku_id);
  Field(writer, "available", available);
  Field(writer, "status", core::SaleStatusName(status));
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderStatusBody(std::string_view status) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "status", status);
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderStatusError(std::string_view status, std::string_view code,
                              std::string_view message, std::string_view request_id) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "status", status);
  writer.Key("error");
  writer.StartObject();
  Field(writer, "code", code);
  Field(writer, "message", message);
  Field(writer, "request_id", request_id);
  writer.EndObject();
  writer.EndObject();
  return Finish(buffer);
}

}  // namespace fs::http

namespace fs::http {
namespace {

void OrderFields(JsonWriter& writer, const core::Order& order) {
  Field(writer, "order_id", order.order_id);
  Field(writer, "reservation_id", order.reservation_id);
  Field(writer, "sku_id", order.sku_id);
  Field(writer, "status", core::OrderStatusName(order.status));
  Field(writer, "amount_cents", order.amount_cents);
  Field(writer, "currency", order.currency);
  writer.Key("failure_reason");
  if (order.failure_reason.empty()) {
    writer.Null();
  } else {
    String(writer, order.failure_reason);
  }
}

void AdminOrderObject(JsonWriter& writer, const core::Order& order) {
  writer.StartObject();
  OrderFields(writer, order);
  Field(writer, "user_id", order.user_id);
  Field(writer, "quantity", order.quantity);
  Field(writer, "payment_method_id", order.payment_method_id);
  Field(writer, "attempts", order.attempts);
  TimeField(writer, "created_at", order.created_at);
  TimeField(writer, "updated_at", order.updated_at);
  writer.EndObject();
}

}  // namespace

std::string RenderCheckout(const core::Order& order) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "order_id", order.order_id);
  Field(writer, "reservation_id", order.reservation_id);
  Field(writer, "status", core::OrderStatusName(order.status));
  Field(writer, "amount_cents", order.amount_cents);
  Field(writer, "currency", order.currency);
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderOrder(const core::Order& order) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  OrderFields(writer, order);
  writer.EndObject();
  return Finish(buffer);
}

std::string RenderAdminOrder(const core::Order& order) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  AdminOrderObject(writer, order);
  return Finish(buffer);
}

std::string RenderAdminOrders(const std::vector<core::Order>& orders) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("orders");
  writer.StartArray();
  for (const core::Order& order : orders) AdminOrderObject(writer, order);
  writer.EndArray();
  writer.EndObject();
  return Finish(buffer);
}

}  // namespace fs::http
