#include "app/admin_cli.h"

#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "app/tools.h"
#include "core/audit.h"

namespace fs::app {
namespace {

using net::HttpMethod;

// One call's deadline: reconcile and audit verify walk the whole audit chain on the node,
// seconds for millions of events; anything slower is a node in trouble.
constexpr std::chrono::milliseconds kCallTimeout{60'000};
// The largest answer kept: GET /admin/v1/orders lists up to 1,000 orders of ~400 bytes; the
// rest of the admin answers are a few KiB.
constexpr std::size_t kReplyBytesMax = 8 * 1024 * 1024;

using net::PercentEncode;

// The JSON body of POST /admin/v1/skus: the flags given, nothing else.
std::string CreateSaleBody(const std::string& sku_id, const SaleDraft& sale) {
  std::string body = "{\"sku_id\":" + core::JsonQuote(sku_id);
  const auto text = [&body](const char* key, const std::string& value) {
    body += ",\"" + std::string(key) + "\":" + core::JsonQuote(value);
  };
  const auto number = [&body](const char* key, std::int64_t value) {
    body += ",\"" + std::string(key) + "\":" + std::to_string(value);
  };
  text("name", sale.name);
  number("price_cents", sale.price_cents);
  text("currency", sale.currency);
  number("total_stock", sale.total_stock);
  if (sale.per_user_limit) number("per_user_limit", *sale.per_user_limit);
  if (sale.reservation_ttl_seconds)
    number("reservation_ttl_seconds", *sale.reservation_ttl_seconds);
  if (sale.starts_at) text("starts_at", *sale.starts_at);
  if (sale.ends_at) text("ends_at", *sale.ends_at);
  if (sale.waiting_room) body += ",\"waiting_room\":true";
  if (sale.description) text("description", *sale.description);
  if (sale.image_url) text("image_url", *sale.image_url);
  if (sale.category) text("category", *sale.category);
  if (!sale.tags.empty()) {
    body += ",\"tags\":[";
    for (std::size_t i = 0; i < sale.tags.size(); ++i) {
      if (i > 0) body += ',';
      body += core::JsonQuote(sale.tags[i]);
    }
    body += ']';
  }
  return body + "}";
}

// A member as text: strings as they are, numbers and booleans as written, absent or null "-".
std::string Field(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return "-";
  const auto member = object.FindMember(key);
  if (member == object.MemberEnd() || member->value.IsNull()) return "-";
  const rapidjson::Value& value = member->value;
  if (value.IsString()) return {value.GetString(), value.GetStringLength()};
  if (value.IsBool()) return value.GetBool() ? "true" : "false";
  if (value.IsInt64()) return std::to_string(value.GetInt64());
  if (value.IsNumber()) return std::to_string(value.GetDouble());
  return "-";
}

bool IsTrue(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return false;
  const auto member = object.FindMember(key);
  return member != object.MemberEnd() && member->value.IsBool() && member->value.GetBool();
}

std::string RenderSale(const rapidjson::Value& sale) {
  std::string out;
  out += "sku        " + Field(sale, "sku_id") + "\n";
  out += "name       " + Field(sale, "name") + "\n";
  out += "status     " + Field(sale, "status") + "\n";
  out += "price      " + Field(sale, "price_cents") + " cents " + Field(sale, "currency") + "\n";
  out += "stock      total " + Field(sale, "total_stock");
  if (sale.HasMember("available")) {
    out += ", available " + Field(sale, "available") + ", reserved " + Field(sale, "reserved") +
           ", sold " + Field(sale, "sold");
  }
  out += "\n";
  out += "per user   " + Field(sale, "per_user_limit") + "\n";
  out += "starts_at  " + Field(sale, "starts_at") + "\n";
  out += "ends_at    " + Field(sale, "ends_at") + "\n";
  return out;
}

std::string RenderOrders(const rapidjson::Value& answer) {
  char line[512];
  std::snprintf(line, sizeof(line), "%-36s %-20s %-20s %4s %12s %-16s %8s  %s\n", "order_id", "sku",
                "user", "qty", "amount", "status", "attempts", "failure");
  std::string out = line;
  std::size_t count = 0;
  const auto orders = answer.FindMember("orders");
  if (orders != answer.MemberEnd() && orders->value.IsArray()) {
    for (const rapidjson::Value& order : orders->value.GetArray()) {
      const std::string amount = Field(order, "amount_cents") + " " + Field(order, "currency");
      std::snprintf(line, sizeof(line), "%-36s %-20s %-20s %4s %12s %-16s %8s  %s\n",
                    Field(order, "order_id").c_str(), Field(order, "sku_id").c_str(),
                    Field(order, "user_id").c_str(), Field(order, "quantity").c_str(),
                    amount.c_str(), Field(order, "status").c_str(),
                    Field(order, "attempts").c_str(), Field(order, "failure_reason").c_str());
      out += line;
      ++count;
    }
  }
  return out + std::to_string(count) + (count == 1 ? " order\n" : " orders\n");
}

std::string RenderVerification(const rapidjson::Value& audit) {
  if (IsTrue(audit, "valid")) {
    const auto head = audit.FindMember("head");
    const bool has_head = head != audit.MemberEnd();
    return "audit chain: valid, " + Field(audit, "events") + " events, head " +
           (has_head ? Field(head->value, "event_id") + " " + Field(head->value, "event_hash")
                     : std::string("-")) +
           "\n";
  }
  return "audit chain: BROKEN at event " + Field(audit, "broken_event_id") + ": " +
         Field(audit, "reason") + "\n";
}

std::string RenderReconciliation(const rapidjson::Value& answer) {
  std::string out = "sku          " + Field(answer, "sku_id") + "\n";
  out += "total_stock  " + Field(answer, "total_stock") + "\n";
  const auto part = [&answer](const char* key) -> const rapidjson::Value& {
    static const rapidjson::Value kNull;
    const auto member = answer.FindMember(key);
    return member == answer.MemberEnd() ? kNull : member->value;
  };
  out += "held         counter " + Field(part("counters"), "held") + ", rows " +
         Field(part("recounted"), "held") + "\n";
  out += "sold         counter " + Field(part("counters"), "sold") + ", rows " +
         Field(part("recounted"), "sold") + ", paid orders " + Field(part("orders"), "paid_units") +
         "\n";
  out += "oversell     " + Field(answer, "oversell") + "\n";
  out += RenderVerification(part("audit"));
  const rapidjson::Value& mismatches = part("mismatches");
  if (mismatches.IsArray()) {
    for (const rapidjson::Value& mismatch : mismatches.GetArray()) {
      if (mismatch.IsString()) out += "mismatch: " + std::string(mismatch.GetString()) + "\n";
    }
  }
  out += IsTrue(answer, "consistent") ? "result: consistent\n" : "result: NOT consistent\n";
  return out;
}

// What the command prints for a successful answer.
std::string RenderAnswer(AdminCommand command, const rapidjson::Value& answer) {
  switch (command) {
    case AdminCommand::kSalesCreate:
    case AdminCommand::kSalesShow:
    case AdminCommand::kSalesOpen:
    case AdminCommand::kSalesClose:
    case AdminCommand::kSalesStock:
      return RenderSale(answer);
    case AdminCommand::kOrdersList:
      return RenderOrders(answer);
    case AdminCommand::kOrdersResolve:
      return "order " + Field(answer, "order_id") + ": " + Field(answer, "status") + "\n";
    case AdminCommand::kReconcile:
      return RenderReconciliation(answer);
    case AdminCommand::kAuditVerify:
      return RenderVerification(answer);
  }
  return {};
}

// Whether the answer is a check that failed: books that do not balance, a broken chain.
bool CheckFailed(AdminCommand command, const rapidjson::Value& answer) {
  if (command == AdminCommand::kReconcile) return !IsTrue(answer, "consistent");
  if (command == AdminCommand::kAuditVerify) return !IsTrue(answer, "valid");
  return false;
}

// A refusal on stderr: the status and the API's error code and message when it sent them.
void ReportRefusal(const net::HttpReply& reply) {
  rapidjson::Document document;
  document.Parse(reply.body.data(), reply.body.size());
  std::string reason = "(no error body)";
  if (!document.HasParseError() && document.IsObject() && document.HasMember("error")) {
    const rapidjson::Value& error = document["error"];
    reason = Field(error, "code") + ": " + Field(error, "message");
  }
  std::cerr << "flashsale admin: the server refused the request: HTTP " << reply.status << " "
            << reason << "\n";
}

}  // namespace

AdminCall AdminCallOf(const AdminConfig& config) {
  const std::string sale = "/admin/v1/skus/" + PercentEncode(config.sku_id);
  switch (config.command) {
    case AdminCommand::kSalesCreate:
      return {HttpMethod::kPost, "/admin/v1/skus", CreateSaleBody(config.sku_id, config.sale)};
    case AdminCommand::kSalesShow:
      return {HttpMethod::kGet, sale, ""};
    case AdminCommand::kSalesOpen:
      return {HttpMethod::kPost, sale + "/open", ""};
    case AdminCommand::kSalesClose:
      return {HttpMethod::kPost, sale + "/close", ""};
    case AdminCommand::kSalesStock:
      return {HttpMethod::kPost, sale + "/stock",
              "{\"delta\":" + std::to_string(config.stock_delta) + "}"};
    case AdminCommand::kOrdersList:
      return {HttpMethod::kGet, "/admin/v1/orders?status=" + PercentEncode(config.order_status),
              ""};
    case AdminCommand::kOrdersResolve:
      return {HttpMethod::kPost, "/admin/v1/orders/" + PercentEncode(config.order_id) + "/resolve",
              "{\"outcome\":" + core::JsonQuote(config.resolve_outcome) + "}"};
    case AdminCommand::kReconcile:
      return {HttpMethod::kGet, sale + "/reconciliation", ""};
    case AdminCommand::kAuditVerify:
      return {HttpMethod::kGet, "/admin/v1/audit/verify", ""};
  }
  return {};
}

int RunAdmin(const AdminConfig& config) {
  const AdminCall call = AdminCallOf(config);
  net::HttpRequest request;
  request.method = call.method;
  request.url = config.url + call.path;
  request.content_type = "application/json";
  request.body = call.body;
  request.headers = {{"Authorization", "Bearer " + config.admin_token},
                     {"Accept", "application/json"}};
  request.timeout = kCallTimeout;
  request.reply_bytes_max = kReplyBytesMax;
  auto reply = net::HttpSend(request);
  if (!reply) {
    std::cerr << "flashsale admin: " << reply.error().message() << "\n";
    return kExitRuntimeError;
  }
  if (reply->status >= 400) {
    ReportRefusal(*reply);
    return kExitRefused;
  }
  rapidjson::Document answer;
  answer.Parse(reply->body.data(), reply->body.size());
  if (reply->truncated || answer.HasParseError() || !answer.IsObject()) {
    std::cerr << "flashsale admin: " << call.path << ": HTTP " << reply->status
              << " with an answer that is not a JSON object\n";
    return kExitRuntimeError;
  }
  if (config.format == OutputFormat::kJson) {
    std::cout << reply->body << "\n";
  } else {
    std::cout << RenderAnswer(config.command, answer);
  }
  std::cout.flush();
  return CheckFailed(config.command, answer) ? kExitCheckFailed : 0;
}

}  // namespace fs::app
